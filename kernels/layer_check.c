/* layer_check.c — the element-wise kernels of layer.cu against a host
 * reference in double precision, on a small layer (24 tokens, 2 query
 * heads and 1 KV head of 64, an FFN of 40): RMSNorm, the QKV split with
 * RoPE, SiLU x up and the residual add (over all but the last 3 values,
 * which must stay as they were: the vector loop and its tail both run).
 * Every output is poisoned (NaN) first, so an element no kernel wrote
 * fails.  An element is wrong when it is off by more than bf16 rounding of
 * the result (2^-7 relative) plus 1e-3. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_kernels.h"

#define CU(call) \
	do { \
		if ((err = (call)) != cudaSuccess) \
			goto out; \
	} while (0)

static float bf(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

cudaError_t kvw_layer_check(long *checked_out, long *wrong_out)
{
	enum { T = 24, H = 2, KH = 1, D = 64, ROW = (H + 2 * KH) * D, I = 40 };
	cudaError_t err = cudaSuccess;
	uint16_t *hx = NULL, *hg = NULL, *hy = NULL, *hq = NULL, *hk = NULL, *hv = NULL, *hgu = NULL, *ha = NULL;
	uint16_t *hs = NULL;
	void *dx = NULL, *dg = NULL, *dy = NULL, *dq = NULL, *dk = NULL, *dv = NULL, *dgu = NULL, *da = NULL, *ds = NULL;
	size_t nx = T * ROW, ngu = T * 2 * I;
	hx = malloc(2 * nx), hg = malloc(2 * ROW), hy = malloc(2 * nx), hq = malloc(2 * T * H * D);
	hk = malloc(2 * T * KH * D), hv = malloc(2 * T * KH * D), hgu = malloc(2 * ngu), ha = malloc(2 * T * I);
	hs = malloc(2 * nx);
	if (!hx || !hg || !hy || !hq || !hk || !hv || !hgu || !ha || !hs) {
		err = cudaErrorMemoryAllocation;
		goto out;
	}
	CU(cudaMalloc(&dx, 2 * nx));
	CU(cudaMalloc(&dg, 2 * ROW));
	CU(cudaMalloc(&dy, 2 * nx));
	CU(cudaMalloc(&dq, 2 * T * H * D));
	CU(cudaMalloc(&dk, 2 * T * KH * D));
	CU(cudaMalloc(&dv, 2 * T * KH * D));
	CU(cudaMalloc(&dgu, 2 * ngu));
	CU(cudaMalloc(&da, 2 * T * I));
	CU(cudaMalloc(&ds, 2 * nx));
	/* NaN poison in every output */
	void *outs[] = { dy, dq, dk, dv, da, ds };
	size_t out_bytes[] = { 2 * nx, 2 * T * H * D, 2 * T * KH * D, 2 * T * KH * D, 2 * T * I, 2 * nx };
	for (int i = 0; i < 6; i++)
		CU(cudaMemset(outs[i], 0xFF, out_bytes[i]));
	CU(kvw_fill_bf16(dx, nx, 31u, 2.0f, 0));
	CU(kvw_fill_bf16(dg, ROW, 32u, 1.5f, 0));
	CU(kvw_fill_bf16(dgu, ngu, 33u, 4.0f, 0));
	CU(kvw_rmsnorm(dx, dg, dy, T, ROW, 1e-5f, 0));
	CU(kvw_qkv_split(dx, dq, dk, dv, T, H, KH, D, 10000.0f, 0));
	CU(kvw_silu_mul(dgu, da, T, I, 0));
	CU(cudaMemcpy(ds, dx, 2 * nx, cudaMemcpyDeviceToDevice));
	CU(kvw_add(ds, dy, nx - 3, 0)); /* the residual: x + rmsnorm(x), all but the last 3 */
	CU(cudaMemcpy(hx, dx, 2 * nx, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hg, dg, 2 * ROW, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hy, dy, 2 * nx, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hq, dq, 2 * T * H * D, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hk, dk, 2 * T * KH * D, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hv, dv, 2 * T * KH * D, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hgu, dgu, 2 * ngu, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(ha, da, 2 * T * I, cudaMemcpyDeviceToHost));
	CU(cudaMemcpy(hs, ds, 2 * nx, cudaMemcpyDeviceToHost));
	/* wrong: off by more than bf16 rounding of the result plus 1e-3 absolute */
	long wrong = 0, checked = 0;
#define WRONG(got, want) (checked++, wrong += !(fabs((double)(got) - (want)) <= fabs(want) / 128 + 1e-3))
	for (int t = 0; t < T; t++) {
		double ss = 0;
		for (int i = 0; i < ROW; i++)
			ss += (double)bf(hx[t * ROW + i]) * bf(hx[t * ROW + i]);
		double inv = 1 / sqrt(ss / ROW + 1e-5);
		for (int i = 0; i < ROW; i++) {
			size_t at = (size_t)t * ROW + i;
			WRONG(bf(hy[at]), bf(hx[at]) * inv * bf(hg[i]));
			WRONG(bf(hs[at]), at < nx - 3 ? (double)bf(hx[at]) + bf(hy[at]) : bf(hx[at]));
		}
		for (int hh = 0; hh < H + 2 * KH; hh++)
			for (int p = 0; p < D / 2; p++) {
				double a = bf(hx[t * ROW + hh * D + p]), b = bf(hx[t * ROW + hh * D + p + D / 2]);
				double ang = t * pow(10000.0, -2.0 * p / D), c = cos(ang), s = sin(ang);
				const uint16_t *dst = hh < H ? hq + (t * H + hh) * D : hh < H + KH ? hk + (t * KH + hh - H) * D
				                                                               : hv + (t * KH + hh - H - KH) * D;
				bool rope = hh < H + KH;
				WRONG(bf(dst[p]), rope ? a * c - b * s : a);
				WRONG(bf(dst[p + D / 2]), rope ? b * c + a * s : b);
			}
		for (int i = 0; i < I; i++) {
			double g = bf(hgu[t * 2 * I + i]), u = bf(hgu[t * 2 * I + I + i]);
			WRONG(bf(ha[t * I + i]), g / (1 + exp(-g)) * u);
		}
	}
#undef WRONG
	*checked_out = checked;
	*wrong_out = wrong;
out:
	free(hx), free(hg), free(hy), free(hq), free(hk), free(hv), free(hgu), free(ha), free(hs);
	void *bufs[] = { dx, dg, dy, dq, dk, dv, dgu, da, ds };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		cudaFree(bufs[i]);
	return err;
}
