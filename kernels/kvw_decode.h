/* kvw_decode.h — one decode step's attention over a paged KV cache
 * (decode.cu), behind a plain C interface.  Pools hold 16-token blocks,
 * [blocks][16][kv_heads][head_dim] bf16; table [batch][per_seq] int32
 * names each sequence's blocks in order; Q and O [batch][heads][head_dim]
 * bf16; every sequence attends to its first ctx keys. */
#ifndef KVW_DECODE_H
#define KVW_DECODE_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvw_decode_args {
	const void *q, *k_pool, *v_pool;
	const int *table;
	void *o;
	void *workspace; /* kvw_decode_workspace bytes */
	int batch, ctx, per_seq, heads, kv_heads, head_dim, splits;
} kvw_decode_args;

/* head size 64 or 128, at most 8 query heads per KV head */
bool kvw_decode_supported(int head_dim, int heads, int kv_heads);
/* splits of the context so batch x kv_heads x splits blocks fill two waves */
int kvw_decode_splits(int ctx, int batch, int kv_heads, int sms);
size_t kvw_decode_workspace(int batch, int heads, int head_dim, int splits);
cudaError_t kvw_decode_attention(const kvw_decode_args *a, cudaStream_t s);
/* the new token of each sequence (position pos = ctx - 1): QKV GEMM output
 * [batch][(heads + 2 kv_heads) head_dim] -> Q rotated, K rotated and V
 * written into the cache slot of position pos */
cudaError_t kvw_decode_qkv(const void *qkv, void *q, void *k_pool, void *v_pool, const int *table, int per_seq,
                           int batch, int heads, int kv_heads, int head_dim, int pos, float rope_theta, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
