/* layer.cu — the element-wise parts of a transformer layer, for the whole
 * layers kvwall validate runs (the GEMMs are cuBLASLt, attention is
 * attention.cu).  bf16 tensors, fp32 arithmetic, rows of T tokens.
 *
 *   rmsnorm     y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * gamma
 *   qkv_split   the fused QKV GEMM output [T][(H + 2 Kh) d] -> Q [T][H][d],
 *               and K, V [T][Kh][d] written into a KV cache slot; Q and K
 *               rotated by RoPE (rotate-half pairs (i, i + d/2), angle
 *               t * theta^(-2i/d))
 *   silu_mul    act[t][i] = silu(gate[t][i]) * up[t][i] with the gate+up
 *               GEMM output [T][2I] = [gate | up]
 *   add         x += y (the residual)
 */
#include <cuda_bf16.h>

#include "kvw_kernels.h"

__global__ void rmsnorm_k(const __nv_bfloat16 *x, const __nv_bfloat16 *gamma, __nv_bfloat16 *y, long h, float eps)
{
	const __nv_bfloat16 *row = x + (size_t)blockIdx.x * h;
	__nv_bfloat16 *out = y + (size_t)blockIdx.x * h;
	float ss = 0;
	for (long i = threadIdx.x; i < h; i += blockDim.x) {
		float v = __bfloat162float(row[i]);
		ss += v * v;
	}
	__shared__ float part[32];
	for (int o = 16; o > 0; o >>= 1)
		ss += __shfl_xor_sync(0xffffffffu, ss, o);
	if ((threadIdx.x & 31) == 0)
		part[threadIdx.x >> 5] = ss;
	__syncthreads();
	if (threadIdx.x < 32) {
		ss = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0;
		for (int o = 16; o > 0; o >>= 1)
			ss += __shfl_xor_sync(0xffffffffu, ss, o);
		if (threadIdx.x == 0)
			part[0] = ss;
	}
	__syncthreads();
	float inv = rsqrtf(part[0] / (float)h + eps);
	for (long i = threadIdx.x; i < h; i += blockDim.x)
		out[i] = __float2bfloat16(__bfloat162float(row[i]) * inv * __bfloat162float(gamma[i]));
}

extern "C" cudaError_t kvw_rmsnorm(const void *x, const void *gamma, void *y, long tokens, long hidden, float eps,
                                   cudaStream_t s)
{
	rmsnorm_k<<<(unsigned)tokens, 256, 0, s>>>((const __nv_bfloat16 *)x, (const __nv_bfloat16 *)gamma,
	                                            (__nv_bfloat16 *)y, hidden, eps);
	return cudaGetLastError();
}

/* one thread per rotation pair (or V element); rows of (H + 2 Kh) heads */
__global__ void qkv_split_k(const __nv_bfloat16 *qkv, __nv_bfloat16 *q, __nv_bfloat16 *k, __nv_bfloat16 *v, long tokens,
                            int heads, int kv_heads, int d, float log_theta)
{
	int half = d / 2, row_heads = heads + 2 * kv_heads;
	size_t n = (size_t)tokens * row_heads * half;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		int p = (int)(i % half);
		size_t rest = i / half;
		int head = (int)(rest % row_heads);
		long t = (long)(rest / row_heads);
		const __nv_bfloat16 *src = qkv + ((size_t)t * row_heads + head) * d;
		float a = __bfloat162float(src[p]), b = __bfloat162float(src[p + half]);
		__nv_bfloat16 *dst;
		if (head < heads)
			dst = q + ((size_t)t * heads + head) * d;
		else if (head < heads + kv_heads)
			dst = k + ((size_t)t * kv_heads + (head - heads)) * d;
		else {
			dst = v + ((size_t)t * kv_heads + (head - heads - kv_heads)) * d;
			dst[p] = src[p];
			dst[p + half] = src[p + half];
			continue;
		}
		float ang = (float)t * expf(-log_theta * (2.0f * (float)p / (float)d)), sn, cs;
		sincosf(ang, &sn, &cs);
		dst[p] = __float2bfloat16(a * cs - b * sn);
		dst[p + half] = __float2bfloat16(b * cs + a * sn);
	}
}

extern "C" cudaError_t kvw_qkv_split(const void *qkv, void *q, void *k, void *v, long tokens, int heads, int kv_heads,
                                     int head_dim, float rope_theta, cudaStream_t s)
{
	qkv_split_k<<<2048, 256, 0, s>>>((const __nv_bfloat16 *)qkv, (__nv_bfloat16 *)q, (__nv_bfloat16 *)k,
	                                  (__nv_bfloat16 *)v, tokens, heads, kv_heads, head_dim, logf(rope_theta));
	return cudaGetLastError();
}

__global__ void silu_mul_k(const __nv_bfloat16 *gu, __nv_bfloat16 *act, long tokens, long inter)
{
	size_t n = (size_t)tokens * inter;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		size_t t = i / inter, j = i % inter;
		float g = __bfloat162float(gu[t * 2 * inter + j]), u = __bfloat162float(gu[t * 2 * inter + inter + j]);
		act[i] = __float2bfloat16(g / (1.0f + expf(-g)) * u);
	}
}

extern "C" cudaError_t kvw_silu_mul(const void *gate_up, void *act, long tokens, long intermediate, cudaStream_t s)
{
	silu_mul_k<<<2048, 256, 0, s>>>((const __nv_bfloat16 *)gate_up, (__nv_bfloat16 *)act, tokens, intermediate);
	return cudaGetLastError();
}

__global__ void add_k(__nv_bfloat16 *x, const __nv_bfloat16 *y, size_t n)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		x[i] = __float2bfloat16(__bfloat162float(x[i]) + __bfloat162float(y[i]));
}

extern "C" cudaError_t kvw_add(void *x, const void *y, size_t n, cudaStream_t s)
{
	add_k<<<2048, 256, 0, s>>>((__nv_bfloat16 *)x, (const __nv_bfloat16 *)y, n);
	return cudaGetLastError();
}
