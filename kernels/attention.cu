/* attention.cu — causal scaled-dot-product attention for the prefill probe.
 *
 * Variants:
 *   flash_k   flash-style forward (online softmax, one pass over K and V):
 *             one block of W warps per (16 W-query tile, query head), W = 4,
 *             or 2 or 1 where fewer would leave SMs idle (T <= 512 on an
 *             H100: kvw_attn_warps); the heaviest tiles are scheduled first
 *             (kvw_attn_tile); each warp owns 16 query rows; K/V tiles of 64 keys go through shared
 *             memory; QK^T and PV run on tensor cores (WMMA bf16 16x16x16,
 *             fp32 accumulation); causal tiles above the diagonal are
 *             skipped; GQA: query head h reads KV head h / (H / H_kv).
 *             Head sizes 64 and 128; tiles load in 16-byte pieces.
 *   ref_k     one thread per (query, head), fp32, two passes over the
 *             keys: the reference the probe checks flash_k and cuDNN
 *             against on small sizes; any d_qk and d_v (MLA's 192/128 in
 *             MHA form, which flash_k does not have).
 * Layout: Q, O [T][H][D], K, V [T][H_kv][D], bf16, row-major (ref_k: Q, K
 * of d_qk, V, O of d_v).
 * This is a first, plain version (the output accumulator lives in shared
 * memory): correctness first; its speed against PyTorch's SDPA is what
 * tests/perf/gpu_targets.py reports.
 */
#include <cuda_bf16.h>
#include <mma.h>

#include "kvw_gpuplan.h"
#include "kvw_kernels.h"

using namespace nvcuda;

#define BC 64

/* W warps per block, each owning 16 query rows: a query tile of BR = 16 W */
template <int D, int W> struct smem_layout {
	static constexpr int BR = 16 * W;
	static constexpr size_t q = BR * D * 2, k = BC * D * 2, v = BC * D * 2;
	static constexpr size_t s = W * 16 * BC * 4, p = W * 16 * BC * 2, o = W * 16 * D * 4;
	static constexpr size_t total = q + k + v + s + p + o;
};

template <int D, int W>
__global__ void __launch_bounds__(W * 32) flash_k(const __nv_bfloat16 *__restrict__ Q, const __nv_bfloat16 *__restrict__ K,
                                                     const __nv_bfloat16 *__restrict__ V, __nv_bfloat16 *__restrict__ O,
                                                     int T, int H, int Hkv, float scale_log2)
{
	extern __shared__ __align__(128) unsigned char smem[];
	using L = smem_layout<D, W>;
	constexpr int BR = L::BR, WARPS = W;
	__nv_bfloat16 *sQ = (__nv_bfloat16 *)smem, *sK = (__nv_bfloat16 *)(smem + L::q);
	__nv_bfloat16 *sV = (__nv_bfloat16 *)(smem + L::q + L::k);
	float *sS = (float *)(smem + L::q + L::k + L::v);
	__nv_bfloat16 *sP = (__nv_bfloat16 *)(smem + L::q + L::k + L::v + L::s);
	float *sO = (float *)(smem + L::q + L::k + L::v + L::s + L::p);

	/* the heaviest query tiles (most keys) first: they start in the first wave */
	const int qb = kvw_attn_tile(blockIdx.x, gridDim.x), h = blockIdx.y, hk = h / (H / Hkv);
	const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q0 = qb * BR;
	float *S = sS + warp * 16 * BC, *Ow = sO + warp * 16 * D;
	__nv_bfloat16 *P = sP + warp * 16 * BC;

	/* tiles move in 16-byte pieces (8 bf16): D is a multiple of 8 */
	const uint4 zero = make_uint4(0, 0, 0, 0);
	for (int i = threadIdx.x; i < BR * D / 8; i += WARPS * 32) {
		int r = i / (D / 8), c = (i % (D / 8)) * 8, t = q0 + r;
		*(uint4 *)(sQ + r * D + c) = t < T ? *(const uint4 *)(Q + ((size_t)t * H + h) * D + c) : zero;
	}
	for (int i = lane; i < 16 * D; i += 32)
		Ow[i] = 0.f;
	const int r = lane / 2, half = lane % 2, qi = q0 + warp * 16 + r;
	float m = -INFINITY, l = 0.f;

	const int last = min((q0 + BR - 1) / BC, (T - 1) / BC); /* causal: keys up to the tile's last query */
	for (int kb = 0; kb <= last; kb++) {
		const int k0 = kb * BC;
		__syncthreads();
		for (int i = threadIdx.x; i < BC * D / 8; i += WARPS * 32) {
			int rr = i / (D / 8), c = (i % (D / 8)) * 8, t = k0 + rr;
			size_t g = ((size_t)t * Hkv + hk) * D + c;
			*(uint4 *)(sK + rr * D + c) = t < T ? *(const uint4 *)(K + g) : zero;
			*(uint4 *)(sV + rr * D + c) = t < T ? *(const uint4 *)(V + g) : zero;
		}
		__syncthreads();

		/* S = Q_w K^T: 16 x 64 per warp */
		for (int n = 0; n < BC / 16; n++) {
			wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
			wmma::fill_fragment(acc, 0.f);
			for (int kk = 0; kk < D / 16; kk++) {
				wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
				wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
				wmma::load_matrix_sync(a, sQ + warp * 16 * D + kk * 16, D);
				wmma::load_matrix_sync(b, sK + n * 16 * D + kk * 16, D);
				wmma::mma_sync(acc, a, b, acc);
			}
			wmma::store_matrix_sync(S + n * 16, acc, BC, wmma::mem_row_major);
		}
		__syncwarp();

		/* online softmax: lanes 2r and 2r+1 share row r, 32 columns each */
		float s[BC / 2], mt = -INFINITY;
		for (int c = 0; c < BC / 2; c++) {
			int col = half * (BC / 2) + c, kj = k0 + col;
			s[c] = (kj <= qi && kj < T) ? S[r * BC + col] * scale_log2 : -INFINITY;
			mt = fmaxf(mt, s[c]);
		}
		mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
		float m_new = fmaxf(m, mt), lt = 0.f;
		float alpha = m_new == -INFINITY ? 1.f : exp2f(m - m_new);
		for (int c = 0; c < BC / 2; c++) {
			float p = m_new == -INFINITY ? 0.f : exp2f(s[c] - m_new);
			lt += p;
			P[r * BC + half * (BC / 2) + c] = __float2bfloat16(p);
		}
		lt += __shfl_xor_sync(0xffffffffu, lt, 1);
		l = l * alpha + lt;
		m = m_new;
		for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++)
			Ow[r * D + c] *= alpha;
		__syncwarp();

		/* O_w += P_w V: 16 x D per warp */
		for (int n = 0; n < D / 16; n++) {
			wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
			wmma::load_matrix_sync(acc, Ow + n * 16, D, wmma::mem_row_major);
			for (int kk = 0; kk < BC / 16; kk++) {
				wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
				wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
				wmma::load_matrix_sync(a, P + kk * 16, BC);
				wmma::load_matrix_sync(b, sV + kk * 16 * D + n * 16, D);
				wmma::mma_sync(acc, a, b, acc);
			}
			wmma::store_matrix_sync(Ow + n * 16, acc, D, wmma::mem_row_major);
		}
		__syncwarp();
	}
	if (qi < T) {
		float inv = l > 0.f ? 1.f / l : 0.f;
		for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++)
			O[((size_t)qi * H + h) * D + c] = __float2bfloat16(Ow[r * D + c] * inv);
	}
}

/* one thread per (query, head); Q, K [.][.][Dqk], V, O [.][.][Dv] */
static __device__ float ref_score(const __nv_bfloat16 *qv, const __nv_bfloat16 *kv, int Dqk)
{
	float s = 0.f;
	for (int c = 0; c < Dqk; c++)
		s += __bfloat162float(qv[c]) * __bfloat162float(kv[c]);
	return s;
}

__global__ void ref_k(const __nv_bfloat16 *Q, const __nv_bfloat16 *K, const __nv_bfloat16 *V, float *O, int T, int H,
                      int Hkv, int Dqk, int Dv, float scale)
{
	int q = blockIdx.x * blockDim.x + threadIdx.x, h = blockIdx.y, hk = h / (H / Hkv);
	if (q >= T)
		return;
	const __nv_bfloat16 *qv = Q + ((size_t)q * H + h) * Dqk;
	float m = -INFINITY, sum = 0.f;
	for (int k = 0; k <= q; k++)
		m = fmaxf(m, ref_score(qv, K + ((size_t)k * Hkv + hk) * Dqk, Dqk) * scale);
	float *o = O + ((size_t)q * H + h) * Dv;
	for (int c = 0; c < Dv; c++)
		o[c] = 0.f;
	for (int k = 0; k <= q; k++) {
		float p = expf(ref_score(qv, K + ((size_t)k * Hkv + hk) * Dqk, Dqk) * scale - m);
		sum += p;
		for (int c = 0; c < Dv; c++)
			o[c] += p * __bfloat162float(V[((size_t)k * Hkv + hk) * Dv + c]);
	}
	for (int c = 0; c < Dv; c++)
		o[c] /= sum;
}

template <int D, int W>
static cudaError_t launch_w(const void *q, const void *k, const void *v, void *o, int T, int H, int Hkv, cudaStream_t s)
{
	size_t bytes = smem_layout<D, W>::total;
	cudaError_t e = cudaFuncSetAttribute(flash_k<D, W>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
	if (e != cudaSuccess)
		return e;
	const int br = smem_layout<D, W>::BR;
	dim3 grid((T + br - 1) / br, H);
	float scale_log2 = 1.4426950408889634f / sqrtf((float)D); /* softmax in base 2: exp(x) = 2^(x log2 e) */
	flash_k<D, W><<<grid, W * 32, bytes, s>>>((const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k,
	                                           (const __nv_bfloat16 *)v, (__nv_bfloat16 *)o, T, H, Hkv, scale_log2);
	return cudaGetLastError();
}

/* the grid fills the SMs at short prompts: fewer warps (smaller query tiles) there */
template <int D>
static cudaError_t launch(const void *q, const void *k, const void *v, void *o, int T, int H, int Hkv, cudaStream_t s)
{
	int dev = 0, sms = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
	switch (kvw_attn_warps(T, H, sms)) {
	case 1: return launch_w<D, 1>(q, k, v, o, T, H, Hkv, s);
	case 2: return launch_w<D, 2>(q, k, v, o, T, H, Hkv, s);
	default: return launch_w<D, 4>(q, k, v, o, T, H, Hkv, s);
	}
}

extern "C" bool kvw_attention_supported(int head_dim, int heads, int kv_heads)
{
	return kvw_attn_own_has(head_dim, head_dim, heads, kv_heads);
}

extern "C" cudaError_t kvw_attention(const void *q, const void *k, const void *v, void *o, int tokens, int heads,
                                     int kv_heads, int head_dim, cudaStream_t s)
{
	if (!kvw_attention_supported(head_dim, heads, kv_heads) || tokens < 1)
		return cudaErrorInvalidValue;
	return head_dim == 64 ? launch<64>(q, k, v, o, tokens, heads, kv_heads, s)
	                      : launch<128>(q, k, v, o, tokens, heads, kv_heads, s);
}

extern "C" cudaError_t kvw_attention_reference(const void *q, const void *k, const void *v, float *o, int tokens,
                                               int heads, int kv_heads, int d_qk, int d_v, cudaStream_t s)
{
	if (tokens < 1 || heads < 1 || kv_heads < 1 || heads % kv_heads || d_qk < 1 || d_v < 1)
		return cudaErrorInvalidValue;
	dim3 grid((tokens + 127) / 128, heads);
	ref_k<<<grid, 128, 0, s>>>((const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v, o, tokens,
	                           heads, kv_heads, d_qk, d_v, 1.f / sqrtf((float)d_qk));
	return cudaGetLastError();
}
