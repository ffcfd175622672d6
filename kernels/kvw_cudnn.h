/* kvw_cudnn.h — cuDNN's fused flash attention (the SDPA graph of the cuDNN
 * frontend) behind a plain C interface, loaded at run time.
 *
 * The C++ side is a small shim, kernels/cudnn_sdpa.cc, built as a module
 * (libkvw_cudnn.so, next to kvwall) over libcudnn.so.9; cudnn_load.c opens
 * it with dlopen the first time it is asked for, so a machine without
 * cuDNN runs with the own kernel (attention.cu) and the probes record why
 * (the dlopen error, "built without the cuDNN shim: ...", or the reason a
 * graph was refused).  KVW_CUDNN_SHIM=PATH names another shim;
 * KVW_CUDNN_SHIM=off switches cuDNN off.
 *
 * Layouts, row-major, one batch of b sequences:
 *   Q [b][s_q][h][d_qk]    K [b][s_kv][h_kv][d_qk]    V [b][s_kv][h_kv][d_v]
 *   O [b][s_q][h][d_v]  (bf16; fp8 runs write e4m3)
 * GQA: h_kv divides h.  Causal: query i sees keys 0..i (prefill, s_q =
 * s_kv).  Paged (decode): block_tokens > 0, K and V are pools
 * [pool_blocks][block_tokens][h_kv][d], a page table int32 [b][s_kv /
 * block_tokens] names each sequence's blocks, and every sequence attends
 * to all s_kv keys.
 */
#ifndef KVW_CUDNN_H
#define KVW_CUDNN_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvw_sdpa_dtype { KVW_SDPA_BF16 = 0, KVW_SDPA_FP8 = 1 } kvw_sdpa_dtype;

typedef struct kvw_sdpa_shape {
	int batch, tokens_q, tokens_kv;
	int heads, kv_heads, d_qk, d_v;
	bool causal;
	kvw_sdpa_dtype dtype;
	int block_tokens, pool_blocks; /* paged K/V when block_tokens > 0 */
} kvw_sdpa_shape;

/* NULL when the shim and libcudnn are loaded, else why not (static). */
const char *kvw_cudnn_unavailable(void);
/* cudnnGetVersion() of the loaded libcudnn (e.g. 91900), 0 when none. */
long kvw_cudnn_version(void);

typedef struct kvw_sdpa kvw_sdpa;
/* Builds the graph and its plan for one shape: 0 and *out, or nonzero
 * and the reason (cuDNN's message) in why. */
int kvw_sdpa_create(const kvw_sdpa_shape *shape, kvw_sdpa **out, char *why, size_t cap);
/* Enqueues one attention on stream s.  page_table: paged shapes only.
 * fp8: the descale factors of Q, K, V and the scale of O are 1. */
int kvw_sdpa_run(kvw_sdpa *p, const void *q, const void *k, const void *v, void *o, const int *page_table,
                 cudaStream_t s, char *why, size_t cap);
void kvw_sdpa_destroy(kvw_sdpa *p); /* accepts NULL */

/* The shim's own C ABI (what cudnn_load.c looks up in the module). */
#define KVW_CUDNN_SHIM_ABI 1
typedef struct kvw_cudnn_shim_ops {
	int abi;
	long (*version)(void);
	int (*create)(const kvw_sdpa_shape *shape, void **out, char *why, size_t cap);
	int (*run)(void *p, const void *q, const void *k, const void *v, void *o, const int *page_table, cudaStream_t s,
	           char *why, size_t cap);
	void (*destroy)(void *p);
} kvw_cudnn_shim_ops;
/* the one symbol the module exports */
const kvw_cudnn_shim_ops *kvw_cudnn_shim(void);

/* For tests: loads the shim at path (NULL: the default search) once more,
 * returning NULL or the reason it cannot be used. */
const char *kvw_cudnn_load(const char *path);

#ifdef __cplusplus
}
#endif

#endif
