/* hbm.cu — HBM stream kernels (see kvw_kernels.h).
 *
 * Variants: copy (a = b), read (xor-reduce b), write (a = pattern), triad
 * (a = b + 3 c).  Each thread handles UNROLL 16-byte elements per step of a
 * grid-stride loop, issuing all loads before any store so that enough
 * independent requests are in flight to cover HBM latency.  The grid is
 * one full wave: SMs x resident blocks per SM.
 */
#include "kvw_kernels.h"
#include "pattern.cuh"

#define THREADS 256
#define UNROLL 4

static __device__ __forceinline__ uint4 triad4(uint4 b, uint4 c)
{
	return make_uint4(b.x + 3u * c.x, b.y + 3u * c.y, b.z + 3u * c.z, b.w + 3u * c.w);
}

__global__ void __launch_bounds__(THREADS) copy_k(uint4 *__restrict__ a, const uint4 *__restrict__ b, size_t n)
{
	size_t stride = (size_t)gridDim.x * THREADS * UNROLL;
	size_t i = (size_t)blockIdx.x * THREADS * UNROLL + threadIdx.x;
	for (; i + (UNROLL - 1) * THREADS < n; i += stride) {
		uint4 v[UNROLL];
#pragma unroll
		for (int u = 0; u < UNROLL; u++)
			v[u] = __ldcs(&b[i + u * THREADS]);
#pragma unroll
		for (int u = 0; u < UNROLL; u++)
			__stcs(&a[i + u * THREADS], v[u]);
	}
	for (; i < n; i += THREADS) /* tail: at most UNROLL - 1 strides of this thread */
		a[i] = b[i];
}

__global__ void __launch_bounds__(THREADS) read_k(const uint4 *__restrict__ b, size_t n, unsigned *xor_out)
{
	size_t stride = (size_t)gridDim.x * THREADS * UNROLL;
	size_t i = (size_t)blockIdx.x * THREADS * UNROLL + threadIdx.x;
	unsigned acc = 0;
	for (; i + (UNROLL - 1) * THREADS < n; i += stride) {
		uint4 v[UNROLL];
#pragma unroll
		for (int u = 0; u < UNROLL; u++)
			v[u] = __ldcs(&b[i + u * THREADS]);
#pragma unroll
		for (int u = 0; u < UNROLL; u++)
			acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
	}
	for (; i < n; i += THREADS) {
		uint4 v = b[i];
		acc ^= v.x ^ v.y ^ v.z ^ v.w;
	}
	for (int o = 16; o > 0; o >>= 1)
		acc ^= __shfl_xor_sync(0xffffffffu, acc, o);
	if ((threadIdx.x & 31) == 0)
		atomicXor(xor_out, acc);
}

__global__ void __launch_bounds__(THREADS) write_k(uint4 *__restrict__ a, size_t n, unsigned seed)
{
	size_t stride = (size_t)gridDim.x * THREADS * UNROLL;
	size_t i = (size_t)blockIdx.x * THREADS * UNROLL + threadIdx.x;
	for (; i + (UNROLL - 1) * THREADS < n; i += stride)
#pragma unroll
		for (int u = 0; u < UNROLL; u++)
			__stcs(&a[i + u * THREADS], kvw_pattern(seed, i + u * THREADS));
	for (; i < n; i += THREADS)
		a[i] = kvw_pattern(seed, i);
}

__global__ void __launch_bounds__(THREADS) triad_k(uint4 *__restrict__ a, const uint4 *__restrict__ b,
                                                   const uint4 *__restrict__ c, size_t n)
{
	size_t stride = (size_t)gridDim.x * THREADS * UNROLL;
	size_t i = (size_t)blockIdx.x * THREADS * UNROLL + threadIdx.x;
	for (; i + (UNROLL - 1) * THREADS < n; i += stride) {
		uint4 vb[UNROLL], vc[UNROLL];
#pragma unroll
		for (int u = 0; u < UNROLL; u++) {
			vb[u] = __ldcs(&b[i + u * THREADS]);
			vc[u] = __ldcs(&c[i + u * THREADS]);
		}
#pragma unroll
		for (int u = 0; u < UNROLL; u++)
			__stcs(&a[i + u * THREADS], triad4(vb[u], vc[u]));
	}
	for (; i < n; i += THREADS)
		a[i] = triad4(b[i], c[i]);
}

__global__ void fill_k(uint4 *a, size_t n, unsigned seed)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		a[i] = kvw_pattern(seed, i);
}

__global__ void check_k(int op, const uint4 *a, size_t n, unsigned sb, unsigned sc, unsigned long long *wrong)
{
	unsigned long long bad = 0;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		uint4 want = op == KVW_HBM_TRIAD ? triad4(kvw_pattern(sb, i), kvw_pattern(sc, i)) : kvw_pattern(sb, i);
		bad += !kvw_eq4(a[i], want);
	}
	if (bad)
		atomicAdd(wrong, bad);
}

extern "C" int kvw_hbm_traffic(kvw_hbm_op op)
{
	switch (op) {
	case KVW_HBM_COPY: return 32;
	case KVW_HBM_TRIAD: return 48;
	default: return 16;
	}
}

extern "C" int kvw_hbm_blocks(void)
{
	int dev = 0, sms = 0, per_sm = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
	cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, copy_k, THREADS, 0);
	return sms * (per_sm > 0 ? per_sm : 1);
}

extern "C" cudaError_t kvw_hbm_fill(void *a, size_t n, unsigned seed, cudaStream_t s)
{
	fill_k<<<kvw_hbm_blocks(), THREADS, 0, s>>>((uint4 *)a, n, seed);
	return cudaGetLastError();
}

extern "C" cudaError_t kvw_hbm_run(kvw_hbm_op op, void *a, const void *b, const void *c, size_t n, unsigned seed,
                                   unsigned *xor_out, int blocks, cudaStream_t s)
{
	if (blocks <= 0)
		blocks = kvw_hbm_blocks();
	switch (op) {
	case KVW_HBM_COPY: copy_k<<<blocks, THREADS, 0, s>>>((uint4 *)a, (const uint4 *)b, n); break;
	case KVW_HBM_READ: read_k<<<blocks, THREADS, 0, s>>>((const uint4 *)b, n, xor_out); break;
	case KVW_HBM_WRITE: write_k<<<blocks, THREADS, 0, s>>>((uint4 *)a, n, seed); break;
	case KVW_HBM_TRIAD: triad_k<<<blocks, THREADS, 0, s>>>((uint4 *)a, (const uint4 *)b, (const uint4 *)c, n); break;
	}
	return cudaGetLastError();
}

extern "C" cudaError_t kvw_hbm_check(kvw_hbm_op op, const void *a, size_t n, unsigned seed_b, unsigned seed_c,
                                     unsigned long long *wrong, cudaStream_t s)
{
	check_k<<<kvw_hbm_blocks(), THREADS, 0, s>>>((int)op, (const uint4 *)a, n, seed_b, seed_c, wrong);
	return cudaGetLastError();
}

extern "C" unsigned kvw_hbm_expected_xor(size_t n, unsigned seed)
{
	unsigned acc = 0;
	for (size_t i = 0; i < n; i++) {
		uint4 v = kvw_pattern(seed, i);
		acc ^= v.x ^ v.y ^ v.z ^ v.w;
	}
	return acc;
}

extern "C" void kvw_pattern_fill_host(void *p, size_t n, unsigned seed)
{
	uint4 *a = (uint4 *)p;
	for (size_t i = 0; i < n; i++)
		a[i] = kvw_pattern(seed, i);
}

extern "C" unsigned long long kvw_pattern_check_host(const void *p, size_t n, unsigned seed)
{
	const uint4 *a = (const uint4 *)p;
	unsigned long long bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += !kvw_eq4(a[i], kvw_pattern(seed, i));
	return bad;
}
