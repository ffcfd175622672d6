/* kvpack.cu — gather a paged KV cache into one send buffer and scatter it
 * back (see kvw_kernels.h).  Grid (seq_blocks, layers): each thread block
 * moves one KV block (block_tokens x bytes per token and layer) in 16-byte
 * elements.  Block sizes are multiples of 16 bytes. */
#include "kvw_kernels.h"
#include "pattern.cuh"

#define THREADS 256

__global__ void pack_k(uint4 *__restrict__ send, const uint4 *__restrict__ pool, const int *__restrict__ table,
                       int seq_blocks, int pool_blocks, size_t elems)
{
	int j = blockIdx.x, l = blockIdx.y;
	const uint4 *src = pool + ((size_t)l * pool_blocks + table[j]) * elems;
	uint4 *dst = send + ((size_t)l * seq_blocks + j) * elems;
	for (size_t e = threadIdx.x; e < elems; e += THREADS)
		dst[e] = src[e];
}

__global__ void unpack_k(uint4 *__restrict__ pool, const uint4 *__restrict__ send, const int *__restrict__ table,
                         int seq_blocks, int pool_blocks, size_t elems)
{
	int j = blockIdx.x, l = blockIdx.y;
	const uint4 *src = send + ((size_t)l * seq_blocks + j) * elems;
	uint4 *dst = pool + ((size_t)l * pool_blocks + table[j]) * elems;
	for (size_t e = threadIdx.x; e < elems; e += THREADS)
		dst[e] = src[e];
}

/* in_send: check send[l][j] (else pool[l][table[j]]) against pattern(seed) of pool[l][table[j]] */
__global__ void check_k(const uint4 *buf, const int *table, int seq_blocks, int pool_blocks, size_t elems,
                        unsigned seed, int in_send, unsigned long long *wrong)
{
	int j = blockIdx.x, l = blockIdx.y;
	size_t pool_base = ((size_t)l * pool_blocks + table[j]) * elems;
	size_t base = in_send ? ((size_t)l * seq_blocks + j) * elems : pool_base;
	unsigned long long bad = 0;
	for (size_t e = threadIdx.x; e < elems; e += THREADS)
		bad += !kvw_eq4(buf[base + e], kvw_pattern(seed, pool_base + e));
	if (bad)
		atomicAdd(wrong, bad);
}

extern "C" cudaError_t kvw_kv_pack(void *send, const void *pool, const int *table, int layers, int seq_blocks,
                                   int pool_blocks, size_t block_bytes, cudaStream_t s)
{
	pack_k<<<dim3(seq_blocks, layers), THREADS, 0, s>>>((uint4 *)send, (const uint4 *)pool, table, seq_blocks,
	                                                    pool_blocks, block_bytes / 16);
	return cudaGetLastError();
}

extern "C" cudaError_t kvw_kv_unpack(void *pool, const void *send, const int *table, int layers, int seq_blocks,
                                     int pool_blocks, size_t block_bytes, cudaStream_t s)
{
	unpack_k<<<dim3(seq_blocks, layers), THREADS, 0, s>>>((uint4 *)pool, (const uint4 *)send, table, seq_blocks,
	                                                      pool_blocks, block_bytes / 16);
	return cudaGetLastError();
}

extern "C" cudaError_t kvw_kv_check_send(const void *send, const int *table, int layers, int seq_blocks,
                                         int pool_blocks, size_t block_bytes, unsigned seed,
                                         unsigned long long *wrong, cudaStream_t s)
{
	check_k<<<dim3(seq_blocks, layers), THREADS, 0, s>>>((const uint4 *)send, table, seq_blocks, pool_blocks,
	                                                     block_bytes / 16, seed, 1, wrong);
	return cudaGetLastError();
}

extern "C" cudaError_t kvw_kv_check_pool(const void *pool, const int *table, int layers, int seq_blocks,
                                         int pool_blocks, size_t block_bytes, unsigned seed,
                                         unsigned long long *wrong, cudaStream_t s)
{
	check_k<<<dim3(seq_blocks, layers), THREADS, 0, s>>>((const uint4 *)pool, table, seq_blocks, pool_blocks,
	                                                     block_bytes / 16, seed, 0, wrong);
	return cudaGetLastError();
}
