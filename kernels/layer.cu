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
 * Memory-bound, so: one block per token row (no 64-bit division or modulo
 * in the index arithmetic), 16-byte accesses (8 bf16) wherever the row
 * length allows, and the RoPE angle in turns through sincospif, whose
 * argument reduction is exact (sincosf takes a slow path for the large
 * angles of long prompts).
 */
#include <cuda_bf16.h>
#include <stdint.h>

#include "kvw_kernels.h"

/* 8 bf16 in a 16-byte vector, as floats */
static __device__ __forceinline__ void load8(const __nv_bfloat16 *p, float *f)
{
	uint4 u = *(const uint4 *)p;
	const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		float2 v = __bfloat1622float2(h[i]);
		f[2 * i] = v.x, f[2 * i + 1] = v.y;
	}
}

static __device__ __forceinline__ void store8(__nv_bfloat16 *p, const float *f)
{
	uint4 u;
	__nv_bfloat162 *h = (__nv_bfloat162 *)&u;
#pragma unroll
	for (int i = 0; i < 4; i++)
		h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
	*(uint4 *)p = u;
}

__global__ void rmsnorm_k(const __nv_bfloat16 *x, const __nv_bfloat16 *gamma, __nv_bfloat16 *y, int h, float eps)
{
	const __nv_bfloat16 *row = x + (size_t)blockIdx.x * h;
	__nv_bfloat16 *out = y + (size_t)blockIdx.x * h;
	const bool vec = h % 8 == 0;
	float ss = 0;
	if (vec) {
		for (int i = threadIdx.x * 8; i < h; i += blockDim.x * 8) {
			float f[8];
			load8(row + i, f);
#pragma unroll
			for (int k = 0; k < 8; k++)
				ss += f[k] * f[k];
		}
	} else {
		for (int i = threadIdx.x; i < h; i += blockDim.x) {
			float v = __bfloat162float(row[i]);
			ss += v * v;
		}
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
	if (vec) {
		for (int i = threadIdx.x * 8; i < h; i += blockDim.x * 8) {
			float f[8], g[8];
			load8(row + i, f);
			load8(gamma + i, g);
#pragma unroll
			for (int k = 0; k < 8; k++)
				f[k] *= inv * g[k];
			store8(out + i, f);
		}
	} else {
		for (int i = threadIdx.x; i < h; i += blockDim.x)
			out[i] = __float2bfloat16(__bfloat162float(row[i]) * inv * __bfloat162float(gamma[i]));
	}
}

extern "C" cudaError_t kvw_rmsnorm(const void *x, const void *gamma, void *y, long tokens, long hidden, float eps,
                                   cudaStream_t s)
{
	if (tokens < 1 || hidden < 1 || hidden > (1L << 30))
		return cudaErrorInvalidValue;
	rmsnorm_k<<<(unsigned)tokens, 256, 0, s>>>((const __nv_bfloat16 *)x, (const __nv_bfloat16 *)gamma,
	                                            (__nv_bfloat16 *)y, (int)hidden, eps);
	return cudaGetLastError();
}

/* one block per token; a thread rotates 8 consecutive pairs (p .. p + 7,
 * with p + d/2 ..) of one head, or copies 16 bytes of V; D a compile-time
 * head size so every index is shifts and masks */
template <int D>
__global__ void qkv_split_k(const __nv_bfloat16 *qkv, __nv_bfloat16 *q, __nv_bfloat16 *k, __nv_bfloat16 *v, int heads,
                            int kv_heads, float log2_theta)
{
	constexpr int HALF = D / 2, CHUNKS = HALF / 8; /* 8-pair chunks per head */
	const int t = blockIdx.x, row_heads = heads + 2 * kv_heads;
	const __nv_bfloat16 *row = qkv + (size_t)t * row_heads * D;
	for (int j = threadIdx.x; j < row_heads * CHUNKS; j += blockDim.x) {
		const int head = j / CHUNKS, p = (j % CHUNKS) * 8; /* CHUNKS is 4 or 8: a shift */
		const __nv_bfloat16 *src = row + head * D;
		if (head >= heads + kv_heads) {
			__nv_bfloat16 *dst = v + ((size_t)t * kv_heads + (head - heads - kv_heads)) * D;
			*(uint4 *)(dst + p) = *(const uint4 *)(src + p);
			*(uint4 *)(dst + p + HALF) = *(const uint4 *)(src + p + HALF);
			continue;
		}
		__nv_bfloat16 *dst = head < heads ? q + ((size_t)t * heads + head) * D
		                                  : k + ((size_t)t * kv_heads + (head - heads)) * D;
		float a[8], b[8], ra[8], rb[8];
		load8(src + p, a);
		load8(src + p + HALF, b);
#pragma unroll
		for (int i = 0; i < 8; i++) {
			/* angle / pi = t * theta^(-2(p+i)/d) / pi */
			float turns = (float)t * exp2f(-log2_theta * (float)(2 * (p + i)) / (float)D) * 0.318309886183790672f;
			float sn, cs;
			sincospif(turns, &sn, &cs);
			ra[i] = a[i] * cs - b[i] * sn;
			rb[i] = b[i] * cs + a[i] * sn;
		}
		store8(dst + p, ra);
		store8(dst + p + HALF, rb);
	}
}

extern "C" cudaError_t kvw_qkv_split(const void *qkv, void *q, void *k, void *v, long tokens, int heads, int kv_heads,
                                     int head_dim, float rope_theta, cudaStream_t s)
{
	if (tokens < 1 || (head_dim != 64 && head_dim != 128))
		return cudaErrorInvalidValue;
	const __nv_bfloat16 *in = (const __nv_bfloat16 *)qkv;
	__nv_bfloat16 *qo = (__nv_bfloat16 *)q, *ko = (__nv_bfloat16 *)k, *vo = (__nv_bfloat16 *)v;
	if (head_dim == 64)
		qkv_split_k<64><<<(unsigned)tokens, 128, 0, s>>>(in, qo, ko, vo, heads, kv_heads, log2f(rope_theta));
	else
		qkv_split_k<128><<<(unsigned)tokens, 256, 0, s>>>(in, qo, ko, vo, heads, kv_heads, log2f(rope_theta));
	return cudaGetLastError();
}

/* one block per token row of [gate | up]; 8 values a thread where the
 * width allows */
__global__ void silu_mul_k(const __nv_bfloat16 *gu, __nv_bfloat16 *act, int inter)
{
	const __nv_bfloat16 *g = gu + (size_t)blockIdx.x * 2 * inter, *u = g + inter;
	__nv_bfloat16 *out = act + (size_t)blockIdx.x * inter;
	if (inter % 8 == 0) {
		for (int i = threadIdx.x * 8; i < inter; i += blockDim.x * 8) {
			float a[8], b[8];
			load8(g + i, a);
			load8(u + i, b);
#pragma unroll
			for (int k = 0; k < 8; k++)
				a[k] = a[k] / (1.0f + __expf(-a[k])) * b[k];
			store8(out + i, a);
		}
		return;
	}
	for (int i = threadIdx.x; i < inter; i += blockDim.x) {
		float a = __bfloat162float(g[i]), b = __bfloat162float(u[i]);
		out[i] = __float2bfloat16(a / (1.0f + __expf(-a)) * b);
	}
}

extern "C" cudaError_t kvw_silu_mul(const void *gate_up, void *act, long tokens, long intermediate, cudaStream_t s)
{
	if (tokens < 1 || intermediate < 1 || intermediate > (1L << 30))
		return cudaErrorInvalidValue;
	silu_mul_k<<<(unsigned)tokens, 256, 0, s>>>((const __nv_bfloat16 *)gate_up, (__nv_bfloat16 *)act,
	                                             (int)intermediate);
	return cudaGetLastError();
}

/* x += y: 8 values a thread over n / 8 vectors, then the tail */
__global__ void add_k(__nv_bfloat16 *x, const __nv_bfloat16 *y, size_t vecs, size_t n)
{
	size_t stride = (size_t)gridDim.x * blockDim.x;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < vecs; i += stride) {
		float a[8], b[8];
		load8(x + 8 * i, a);
		load8(y + 8 * i, b);
#pragma unroll
		for (int k = 0; k < 8; k++)
			a[k] += b[k];
		store8(x + 8 * i, a);
	}
	for (size_t i = 8 * vecs + (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
		x[i] = __float2bfloat16(__bfloat162float(x[i]) + __bfloat162float(y[i]));
}

extern "C" cudaError_t kvw_add(void *x, const void *y, size_t n, cudaStream_t s)
{
	/* 16-byte vectors need 16-byte aligned rows: cudaMalloc'd buffers are */
	size_t vecs = ((uintptr_t)x % 16 || (uintptr_t)y % 16) ? 0 : n / 8;
	size_t blocks = (vecs + 255) / 256;
	add_k<<<(unsigned)(blocks < 1 ? 1 : blocks > 4096 ? 4096 : blocks), 256, 0, s>>>((__nv_bfloat16 *)x,
	                                                                                  (const __nv_bfloat16 *)y, vecs, n);
	return cudaGetLastError();
}
