/* gemm.c — cuBLASLt bf16 and fp8 GEMMs for the prefill and decode probes
 * (see kvw_gemm.h); fp8 with fast accumulation (kvw_gemm_mode_for). */
#include "kvw_gemm.h"
#include "kvw_gpuplan.h"

#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKSPACE ((size_t)32 << 20)

struct kvw_gemm {
	long t, n, k;
	cublasLtHandle_t lt;
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, c;
	cublasLtMatmulAlgo_t algo;
	void *ws;
};

#define LT(call) \
	do { \
		cublasStatus_t s_ = (call); \
		if (s_ != CUBLAS_STATUS_SUCCESS) { \
			err = kvw_fail(d, KVW_EDRIVER, "%s:%d: %s: cuBLAS status %d", __FILE__, __LINE__, #call, (int)s_); \
			goto out; \
		} \
	} while (0)

kvw_err kvw_gemm_create(kvw_gemm **out, long tokens, long n, long k, bool fp8, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	cublasLtMatmulPreference_t pref = NULL;
	kvw_gemm *g = calloc(1, sizeof *g);
	if (!g)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	g->t = tokens, g->n = n, g->k = k;
	cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
	size_t ws = WORKSPACE;
	LT(cublasLtCreate(&g->lt));
	LT(cublasLtMatmulDescCreate(&g->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
	LT(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
	kvw_gemm_mode mode = kvw_gemm_mode_for(fp8);
	if (mode.fast_accum) {
		int8_t fast = 1;
		LT(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
	}
	cudaDataType_t in = fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
	LT(cublasLtMatrixLayoutCreate(&g->a, in, (uint64_t)k, (uint64_t)n, k));
	LT(cublasLtMatrixLayoutCreate(&g->b, in, (uint64_t)k, (uint64_t)tokens, k));
	LT(cublasLtMatrixLayoutCreate(&g->c, CUDA_R_16BF, (uint64_t)n, (uint64_t)tokens, n));
	LT(cublasLtMatmulPreferenceCreate(&pref));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
	cublasLtMatmulHeuristicResult_t h;
	int found = 0;
	LT(cublasLtMatmulAlgoGetHeuristic(g->lt, g->op, g->a, g->b, g->c, g->c, pref, 1, &h, &found));
	if (!found) {
		err = kvw_fail(d, KVW_EDRIVER, "cuBLASLt has no algorithm for %ld x %ld x %ld %s", tokens, n, k,
		               fp8 ? "fp8" : "bf16");
		goto out;
	}
	g->algo = h.algo;
	if (cudaMalloc(&g->ws, WORKSPACE) != cudaSuccess)
		err = kvw_fail(d, KVW_EDRIVER, "cannot allocate the cuBLASLt workspace");
out:
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (err) {
		kvw_gemm_destroy(g);
		g = NULL;
	}
	*out = g;
	return err;
}

int kvw_gemm_run(kvw_gemm *g, const void *w, const void *x, void *y, cudaStream_t s)
{
	const float alpha = 1.0f, beta = 0.0f;
	return (int)cublasLtMatmul(g->lt, g->op, &alpha, w, g->a, x, g->b, &beta, y, g->c, y, g->c, &g->algo,
	                           g->ws, WORKSPACE, s);
}

double kvw_gemm_flops(const kvw_gemm *g)
{
	return 2.0 * (double)g->t * (double)g->n * (double)g->k;
}

void kvw_gemm_destroy(kvw_gemm *g)
{
	if (!g)
		return;
	if (g->a)
		cublasLtMatrixLayoutDestroy(g->a);
	if (g->b)
		cublasLtMatrixLayoutDestroy(g->b);
	if (g->c)
		cublasLtMatrixLayoutDestroy(g->c);
	if (g->op)
		cublasLtMatmulDescDestroy(g->op);
	if (g->lt)
		cublasLtDestroy(g->lt);
	cudaFree(g->ws);
	free(g);
}
