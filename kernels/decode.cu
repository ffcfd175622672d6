/* decode.cu — the attention of one decode step over a paged KV cache: the
 * own kernel the decode probe checks cuDNN's paged SDPA against, and runs
 * where cuDNN is absent.  bf16 in, fp32 softmax and accumulation.
 *
 * Variants:
 *   split_k   flash-decoding: grid (splits, kv_heads, batch), 4 warps; a
 *             block walks its share of one sequence's keys in tiles of 64
 *             (four 16-token blocks of the page table), K and V tiles in
 *             shared memory through 16-byte loads (K rows padded by 16
 *             bytes against bank conflicts); warp w serves the query heads
 *             w, w + 4, ... of the KV head's group (GQA: the KV is read once
 *             per group); lane j scores keys j and j + 32 of the tile, lanes
 *             own d / 32 output columns; partial (max, sum, acc) per split.
 *   combine   merges the splits of each (sequence, head) into O bf16.
 *   qkv       the new token: splits the QKV GEMM output of each sequence,
 *             rotates Q and K (RoPE at position ctx - 1) and writes K, V
 *             into the sequence's last cache slot.
 * Layouts: Q, O [b][h][d]; pool [blocks][16][h_kv][d]; table [b][per_seq].
 */
#include <cuda_bf16.h>

#include "kvw_decode.h"

#define TILE 64
#define DWARPS 4
#define BLOCK_TOKENS 16

template <int D> struct dsmem {
	static constexpr int krow = D + 8; /* bf16 elements per padded K row */
	static constexpr size_t k = (size_t)TILE * krow * 2, v = (size_t)TILE * D * 2, q = (size_t)8 * D * 4;
	static constexpr size_t total = k + v + q;
};

static __device__ __forceinline__ const __nv_bfloat16 *kv_row(const __nv_bfloat16 *pool, const int *table, int per_seq,
                                                              int b, int t, int hkv, int hk, int d)
{
	int blk = table[(size_t)b * per_seq + t / BLOCK_TOKENS];
	return pool + (((size_t)blk * BLOCK_TOKENS + t % BLOCK_TOKENS) * hkv + hk) * d;
}

template <int D>
__global__ void __launch_bounds__(DWARPS * 32) split_k(const __nv_bfloat16 *__restrict__ Q, const __nv_bfloat16 *__restrict__ Kp,
                                                      const __nv_bfloat16 *__restrict__ Vp, const int *__restrict__ table,
                                                      float *__restrict__ part, int ctx, int per_seq, int H, int Hkv,
                                                      int splits, float scale_log2)
{
	extern __shared__ __align__(16) unsigned char sm[];
	using L = dsmem<D>;
	__nv_bfloat16 *sK = (__nv_bfloat16 *)sm, *sV = (__nv_bfloat16 *)(sm + L::k);
	float *sQ = (float *)(sm + L::k + L::v);
	const int split = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, g = H / Hkv;
	const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	const int per_split = (ctx + splits - 1) / splits, t0 = split * per_split, t1 = min(ctx, t0 + per_split);
	for (int i = threadIdx.x; i < g * D && i < 8 * D; i += DWARPS * 32)
		sQ[i] = __bfloat162float(Q[((size_t)b * H + hk * g) * D + i]);
	constexpr int C = D / 32; /* output columns per lane */
	float acc[2][C], m[2], l[2];
#pragma unroll
	for (int u = 0; u < 2; u++) {
		m[u] = -INFINITY, l[u] = 0.f;
		for (int c = 0; c < C; c++)
			acc[u][c] = 0.f;
	}
	for (int k0 = t0; k0 < t1; k0 += TILE) {
		__syncthreads();
		for (int i = threadIdx.x; i < TILE * (D / 8); i += DWARPS * 32) {
			int r = i / (D / 8), c = (i % (D / 8)) * 8, t = k0 + r;
			uint4 kz = make_uint4(0, 0, 0, 0), vz = kz;
			if (t < t1) {
				kz = *(const uint4 *)(kv_row(Kp, table, per_seq, b, t, Hkv, hk, D) + c);
				vz = *(const uint4 *)(kv_row(Vp, table, per_seq, b, t, Hkv, hk, D) + c);
			}
			*(uint4 *)(sK + r * L::krow + c) = kz;
			*(uint4 *)(sV + r * D + c) = vz;
		}
		__syncthreads();
		/* warp w: query heads w and w + 4 of the group (u = 0, 1); g <= 8 */
#pragma unroll
		for (int u = 0; u < 2; u++) {
			int qh = warp + u * DWARPS;
			if (qh >= g)
				continue;
			const float *q = sQ + qh * D;
			float s[2];
			for (int half = 0; half < 2; half++) {
				int r = lane + half * 32;
				float dot = 0.f;
				const __nv_bfloat16 *kr = sK + r * L::krow;
#pragma unroll 4
				for (int c = 0; c < D; c += 2) {
					float2 kv = __bfloat1622float2(*(const __nv_bfloat162 *)(kr + c));
					dot += q[c] * kv.x + q[c + 1] * kv.y;
				}
				s[half] = k0 + r < t1 ? dot * scale_log2 : -INFINITY;
			}
			float mt = fmaxf(s[0], s[1]);
			for (int o = 16; o > 0; o >>= 1)
				mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, o));
			float m_new = fmaxf(m[u], mt), alpha = exp2f(m[u] - m_new);
			float p0 = exp2f(s[0] - m_new), p1 = exp2f(s[1] - m_new), ps = p0 + p1;
			for (int o = 16; o > 0; o >>= 1)
				ps += __shfl_xor_sync(0xffffffffu, ps, o);
			l[u] = l[u] * alpha + ps;
			m[u] = m_new;
#pragma unroll
			for (int c = 0; c < C; c++)
				acc[u][c] *= alpha;
			for (int j = 0; j < TILE; j++) {
				float p = __shfl_sync(0xffffffffu, j < 32 ? p0 : p1, j % 32);
				const __nv_bfloat16 *vr = sV + j * D + lane * C;
#pragma unroll
				for (int c = 0; c < C; c++)
					acc[u][c] += p * __bfloat162float(vr[c]);
			}
		}
	}
#pragma unroll
	for (int u = 0; u < 2; u++) {
		int qh = warp + u * DWARPS;
		if (qh >= g)
			continue;
		/* part[b][h][split][D + 2]: acc, then max (base 2) and sum */
		float *o = part + (((size_t)b * H + hk * g + qh) * splits + split) * (D + 2);
#pragma unroll
		for (int c = 0; c < C; c++)
			o[lane * C + c] = acc[u][c];
		if (lane == 0)
			o[D] = m[u], o[D + 1] = l[u];
	}
}

template <int D>
__global__ void combine_k(const float *__restrict__ part, __nv_bfloat16 *__restrict__ O, int splits)
{
	const size_t bh = blockIdx.x; /* b * H + h */
	const float *p = part + bh * splits * (D + 2);
	float m = -INFINITY;
	for (int s = 0; s < splits; s++)
		m = fmaxf(m, p[s * (D + 2) + D]);
	for (int c = threadIdx.x; c < D; c += blockDim.x) {
		float num = 0.f, den = 0.f;
		for (int s = 0; s < splits; s++) {
			const float *q = p + s * (D + 2);
			float w = q[D] == -INFINITY ? 0.f : exp2f(q[D] - m);
			num += w * q[c];
			den += w * q[D + 1];
		}
		O[bh * D + c] = __float2bfloat16(den > 0.f ? num / den : 0.f);
	}
}

/* one thread per rotation pair of Q and K and per V pair; rows (H + 2 Hkv) d */
__global__ void qkv_k(const __nv_bfloat16 *__restrict__ qkv, __nv_bfloat16 *__restrict__ q, __nv_bfloat16 *Kp,
                      __nv_bfloat16 *Vp, const int *__restrict__ table, int per_seq, int batch, int H, int Hkv, int d,
                      int pos, float log2_theta)
{
	const int half = d / 2, heads = H + 2 * Hkv;
	const int n = batch * heads * half;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		int p = i % half, rest = i / half, head = rest % heads, b = rest / heads;
		const __nv_bfloat16 *src = qkv + ((size_t)b * heads + head) * d;
		__nv_bfloat16 *dst;
		if (head < H)
			dst = q + ((size_t)b * H + head) * d;
		else
			dst = (__nv_bfloat16 *)kv_row(head < H + Hkv ? Kp : Vp, table, per_seq, b, pos, Hkv,
			                              head < H + Hkv ? head - H : head - H - Hkv, d);
		float a = __bfloat162float(src[p]), c = __bfloat162float(src[p + half]);
		if (head >= H + Hkv) {
			dst[p] = src[p], dst[p + half] = src[p + half];
			continue;
		}
		/* angle / pi = pos * theta^(-2p/d) / pi: sincospif reduces exactly, no slow path */
		float turns = (float)pos * exp2f(-log2_theta * (2.0f * (float)p / (float)d)) * 0.318309886f, sn, cs;
		sincospif(turns, &sn, &cs);
		dst[p] = __float2bfloat16(a * cs - c * sn);
		dst[p + half] = __float2bfloat16(c * cs + a * sn);
	}
}

extern "C" bool kvw_decode_supported(int head_dim, int heads, int kv_heads)
{
	return (head_dim == 64 || head_dim == 128) && kv_heads > 0 && heads % kv_heads == 0 && heads / kv_heads <= 8;
}

extern "C" int kvw_decode_splits(int ctx, int batch, int kv_heads, int sms)
{
	int tiles = (ctx + TILE - 1) / TILE, want = (2 * sms + batch * kv_heads - 1) / (batch * kv_heads);
	want = want < 1 ? 1 : want;
	return want < tiles ? want : tiles;
}

extern "C" size_t kvw_decode_workspace(int batch, int heads, int head_dim, int splits)
{
	return sizeof(float) * (size_t)batch * heads * splits * (head_dim + 2);
}

template <int D>
static cudaError_t launch(const kvw_decode_args *a, cudaStream_t s)
{
	size_t bytes = dsmem<D>::total;
	cudaError_t e = cudaFuncSetAttribute(split_k<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
	if (e != cudaSuccess)
		return e;
	float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
	split_k<D><<<dim3(a->splits, a->kv_heads, a->batch), DWARPS * 32, bytes, s>>>(
		(const __nv_bfloat16 *)a->q, (const __nv_bfloat16 *)a->k_pool, (const __nv_bfloat16 *)a->v_pool, a->table,
		(float *)a->workspace, a->ctx, a->per_seq, a->heads, a->kv_heads, a->splits, scale_log2);
	if ((e = cudaGetLastError()) != cudaSuccess)
		return e;
	combine_k<D><<<a->batch * a->heads, D, 0, s>>>((const float *)a->workspace, (__nv_bfloat16 *)a->o, a->splits);
	return cudaGetLastError();
}

extern "C" cudaError_t kvw_decode_attention(const kvw_decode_args *a, cudaStream_t s)
{
	if (!kvw_decode_supported(a->head_dim, a->heads, a->kv_heads) || a->ctx < 1 || a->splits < 1
	    || a->per_seq * BLOCK_TOKENS < a->ctx)
		return cudaErrorInvalidValue;
	return a->head_dim == 64 ? launch<64>(a, s) : launch<128>(a, s);
}

extern "C" cudaError_t kvw_decode_qkv(const void *qkv, void *q, void *k_pool, void *v_pool, const int *table,
                                      int per_seq, int batch, int heads, int kv_heads, int head_dim, int pos,
                                      float rope_theta, cudaStream_t s)
{
	int n = batch * (heads + 2 * kv_heads) * head_dim / 2, blocks = (n + 255) / 256;
	qkv_k<<<blocks < 4096 ? blocks : 4096, 256, 0, s>>>((const __nv_bfloat16 *)qkv, (__nv_bfloat16 *)q,
	                                                    (__nv_bfloat16 *)k_pool, (__nv_bfloat16 *)v_pool, table,
	                                                    per_seq, batch, heads, kv_heads, head_dim, pos,
	                                                    log2f(rope_theta));
	return cudaGetLastError();
}
