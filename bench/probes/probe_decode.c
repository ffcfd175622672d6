/* probe_decode.c — one decode step of one layer of --model, the curve the
 * planner takes decode times from (as crossover takes prefill times from
 * the prefill curve).
 *
 *   decode  batch 1..256 sequences of context 1k..128k tokens (--quick: 1,
 *           32, 128 x 1k, 8k, 32k), KV in a paged cache of 16-token blocks
 *           scattered over the pool by a random block table, weights bf16
 *           and again fp8 (e4m3, fast accumulation; cc >= 8.9).  One layer:
 *           RMSNorm, the QKV GEMM, RoPE and the new token's K/V written into
 *           its cache slot, attention over the paged cache, the O GEMM and
 *           residual, RMSNorm, gate+up GEMM, SiLU x up, down GEMM and
 *           residual; GEMMs through cuBLASLt, attention through cuDNN's
 *           paged SDPA where it loads and passes its check, else the own
 *           split-K kernel (kernels/decode.cu), which is checked first
 *           against a double-precision host reference (and cuDNN against
 *           it).  MoE layers run the experts b tokens reach on average, E (1
 *           - (1 - k/E)^b), each on its share of the tokens, and the shared
 *           experts.  The step is captured as a CUDA graph and the graph
 *           replayed in a loop between one pair of events, so the launch
 *           gaps are what an engine with graphs pays.
 *           bytes = the layer's weights + the batch's KV (activations, a few
 *           MB, left out); achieved GB/s = bytes / time; the bound = bytes /
 *           HBM read bandwidth (the hbm probe's read figure of this run, else
 *           the card's spec sheet, named); fixed = time - bound, the time per
 *           layer the bytes do not explain (launches, reductions, GEMM tails).
 *           profile.decode (profile.h) holds the points; MLA layers are
 *           recorded as skipped: their absorbed decode (MQA over the
 *           576-wide latent, d_v 512) has no kernel here
 *           (kvw_mla_decode_reason).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_gpu.h"
#include "out.h"
#include "probe.h"
#include "probe_math.h"

static const char *need_gpu(const kvw_mpi *mpi)
{
	(void)mpi;
	return kvw_gpu_unavailable(1);
}

#ifdef KVW_HAVE_CUDA
#include "kvw_config.h"
#include "kvw_cuda.h"
#include "kvw_cudnn.h"
#include "kvw_decode.h"
#include "kvw_gbench.h"
#include "kvw_gemm.h"
#include "kvw_gpuplan.h"
#include "kvw_kernels.h"
#include "kvw_model.h"

#define BT 16 /* tokens per KV block */
#define MAX_EXPERTS 64

enum { QKV, O, UP, DOWN, N_GEMM };

/* the shapes of one decode layer at batch b */
typedef struct dshape {
	int heads, kv_heads, dim, window;
	long h, n[N_GEMM], k[N_GEMM], width;
	bool gated;
	int experts;      /* FFN GEMM pairs: 1 dense, else routed experts reached + shared */
	long ffn_rows;    /* rows of each FFN GEMM */
	double params;    /* weights read: attention + the FFN GEMMs run */
} dshape;

static void shape_for(const kvw_arch *a, int b, dshape *s)
{
	memset(s, 0, sizeof *s);
	s->heads = a->n_heads, s->kv_heads = a->n_kv_heads, s->dim = a->head_dim, s->h = a->hidden;
	s->window = a->groups[0].window;
	long qd = (long)a->n_heads * a->head_dim, kvd = (long)a->n_kv_heads * a->head_dim;
	bool moe = a->n_experts > 0;
	s->width = moe ? a->moe_intermediate : a->intermediate;
	s->gated = a->ffn_gated;
	s->n[QKV] = qd + 2 * kvd, s->k[QKV] = s->h;
	s->n[O] = s->h, s->k[O] = qd;
	s->n[UP] = (s->gated ? 2 : 1) * s->width, s->k[UP] = s->h;
	s->n[DOWN] = s->h, s->k[DOWN] = s->width;
	s->experts = 1, s->ffn_rows = b;
	if (moe) {
		double hit = kvw_expected_experts(a->n_experts, a->experts_per_token, b);
		int routed = (int)fmin(a->n_experts, fmax(1, round(hit)));
		/* shared experts (DeepSeek; MLA, skipped here) run on the routed rows too */
		s->experts = routed + a->n_shared_experts;
		s->experts = s->experts > MAX_EXPERTS ? MAX_EXPERTS : s->experts;
		s->ffn_rows = (long)ceil((double)b * a->experts_per_token / routed);
	}
	s->params = (double)s->n[QKV] * s->k[QKV] + (double)s->n[O] * s->k[O]
	            + s->experts * ((double)s->n[UP] * s->k[UP] + (double)s->n[DOWN] * s->k[DOWN]);
}

/* everything one (batch, context, dtype) point needs on the device */
typedef struct dstep {
	dshape s;
	bool fp8;
	int batch, ctx, per_seq, pool_blocks, splits;
	void *w[2 + 2 * MAX_EXPERTS];
	void *x, *xn, *xq, *qkv, *q, *o, *oq, *tmp, *gu, *act, *aq, *gamma, *ws, *kpool, *vpool;
	int *table;
	kvw_gemm *g[N_GEMM];
	kvw_sdpa *sdpa;
	cudaStream_t st;
	cudaGraph_t graph;
	cudaGraphExec_t exec;
	kvw_evtimer t;
	int reps;
} dstep;

static long gemm_rows(const dstep *p, long rows)
{
	return p->fp8 ? (rows + 15) / 16 * 16 : rows;
}

static void *wptr(dstep *p, int i, int e)
{
	return i < UP ? p->w[i] : p->w[2 + 2 * e + (i - UP)];
}

static void step_free(dstep *p)
{
	if (p->exec)
		cudaGraphExecDestroy(p->exec);
	if (p->graph)
		cudaGraphDestroy(p->graph);
	for (int i = 0; i < N_GEMM; i++)
		kvw_gemm_destroy(p->g[i]);
	kvw_sdpa_destroy(p->sdpa);
	for (size_t i = 0; i < sizeof p->w / sizeof *p->w; i++)
		cudaFree(p->w[i]);
	void *b[] = { p->x, p->xn, p->xq, p->qkv, p->q, p->o, p->oq, p->tmp, p->gu, p->act, p->aq, p->gamma, p->ws,
	              p->kpool, p->vpool, p->table };
	for (size_t i = 0; i < sizeof b / sizeof *b; i++)
		cudaFree(b[i]);
	kvw_evtimer_destroy(&p->t);
	if (p->st)
		cudaStreamDestroy(p->st);
	memset(p, 0, sizeof *p);
}

/* a random block table: the batch's blocks scattered over the pool */
static kvw_err make_table(int *dev, int batch, int per_seq, int pool_blocks, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t n = (size_t)batch * per_seq;
	int *perm = malloc((size_t)pool_blocks * sizeof *perm);
	if (!perm)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	for (int i = 0; i < pool_blocks; i++)
		perm[i] = i;
	unsigned long long x = 0x9E3779B97F4A7C15ull;
	for (int i = pool_blocks - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int k = (int)(x % (unsigned long long)(i + 1)), t = perm[i];
		perm[i] = perm[k], perm[k] = t;
	}
	KVW_CU(cudaMemcpy(dev, perm, n * sizeof *perm, cudaMemcpyHostToDevice));
out:
	free(perm);
	return err;
}

#define ALLOC(ptr, bytes) KVW_CU(cudaMalloc((void **)&(ptr), (bytes)))

static kvw_err step_alloc(dstep *p, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	const dshape *s = &p->s;
	/* fp8 GEMMs run on row counts padded to 16 (cuBLASLt's fp8 kernels want
	 * multiples of 16, as engines pad them); the padding rows are computed
	 * and ignored */
	size_t b = (size_t)gemm_rows(p, p->batch), es = p->fp8 ? 1 : 2, kv_row = (size_t)s->kv_heads * s->dim;
	size_t rows = (size_t)gemm_rows(p, s->ffn_rows), pool = (size_t)p->pool_blocks * BT * kv_row * 2;
	cudaError_t (*fill)(void *, size_t, unsigned, float, cudaStream_t) = p->fp8 ? kvw_fill_fp8 : kvw_fill_bf16;
	KVW_CU(cudaStreamCreateWithFlags(&p->st, cudaStreamNonBlocking));
	KVW_CU(kvw_evtimer_init(&p->t, p->st));
	for (int i = 0; i < N_GEMM; i++)
		for (int e = 0; e < (i < UP ? 1 : s->experts); e++) {
			size_t n = (size_t)s->n[i] * (size_t)s->k[i];
			void **w = i < UP ? &p->w[i] : &p->w[2 + 2 * e + (i - UP)];
			ALLOC(*w, es * n);
			KVW_CU(fill(*w, n, 700u + (unsigned)(i * MAX_EXPERTS + e), sqrtf(3.0f / (float)s->k[i]), 0));
		}
	ALLOC(p->x, 2 * b * s->h);
	ALLOC(p->xn, 2 * b * s->h);
	ALLOC(p->tmp, 2 * b * s->h);
	ALLOC(p->xq, rows * s->h > b * s->h ? rows * s->h : b * s->h);
	ALLOC(p->qkv, 2 * b * s->n[QKV]);
	ALLOC(p->q, 2 * b * s->heads * s->dim);
	ALLOC(p->o, 2 * b * s->heads * s->dim);
	ALLOC(p->oq, b * s->heads * s->dim);
	ALLOC(p->gu, 2 * rows * s->n[UP]);
	ALLOC(p->act, 2 * rows * s->width);
	ALLOC(p->aq, rows * s->width);
	ALLOC(p->gamma, 2 * s->h);
	ALLOC(p->kpool, pool);
	ALLOC(p->vpool, pool);
	ALLOC(p->table, sizeof(int) * b * p->per_seq);
	ALLOC(p->ws, kvw_decode_workspace(p->batch, s->heads, s->dim, p->splits));
	KVW_CU(kvw_fill_bf16(p->x, b * s->h, 31u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(p->gamma, s->h, 32u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(p->kpool, pool / 2, 33u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(p->vpool, pool / 2, 34u, 1.0f, 0));
	if (p->fp8) { /* the fp8 GEMMs' inputs when quantisation is timed too */
		KVW_CU(kvw_fill_fp8(p->xq, b * s->h, 35u, 1.0f, 0));
		KVW_CU(kvw_fill_fp8(p->aq, rows * s->width, 36u, 1.0f, 0));
	}
	if ((err = make_table(p->table, p->batch, p->per_seq, p->pool_blocks, d)))
		goto out;
	for (int i = 0; i < N_GEMM && !err; i++)
		err = kvw_gemm_create(&p->g[i], gemm_rows(p, i < UP ? p->batch : s->ffn_rows), s->n[i], s->k[i], p->fp8, d);
	KVW_CU(cudaDeviceSynchronize());
out:
	return err;
}

/* the attention of the step: cuDNN's paged SDPA or the own kernel */
static cudaError_t attention(dstep *p, cudaStream_t st)
{
	if (p->sdpa) {
		char why[256];
		return kvw_sdpa_run(p->sdpa, p->q, p->kpool, p->vpool, p->o, p->table, st, why, sizeof why) ? cudaErrorUnknown
		                                                                                             : cudaSuccess;
	}
	kvw_decode_args a = { p->q, p->kpool, p->vpool, p->table, p->o, p->ws, p->batch, p->ctx, p->per_seq,
	                      p->s.heads, p->s.kv_heads, p->s.dim, p->splits };
	return kvw_decode_attention(&a, st);
}

#define GEMM(i, e, x, y) \
	do { \
		if (kvw_gemm_run(p->g[i], wptr(p, i, e), (x), (y), st) != 0) \
			return cudaErrorUnknown; \
	} while (0)

/* one layer's step, enqueued on st (captured into the graph) */
static cudaError_t layer(dstep *p, cudaStream_t st)
{
	const dshape *s = &p->s;
	long b = p->batch, rows = s->ffn_rows;
	size_t nx = (size_t)b * s->h, no = (size_t)b * s->heads * s->dim, na = (size_t)rows * s->width;
	KVW_CU_RET(kvw_rmsnorm(p->x, p->gamma, p->xn, b, s->h, 1e-5f, st));
	if (p->fp8)
		KVW_CU_RET(kvw_quant_fp8(p->xn, p->xq, nx, st));
	GEMM(QKV, 0, p->fp8 ? p->xq : p->xn, p->qkv);
	KVW_CU_RET(kvw_decode_qkv(p->qkv, p->q, p->kpool, p->vpool, p->table, p->per_seq, (int)b, s->heads, s->kv_heads,
	                          s->dim, p->ctx - 1, 10000.0f, st));
	KVW_CU_RET(attention(p, st));
	if (p->fp8)
		KVW_CU_RET(kvw_quant_fp8(p->o, p->oq, no, st));
	GEMM(O, 0, p->fp8 ? p->oq : p->o, p->tmp);
	KVW_CU_RET(kvw_add(p->x, p->tmp, nx, st));
	KVW_CU_RET(kvw_rmsnorm(p->x, p->gamma, p->xn, b, s->h, 1e-5f, st));
	if (p->fp8)
		KVW_CU_RET(kvw_quant_fp8(p->xn, p->xq, nx, st));
	for (int e = 0; e < s->experts; e++) {
		GEMM(UP, e, p->fp8 ? p->xq : p->xn, p->gu);
		if (s->gated)
			KVW_CU_RET(kvw_silu_mul(p->gu, p->act, rows, s->width, st));
		if (p->fp8)
			KVW_CU_RET(kvw_quant_fp8(s->gated ? p->act : p->gu, p->aq, na, st));
		GEMM(DOWN, e, p->fp8 ? p->aq : s->gated ? p->act : p->gu, p->tmp);
	}
	KVW_CU_RET(kvw_add(p->x, p->tmp, nx, st));
	return cudaSuccess;
}

static kvw_err capture(dstep *p, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	KVW_CU(cudaStreamBeginCapture(p->st, cudaStreamCaptureModeThreadLocal));
	cudaError_t e = layer(p, p->st);
	cudaError_t e2 = cudaStreamEndCapture(p->st, &p->graph);
	KVW_CU(e != cudaSuccess ? e : e2);
	KVW_CU(cudaGraphInstantiate(&p->exec, p->graph, 0));
out:
	return err;
}

static int graph_op(void *arg)
{
	dstep *p = arg;
	return cudaGraphLaunch(p->exec, p->st) != cudaSuccess;
}

/* reps graph replays between one pair of events: seconds per layer */
static double time_step(void *arg)
{
	dstep *p = arg;
	kvw_marks m = kvw_evtimer_marks(&p->t);
	return kvw_time_loop(p->reps, graph_op, p, &m);
}

/* ---- checks ------------------------------------------------------------------ */

static float bf2f(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* the own kernel at ctx 300 (a partial last block) against a double
 * reference on the host; cuDNN (when it loads) against the own kernel at
 * ctx 320; *backend and *why say which will run the curve */
typedef struct dcheck {
	int b, ctx, per_seq, pool_blocks, H, Hk, D;
	void *q, *k, *v, *o, *o2, *ws;
	int *table;
	uint16_t *hq, *hk, *hv, *ho, *ho2;
	int *ht;
} dcheck;

static void check_free(dcheck *c)
{
	void *b[] = { c->q, c->k, c->v, c->o, c->o2, c->ws, c->table };
	for (size_t i = 0; i < sizeof b / sizeof *b; i++)
		cudaFree(b[i]);
	free(c->hq), free(c->hk), free(c->hv), free(c->ho), free(c->ho2), free(c->ht);
}

static long long host_wrong(const dcheck *c, const uint16_t *got)
{
	long long wrong = 0;
	double scale = 1.0 / sqrt((double)c->D);
	int g = c->H / c->Hk;
	double *acc = malloc(sizeof(double) * (size_t)c->D), *sc = malloc(sizeof(double) * (size_t)c->ctx);
	if (!acc || !sc) {
		free(acc), free(sc);
		return -1;
	}
	for (int b = 0; b < c->b; b++)
		for (int h = 0; h < c->H; h++) {
			const uint16_t *q = c->hq + ((size_t)b * c->H + h) * c->D;
			double m = -INFINITY, l = 0;
			for (int t = 0; t < c->ctx; t++) {
				int blk = c->ht[b * c->per_seq + t / BT];
				const uint16_t *k = c->hk + (((size_t)blk * BT + t % BT) * c->Hk + h / g) * c->D;
				double s = 0;
				for (int i = 0; i < c->D; i++)
					s += (double)bf2f(q[i]) * bf2f(k[i]);
				sc[t] = s * scale;
				m = fmax(m, sc[t]);
			}
			for (int i = 0; i < c->D; i++)
				acc[i] = 0;
			for (int t = 0; t < c->ctx; t++) {
				int blk = c->ht[b * c->per_seq + t / BT];
				const uint16_t *v = c->hv + (((size_t)blk * BT + t % BT) * c->Hk + h / g) * c->D;
				double w = exp(sc[t] - m);
				l += w;
				for (int i = 0; i < c->D; i++)
					acc[i] += w * bf2f(v[i]);
			}
			for (int i = 0; i < c->D; i++) {
				double want = acc[i] / l, have = bf2f(got[((size_t)b * c->H + h) * c->D + i]);
				wrong += !(fabs(have - want) <= fabs(want) / 128 + 2e-2);
			}
		}
	free(acc), free(sc);
	return wrong;
}

static kvw_err check_setup(dcheck *c, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t nq = (size_t)c->b * c->H * c->D, npool = (size_t)c->pool_blocks * BT * c->Hk * c->D;
	c->hq = malloc(2 * nq), c->ho = malloc(2 * nq), c->ho2 = malloc(2 * nq);
	c->hk = malloc(2 * npool), c->hv = malloc(2 * npool);
	c->ht = malloc(sizeof(int) * (size_t)c->b * c->per_seq);
	if (!c->hq || !c->ho || !c->ho2 || !c->hk || !c->hv || !c->ht)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	ALLOC(c->q, 2 * nq);
	ALLOC(c->o, 2 * nq);
	ALLOC(c->o2, 2 * nq);
	ALLOC(c->k, 2 * npool);
	ALLOC(c->v, 2 * npool);
	ALLOC(c->table, sizeof(int) * (size_t)c->b * c->per_seq);
	ALLOC(c->ws, kvw_decode_workspace(c->b, c->H, c->D, 4));
	KVW_CU(kvw_fill_bf16(c->q, nq, 41u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(c->k, npool, 42u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(c->v, npool, 43u, 1.0f, 0));
	KVW_CU(cudaMemset(c->o, 0xFF, 2 * nq)); /* NaN poison: every output must be written */
	KVW_CU(cudaMemset(c->o2, 0xFF, 2 * nq));
	if ((err = make_table(c->table, c->b, c->per_seq, c->pool_blocks, d)))
		goto out;
	KVW_CU(cudaMemcpy(c->hq, c->q, 2 * nq, cudaMemcpyDeviceToHost));
	KVW_CU(cudaMemcpy(c->hk, c->k, 2 * npool, cudaMemcpyDeviceToHost));
	KVW_CU(cudaMemcpy(c->hv, c->v, 2 * npool, cudaMemcpyDeviceToHost));
	KVW_CU(cudaMemcpy(c->ht, c->table, sizeof(int) * (size_t)c->b * c->per_seq, cudaMemcpyDeviceToHost));
out:
	return err;
}

static kvw_err fail_check(kvw_probe_run *r, const char *variant, long long wrong, long long n, const char *what,
                          kvw_diag *d)
{
	kvw_record rec = kvw_record_new("decode", variant);
	rec.checked = n, rec.wrong = wrong, rec.status = KVW_ST_FAILED;
	snprintf(rec.reason, sizeof rec.reason, "%lld of %lld outputs off %s", wrong, n, what);
	kvw_err err = kvw_probe_emit(r, &rec, d);
	return err ? err : kvw_fail(d, KVW_EVERIFY, "decode: attention numerics wrong (%s), no timing taken", what);
}

/* *use_cudnn and why: whether cuDNN's paged SDPA runs the curve */
static kvw_err check_attention(kvw_probe_run *r, const dshape *s, bool *use_cudnn, char *why, size_t cap,
                               long long *checked, kvw_diag *d)
{
	dcheck c = { .b = 3, .ctx = 300, .H = s->heads, .Hk = s->kv_heads, .D = s->dim };
	c.per_seq = 320 / BT, c.pool_blocks = 2 * c.b * c.per_seq;
	kvw_err err = check_setup(&c, d);
	long long n = (long long)c.b * c.H * c.D;
	*use_cudnn = false;
	if (err)
		goto out;
	kvw_decode_args a = { c.q, c.k, c.v, c.table, c.o, c.ws, c.b, c.ctx, c.per_seq, c.H, c.Hk, c.D, 4 };
	KVW_CU(kvw_decode_attention(&a, 0));
	KVW_CU(cudaMemcpy(c.ho, c.o, 2 * (size_t)n, cudaMemcpyDeviceToHost));
	long long wrong = host_wrong(&c, c.ho);
	*checked = n;
	if (wrong) {
		err = wrong < 0 ? kvw_fail(d, KVW_ESYS, "out of memory") : fail_check(r, "attention_check_own", wrong, n,
		                                                                      "the double-precision reference", d);
		goto out;
	}
	/* cuDNN at a whole number of blocks, against the own kernel there */
	kvw_sdpa_shape sh = { c.b, 1, 320, c.H, c.Hk, c.D, c.D, false, KVW_SDPA_BF16, BT, c.pool_blocks };
	kvw_sdpa *p = NULL;
	if (kvw_sdpa_create(&sh, &p, why, cap) == 0) {
		a.ctx = 320;
		KVW_CU(kvw_decode_attention(&a, 0));
		if (kvw_sdpa_run(p, c.q, c.k, c.v, c.o2, c.table, 0, why, cap) == 0) {
			KVW_CU(cudaDeviceSynchronize());
			KVW_CU(cudaMemcpy(c.ho, c.o, 2 * (size_t)n, cudaMemcpyDeviceToHost));
			KVW_CU(cudaMemcpy(c.ho2, c.o2, 2 * (size_t)n, cudaMemcpyDeviceToHost));
			long long off = 0;
			for (long long i = 0; i < n; i++)
				off += !(fabs(bf2f(c.ho2[i]) - bf2f(c.ho[i])) <= fabs(bf2f(c.ho[i])) / 64 + 2e-2);
			if (off)
				snprintf(why, cap, "cuDNN paged SDPA: %lld of %lld outputs off the own kernel", off, n);
			*use_cudnn = off == 0;
		}
	}
	kvw_sdpa_destroy(p);
out:
	check_free(&c);
	return err;
}

/* ---- the curve ----------------------------------------------------------------- */

static double read_bandwidth(kvw_probe_run *r, char *source, size_t cap)
{
	const json_t *hbm = json_object_get(r->profile, "hbm");
	double gbps = json_number_value(json_object_get(hbm, "read_GBps"));
	if (gbps > 0) {
		snprintf(source, cap, "hbm probe read kernel, this run: %.0f GB/s", gbps);
		return gbps * 1e9;
	}
	struct cudaDeviceProp prop;
	int dev = 0;
	kvw_hw_gpu g;
	kvw_diag ignore;
	cudaGetDevice(&dev);
	const char *sheet = cudaGetDeviceProperties(&prop, dev) == cudaSuccess ? kvw_gpu_sheet_for(prop.name) : NULL;
	if (sheet && !kvw_catalog_gpu(sheet, &g, &ignore) && g.hbm_bw > 0) {
		snprintf(source, cap, "spec sheet %s: %.0f GB/s (no hbm probe in this run)", g.name, g.hbm_bw / 1e9);
		return g.hbm_bw;
	}
	snprintf(source, cap, "none: no hbm probe in this run and no spec sheet for this GPU");
	return NAN;
}

/* one (batch, ctx, dtype) point; *pt filled, or a skip recorded */
static kvw_err point(kvw_probe_run *r, const kvw_arch *a, bool fp8, int b, int L, bool try_cudnn, double read_bw, json_t *points, long long checked, int *backend_cudnn, char *why, size_t cap,
                     kvw_diag *d)
{
	kvw_err err = KVW_OK;
	dstep p = { .fp8 = fp8, .batch = b };
	shape_for(a, b, &p.s);
	int keys = p.s.window > 0 && p.s.window < L ? p.s.window : L;
	p.ctx = keys, p.per_seq = (keys + BT - 1) / BT, p.pool_blocks = b * p.per_seq;
	int sms = 0, dev = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
	p.splits = kvw_decode_splits(keys, b, p.s.kv_heads, sms);
	kvw_kvfmt f = { KVW_DT_BF16, 1 };
	double kv_tok = kvw_kv_bytes_per_token_layer(a, &f);
	/* the K and V pools, the weights, and 1 GiB for activations and workspaces */
	size_t need = (size_t)((double)p.pool_blocks * BT * kv_tok + p.s.params * (fp8 ? 1 : 2)) + ((size_t)1 << 30);
	size_t free_b = 0, total = 0;
	char variant[96], reason[256];
	snprintf(variant, sizeof variant, "step_%s_%s_b%d_ctx%d", fp8 ? "fp8" : "bf16", a->name, b, L);
	KVW_CU(cudaMemGetInfo(&free_b, &total));
	if (!kvw_fits_memory(variant, need, free_b, (size_t)2 << 30, reason, sizeof reason)) {
		kvw_record rec = kvw_record_new("decode", variant);
		rec.status = KVW_ST_SKIPPED;
		snprintf(rec.reason, sizeof rec.reason, "%s", reason);
		return kvw_probe_emit(r, &rec, d);
	}
	if ((err = step_alloc(&p, d)))
		goto out;
	if (try_cudnn) {
		kvw_sdpa_shape sh = { b, 1, p.per_seq * BT, p.s.heads, p.s.kv_heads, p.s.dim, p.s.dim, false, KVW_SDPA_BF16, BT,
		                      p.pool_blocks };
		/* cuDNN attends to whole blocks: ctx rounded up to 16 (< 16 extra keys) */
		if (kvw_sdpa_create(&sh, &p.sdpa, why, cap) == 0 && capture(&p, d) != KVW_OK) {
			snprintf(why, cap, "cuDNN paged SDPA under CUDA graph capture failed: %s", d->msg);
			if (p.graph)
				cudaGraphDestroy(p.graph);
			p.graph = NULL;
			kvw_sdpa_destroy(p.sdpa);
			p.sdpa = NULL;
			cudaGetLastError();
		}
	}
	*backend_cudnn = p.sdpa != NULL;
	if (!p.exec && (err = capture(&p, d)))
		goto out;
	p.reps = 1;
	double once = time_step(&p);
	if (!(once > 0)) {
		err = kvw_fail(d, KVW_EDRIVER, "decode %s: the graph replay failed", variant);
		goto out;
	}
	p.reps = (int)fmax(10, fmin(1000, 0.02 / once)); /* about 20 ms of replays per repetition */
	kvw_record rec = kvw_record_new("decode", variant);
	rec.iterations = 1;
	rec.repetitions = r->quick ? 5 : 7;
	if ((err = kvw_gbench_measure(variant, time_step, &p, 1, rec.repetitions, &rec.time_s, d)))
		goto out;
	kvw_decode_point dp;
	double bytes = kvw_decode_layer_bytes(p.s.params, fp8 ? 1 : 2, b, keys, kv_tok);
	kvw_decode_point_fill(&dp, b, L, rec.time_s.median, a->n_layers, bytes, read_bw);
	rec.bytes = bytes;
	rec.gbps = dp.achieved_gbps;
	rec.checked = checked; /* the attention check of this backend, above */
	json_t *j = json_object();
	json_object_set_new(j, "batch", json_integer(b));
	json_object_set_new(j, "ctx", json_integer(L));
	json_object_set_new(j, "layer_s", kvw_num(dp.layer_s));
	json_object_set_new(j, "step_s", kvw_num(dp.step_s));
	json_object_set_new(j, "bytes", kvw_num(dp.bytes));
	json_object_set_new(j, "achieved_GBps", kvw_num(dp.achieved_gbps));
	json_object_set_new(j, "bound_s", kvw_num(dp.bound_s));
	json_object_set_new(j, "fixed_s", kvw_num(dp.fixed_s));
	json_object_set_new(j, "backend", json_string(p.sdpa ? "cudnn" : "own"));
	json_object_set_new(j, "stddev_s", kvw_num(rec.time_s.stddev));
	json_array_append_new(points, j);
	err = kvw_probe_emit(r, &rec, d);
out:
	step_free(&p);
	return err;
}

static const char *mla_reason(const kvw_arch *a, char *buf, size_t cap)
{
	if (kvw_mla_decode_reason(a, buf, cap))
		return buf;
	if (!kvw_decode_supported(a->head_dim, a->n_heads, a->n_kv_heads))
		return "the own decode kernel handles head sizes 64 and 128 with at most 8 query heads per KV head";
	return NULL;
}

static kvw_err curve(kvw_probe_run *r, const kvw_arch *a, bool fp8, bool cudnn_ok, const char *cudnn_why,
                     double read_bw, const char *bw_source, long long checked, kvw_diag *d)
{
	static const int batches[] = { 1, 8, 32, 64, 128, 256 }, quick_b[] = { 1, 32, 128 };
	static const int ctxs[] = { 1024, 4096, 16384, 32768, 131072 }, quick_c[] = { 1024, 8192, 32768 };
	const int *bs = r->quick ? quick_b : batches, *cs = r->quick ? quick_c : ctxs;
	int nb = r->quick ? 3 : 6, nc = r->quick ? 3 : 5, any_cudnn = 0, all_cudnn = 1;
	json_t *sec = json_object(), *pts = json_array();
	char why[256];
	snprintf(why, sizeof why, "%s", cudnn_why ? cudnn_why : "");
	kvw_err err = KVW_OK;
	for (int i = 0; i < nb && !err; i++)
		for (int k = 0; k < nc && !err; k++) {
			int used = 0;
			fprintf(stderr, "kvwall probe: decode %s batch %d ctx %d\n", fp8 ? "fp8" : "bf16", bs[i], cs[k]);
			err = point(r, a, fp8, bs[i], cs[k], cudnn_ok, read_bw, pts, checked, &used, why, sizeof why, d);
			any_cudnn |= used, all_cudnn &= used;
		}
	json_object_set_new(sec, "model", json_string(a->name));
	json_object_set_new(sec, "dtype", json_string(fp8 ? "fp8" : "bf16"));
	json_object_set_new(sec, "kv_dtype", json_string("bf16"));
	json_object_set_new(sec, "tp", json_integer(1));
	json_object_set_new(sec, "n_layers", json_integer(a->n_layers));
	json_object_set_new(sec, "block_tokens", json_integer(BT));
	json_object_set_new(sec, "backend", json_string(any_cudnn && all_cudnn ? "cudnn" : "own"));
	if (!(any_cudnn && all_cudnn))
		json_object_set_new(sec, "fallback_reason", json_string(why[0] ? why : "cuDNN not used"));
	json_object_set_new(sec, "cudnn_version", json_integer(kvw_cudnn_version()));
	json_object_set_new(sec, "bound_source", json_string(bw_source));
	json_object_set_new(sec, "bytes_convention", json_string("weights of the layer + the batch's KV; activations "
	                    "left out"));
	json_object_set_new(sec, "points", pts);
	if (err || json_array_size(pts) == 0) {
		json_decref(sec);
		return err;
	}
	/* profile.decode is the bf16 curve (the planner's); fp8 beside it */
	json_object_set_new(r->profile, fp8 ? "decode_fp8" : "decode", sec);
	return KVW_OK;
}


static kvw_err decode_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_arch *a = malloc(sizeof *a);
	kvw_err err = a ? kvw_probe_model(r, a, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err)
		goto out;
	char nobuf[256];
	const char *no = mla_reason(a, nobuf, sizeof nobuf);
	if (no) {
		kvw_record rec = kvw_record_new("decode", a->name);
		rec.status = KVW_ST_SKIPPED;
		snprintf(rec.reason, sizeof rec.reason, "%.200s (%.50s)", no, a->name);
		err = kvw_probe_emit(r, &rec, d);
		goto out;
	}
	dshape s;
	shape_for(a, 1, &s);
	bool use_cudnn = false;
	char why[256] = "", src[160];
	long long checked = 0;
	if ((err = check_attention(r, &s, &use_cudnn, why, sizeof why, &checked, d)))
		goto out;
	if (!use_cudnn && !why[0])
		snprintf(why, sizeof why, "%s", kvw_cudnn_unavailable() ? kvw_cudnn_unavailable() : "cuDNN not used");
	double bw = read_bandwidth(r, src, sizeof src);
	if ((err = curve(r, a, false, use_cudnn, why, bw, src, checked, d)))
		goto out;
	if (kvw_gpu_has_fp8())
		err = curve(r, a, true, use_cudnn, why, bw, src, checked, d);
out:
	free(a);
	return err;
}

#else /* built without CUDA */

static kvw_err decode_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without CUDA");
}

#endif

const kvw_probe kvw_probe_decode = {
	.name = "decode",
	.summary = "one decode step of one layer of --model, batch 1-256 x context 1k-128k, paged KV, bf16 and fp8 "
	           "weights, as a CUDA graph: achieved HBM GB/s and the fixed time per layer",
	.needs = KVW_NEED_CUDA,
	.unavailable = need_gpu,
	.run = decode_run,
};
