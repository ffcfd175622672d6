/* kvw_gemm.h — one prefill GEMM through cuBLASLt, behind a C interface.
 *
 * Y[T x N] = X[T x K] * W[N x K]^T, row-major, bf16 or fp8 (e4m3) in,
 * bf16 out, fp32 accumulation: the shape of a linear layer applied to T
 * tokens.  fp8 needs compute capability 8.9 or later.  (In
 * cuBLASLt's column-major terms: C[N x T] = op_T(A[K x N]) * B[K x T].)
 * The algorithm is chosen once by cuBLASLt's heuristic with a 32 MiB
 * workspace.
 */
#ifndef KVW_GEMM_H
#define KVW_GEMM_H

#include <cuda_runtime_api.h>
#include <stdbool.h>

#include "kvw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvw_gemm kvw_gemm;

/* fp8: operands in e4m3 (1 byte), else bf16 (2 bytes) */
kvw_err kvw_gemm_create(kvw_gemm **g, long tokens, long n, long k, bool fp8, kvw_diag *d);
/* 0 on success, else the cublasStatus_t */
int kvw_gemm_run(kvw_gemm *g, const void *w, const void *x, void *y, cudaStream_t s);
void kvw_gemm_destroy(kvw_gemm *g); /* accepts NULL */
double kvw_gemm_flops(const kvw_gemm *g); /* 2 T N K */

#ifdef __cplusplus
}
#endif

#endif
