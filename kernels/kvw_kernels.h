/* kvw_kernels.h — the CUDA kernels of kvwall behind a plain C interface.
 *
 * HBM stream kernels (hbm.cu), 16-byte accesses, grid-stride, grid sized
 * from the device.  Traffic per 16-byte element (the convention every HBM
 * number states):  copy 32 B (read + write), read 16 B, write 16 B,
 * triad 48 B (two reads + one write).
 * Data is a hash pattern of the element index (never zeros), so each
 * check recomputes what every element must hold and counts the wrong ones.
 *
 * KV pack (kvpack.cu): a paged KV cache, pool[layer][block][bytes], and a
 * block table listing a sequence's blocks; pack gathers them into one
 * contiguous send buffer send[layer][j] = pool[layer][table[j]], unpack
 * scatters a send buffer into a pool.
 *
 * Every function is asynchronous on the stream and returns the launch
 * status.
 */
#ifndef KVW_KERNELS_H
#define KVW_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvw_hbm_op { KVW_HBM_COPY, KVW_HBM_READ, KVW_HBM_WRITE, KVW_HBM_TRIAD } kvw_hbm_op;

/* bytes of HBM traffic per 16-byte element */
int kvw_hbm_traffic(kvw_hbm_op op);

/* a[i] = pattern(seed, i) for n 16-byte elements */
cudaError_t kvw_hbm_fill(void *a, size_t n, unsigned seed, cudaStream_t s);
/* copy: a = b; read: *xor_out ^= xor of every word of b; write: a = pattern(seed);
 * triad: a = b + 3 c (per 32-bit word, wrapping).  blocks = 0: one wave. */
cudaError_t kvw_hbm_run(kvw_hbm_op op, void *a, const void *b, const void *c, size_t n, unsigned seed,
                        unsigned *xor_out, int blocks, cudaStream_t s);
/* counts in *wrong the elements of a that differ from what op must have
 * written, given b = pattern(seed_b), c = pattern(seed_c) */
cudaError_t kvw_hbm_check(kvw_hbm_op op, const void *a, size_t n, unsigned seed_b, unsigned seed_c,
                          unsigned long long *wrong, cudaStream_t s);
/* the xor of every word of pattern(seed) over n elements, on the host */
unsigned kvw_hbm_expected_xor(size_t n, unsigned seed);
/* the grid of one full wave on the current device */
int kvw_hbm_blocks(void);

cudaError_t kvw_kv_pack(void *send, const void *pool, const int *table, int layers, int seq_blocks,
                        int pool_blocks, size_t block_bytes, cudaStream_t s);
cudaError_t kvw_kv_unpack(void *pool, const void *send, const int *table, int layers, int seq_blocks,
                          int pool_blocks, size_t block_bytes, cudaStream_t s);
/* counts wrong 16-byte elements of send against pool = pattern(seed) */
cudaError_t kvw_kv_check_send(const void *send, const int *table, int layers, int seq_blocks, int pool_blocks,
                              size_t block_bytes, unsigned seed, unsigned long long *wrong, cudaStream_t s);
/* counts wrong elements in the table's blocks of pool against pattern(seed) */
cudaError_t kvw_kv_check_pool(const void *pool, const int *table, int layers, int seq_blocks, int pool_blocks,
                              size_t block_bytes, unsigned seed, unsigned long long *wrong, cudaStream_t s);

/* n bf16 values uniform in [-scale, scale] (fill.cu) */
cudaError_t kvw_fill_bf16(void *a, size_t n, unsigned seed, float scale, cudaStream_t s);
/* n fp8 (e4m3) values likewise */
cudaError_t kvw_fill_fp8(void *a, size_t n, unsigned seed, float scale, cudaStream_t s);

/* n bf16 values to e4m3 at unit scale (saturating), and e4m3 back to bf16 (exact) */
cudaError_t kvw_quant_fp8(const void *in, void *out, size_t n, cudaStream_t s);
cudaError_t kvw_fp8_to_bf16(const void *in, void *out, size_t n, cudaStream_t s);

/* Causal attention (attention.cu): Q, O [tokens][heads][head_dim], K, V
 * [tokens][kv_heads][head_dim], bf16; head_dim 64 or 128, kv_heads
 * dividing heads.  The reference takes any query/key size d_qk and value
 * size d_v (Q, K of d_qk, V, O of d_v: MLA's 192/128) and writes fp32. */
bool kvw_attention_supported(int head_dim, int heads, int kv_heads);
cudaError_t kvw_attention(const void *q, const void *k, const void *v, void *o, int tokens, int heads, int kv_heads,
                          int head_dim, cudaStream_t s);
cudaError_t kvw_attention_reference(const void *q, const void *k, const void *v, float *o, int tokens, int heads,
                                    int kv_heads, int d_qk, int d_v, cudaStream_t s);

/* The element-wise parts of a layer (layer.cu), bf16, asynchronous:
 * RMSNorm of tokens rows of hidden values; the fused QKV GEMM output
 * [tokens][(heads + 2 kv_heads) head_dim] split into Q [tokens][heads][d]
 * and K, V [tokens][kv_heads][d], Q and K rotated by RoPE (rotate-half,
 * position = token index, base rope_theta); silu(gate) * up of the gate+up
 * GEMM output [tokens][2 intermediate]; x += y over n values. */
cudaError_t kvw_rmsnorm(const void *x, const void *gamma, void *y, long tokens, long hidden, float eps, cudaStream_t s);
cudaError_t kvw_qkv_split(const void *qkv, void *q, void *k, void *v, long tokens, int heads, int kv_heads,
                          int head_dim, float rope_theta, cudaStream_t s);
cudaError_t kvw_silu_mul(const void *gate_up, void *act, long tokens, long intermediate, cudaStream_t s);
cudaError_t kvw_add(void *x, const void *y, size_t n, cudaStream_t s);
/* the four against a double-precision host reference on a small layer
 * (layer_check.c): values checked and wrong */
cudaError_t kvw_layer_check(long *checked, long *wrong);

#ifdef __cplusplus
}
#endif

#endif
