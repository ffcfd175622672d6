/* validate_gpu.c — the measuring half of kvwall validate (see validate.h).
 *
 * 1. The profile of this run: the hbm (with its device-to-device fit),
 *    host_link, tcp and overlap probes, then the prefill probe once per
 *    model (each model's own GEMM and attention curve).
 * 2. Recompute, per model and prompt length L: every layer of the model
 *    for L tokens, in order, on one stream: RMSNorm, the fused QKV GEMM,
 *    RoPE and the K/V write into the layer's KV cache, causal attention,
 *    the O GEMM and residual add, RMSNorm, the gate+up GEMM, SiLU x up,
 *    the down GEMM and residual add (cuBLASLt bf16 GEMMs, layer.cu, and the
 *    attention backend the prefill probe measured for the model: cuDNN's
 *    fused attention, else attention.cu).  Weights cycle over `distinct` sets when the model's do
 *    not all fit; each set is hundreds of MB, far past L2, so the reuse
 *    changes no timing.
 * 3. Transfer, per path: the L tokens' KV moved layer by layer, one
 *    message per layer, the next layer's message right after the last:
 *      pinned_h2d     cudaMemcpyAsync from pinned host memory
 *      pageable_h2d   the same from malloc'd memory
 *      tcp_gpu_staged device-to-host staging, then TCP over loopback, the
 *                     tcp probe's path (4 streams, acknowledged)
 *      d2d            cudaMemcpyAsync device to device
 *    wall time from the first enqueue to the last byte's arrival.
 * 4. Split: recompute the first k tokens while the other L - k tokens' KV
 *    is transferred, concurrently (two streams, or the TCP sender on the
 *    host thread), k the model's best split (else L / 2).
 * Times are the median of repetitions through Google Benchmark, after one
 * warm-up run.  Copies are checked after timing, into a poisoned receive
 * slot (TCP: sent once more through a poisoned staging buffer, each
 * stream's checksum against the source's pattern).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kvw_config.h"
#include "kvw_gpu.h"
#include "kvw_model.h"
#include "out.h"
#include "probe.h"
#include "registry.h"
#include "scenario.h"
#include "tcp.h"
#include "validate.h"

#define MAX_MODELS 16
#define N_PATHS 4

static const char *const default_models[] = { "llama-2-7b", "llama-3-8b", "deepseek-v3" };
static const char *const path_names[N_PATHS] = { "pinned_h2d", "pageable_h2d", "tcp_gpu_staged", "d2d" };

enum { P_PINNED, P_PAGEABLE, P_TCP, P_D2D };

static int path_index(const char *name)
{
	for (int i = 0; i < N_PATHS; i++)
		if (strcmp(name, path_names[i]) == 0)
			return i;
	return -1;
}

/* why this model's layer cannot be built by validate, NULL when it can */
static const char *unbuildable(const kvw_arch *a, char *buf, size_t cap)
{
	if (a->attn == KVW_ATTN_MLA)
		snprintf(buf, cap, "MLA attention (query/key head size %d, value %d): the attention kernel handles "
		         "one head size of 64 or 128 for Q, K and V", a->qk_head_dim, a->v_head_dim);
	else if (a->n_experts > 0)
		snprintf(buf, cap, "mixture-of-experts FFN: expert routing is not built");
	else if (!a->ffn_gated)
		snprintf(buf, cap, "non-gated FFN: only SiLU-gated FFNs are built");
	else if (a->head_dim != 64 && a->head_dim != 128)
		snprintf(buf, cap, "head size %d: the attention kernel handles 64 and 128", a->head_dim);
	else if (a->n_groups != 1 || a->groups[0].window != 0)
		snprintf(buf, cap, "sliding-window layers are not built");
	else
		return NULL;
	return buf;
}

#ifdef KVW_HAVE_CUDA
#include "copycheck.h"
#include "kvw_cuda.h"
#include "kvw_cudnn.h"
#include "kvw_gbench.h"
#include "kvw_gemm.h"
#include "kvw_kernels.h"

enum { QKV, O, UP, DOWN, N_GEMM };

typedef struct engine {
	const kvw_arch *a;
	long h, qd, kvd, n[N_GEMM], k[N_GEMM], inter;
	int layers, distinct, rdev, rhost;
	long max_t;
	void **w;      /* distinct x N_GEMM weights */
	void *gamma;   /* RMSNorm weights, shared */
	void *x, *xn, *big, *q, *o, *tmp, *act;
	void **kv;     /* distinct KV cache slots: K [T][kvd] then V [T][kvd] */
	void **recv;   /* rdev receiving slots on the device */
	void **pinned, **pageable; /* rhost host slots each */
	size_t slot_bytes;
	kvw_gemm *g[N_GEMM];
	long g_tokens;
	bool use_cudnn;  /* attention as the prefill probe ran it: cuDNN, else the own kernel */
	kvw_sdpa *att;   /* cuDNN's graph for g_tokens, NULL: the own kernel */
	char att_why[256];
	cudaStream_t cs, xs; /* compute, copy */
	kvw_tcp_pipe *pipe;
	unsigned long long *wrong_dev;
} engine;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static size_t kv_layer_bytes(const engine *e, long t)
{
	return (size_t)2 * (size_t)t * (size_t)e->kvd * 2;
}

static void free_gemms(engine *e)
{
	for (int i = 0; i < N_GEMM; i++) {
		kvw_gemm_destroy(e->g[i]);
		e->g[i] = NULL;
	}
	kvw_sdpa_destroy(e->att);
	e->att = NULL;
	e->g_tokens = 0;
}

static kvw_err gemms_for(engine *e, long t, kvw_diag *d)
{
	if (e->g_tokens == t)
		return KVW_OK;
	free_gemms(e);
	for (int i = 0; i < N_GEMM; i++) {
		kvw_err err = kvw_gemm_create(&e->g[i], t, e->n[i], e->k[i], false, d);
		if (err) {
			free_gemms(e);
			return err;
		}
	}
	if (e->use_cudnn) { /* a refused size runs the own kernel, the reason kept */
		kvw_sdpa_shape sh = { 1, (int)t, (int)t, e->a->n_heads, e->a->n_kv_heads, e->a->head_dim, e->a->head_dim,
		                      true, KVW_SDPA_BF16, 0, 0 };
		if (kvw_sdpa_create(&sh, &e->att, e->att_why, sizeof e->att_why) != 0)
			e->att = NULL;
	}
	e->g_tokens = t;
	return KVW_OK;
}

static void engine_free(engine *e)
{
	free_gemms(e);
	for (int i = 0; e->w && i < e->distinct * N_GEMM; i++)
		cudaFree(e->w[i]);
	for (int i = 0; e->kv && i < e->distinct; i++)
		cudaFree(e->kv[i]);
	for (int i = 0; e->recv && i < e->rdev; i++)
		cudaFree(e->recv[i]);
	for (int i = 0; e->pinned && i < e->rhost; i++)
		cudaFreeHost(e->pinned[i]);
	for (int i = 0; e->pageable && i < e->rhost; i++)
		free(e->pageable[i]);
	void *bufs[] = { e->gamma, e->x, e->xn, e->big, e->q, e->o, e->tmp, e->act, e->wrong_dev };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		cudaFree(bufs[i]);
	free(e->w);
	free(e->kv);
	free(e->recv);
	free(e->pinned);
	free(e->pageable);
	if (e->cs)
		cudaStreamDestroy(e->cs);
	if (e->xs)
		cudaStreamDestroy(e->xs);
	kvw_tcp_pipe_close(e->pipe);
	memset(e, 0, sizeof *e);
}

static void *host_slot_alloc(size_t n)
{
	void *p = malloc(n);
	if (p)
		memset(p, 0, n); /* touch every page before timing */
	return p;
}

/* sizes the engine for prompts up to max_t tokens and allocates it */
static kvw_err engine_init(engine *e, const kvw_arch *a, long max_t, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	memset(e, 0, sizeof *e);
	e->a = a;
	e->h = a->hidden;
	e->qd = (long)a->n_heads * a->head_dim;
	e->kvd = (long)a->n_kv_heads * a->head_dim;
	e->inter = a->intermediate;
	e->layers = a->n_layers;
	e->max_t = max_t;
	e->n[QKV] = e->qd + 2 * e->kvd, e->k[QKV] = e->h;
	e->n[O] = e->h, e->k[O] = e->qd;
	e->n[UP] = 2 * e->inter, e->k[UP] = e->h;
	e->n[DOWN] = e->h, e->k[DOWN] = e->inter;
	size_t T = (size_t)max_t, wbytes = 0;
	for (int i = 0; i < N_GEMM; i++)
		wbytes += 2 * (size_t)e->n[i] * (size_t)e->k[i];
	size_t big = (size_t)(e->n[QKV] > e->n[UP] ? e->n[QKV] : e->n[UP]);
	size_t act = 2 * T * (3 * (size_t)e->h + big + 2 * (size_t)e->qd + (size_t)e->inter);
	e->slot_bytes = kv_layer_bytes(e, max_t);
	size_t free_b = 0, total = 0;
	KVW_CU(cudaMemGetInfo(&free_b, &total));
	size_t reserve = (size_t)3 << 30, need_min = act + 3 * e->slot_bytes + wbytes + reserve;
	if (need_min > free_b) {
		err = kvw_fail(d, KVW_ESYS, "validate: %s at %ld tokens needs %.1f GiB of GPU memory, %.1f GiB are free: "
		               "lower --max-ctx", a->name, max_t, need_min / 1073741824.0, free_b / 1073741824.0);
		goto out;
	}
	e->rdev = 2;
	long fit = (long)((free_b - act - 2 * e->slot_bytes - reserve) / (wbytes + e->slot_bytes));
	e->distinct = (int)(fit < e->layers ? fit : e->layers);
	size_t host_cap = (size_t)8 << 30;
	e->rhost = (int)(host_cap / e->slot_bytes < 1 ? 1 : host_cap / e->slot_bytes);
	e->rhost = e->rhost < e->layers ? e->rhost : e->layers;
	e->w = calloc((size_t)e->distinct * N_GEMM, sizeof *e->w);
	e->kv = calloc((size_t)e->distinct, sizeof *e->kv);
	e->recv = calloc((size_t)e->rdev, sizeof *e->recv);
	e->pinned = calloc((size_t)e->rhost, sizeof *e->pinned);
	e->pageable = calloc((size_t)e->rhost, sizeof *e->pageable);
	if (!e->w || !e->kv || !e->recv || !e->pinned || !e->pageable) {
		err = kvw_fail(d, KVW_ESYS, "out of memory");
		goto out;
	}
	KVW_CU(cudaStreamCreateWithFlags(&e->cs, cudaStreamNonBlocking));
	KVW_CU(cudaStreamCreateWithFlags(&e->xs, cudaStreamNonBlocking));
	for (int l = 0; l < e->distinct; l++) {
		for (int i = 0; i < N_GEMM; i++) {
			size_t n = (size_t)e->n[i] * (size_t)e->k[i];
			void **w = &e->w[l * N_GEMM + i];
			KVW_CU(cudaMalloc(w, 2 * n));
			/* uniform in +-sqrt(3 / k): unit-variance outputs for unit inputs */
			KVW_CU(kvw_fill_bf16(*w, n, 1000u + (unsigned)(l * N_GEMM + i), sqrtf(3.0f / (float)e->k[i]), 0));
		}
		KVW_CU(cudaMalloc(&e->kv[l], e->slot_bytes));
	}
	for (int i = 0; i < e->rdev; i++)
		KVW_CU(cudaMalloc(&e->recv[i], e->slot_bytes));
	for (int i = 0; i < e->rhost; i++) {
		KVW_CU(cudaHostAlloc(&e->pinned[i], e->slot_bytes, cudaHostAllocDefault));
		kvw_pattern_fill_host(e->pinned[i], e->slot_bytes / 16, 500u + (unsigned)i);
		if (!(e->pageable[i] = host_slot_alloc(e->slot_bytes))) {
			err = kvw_fail(d, KVW_ESYS, "validate: cannot allocate %zu bytes of host memory", e->slot_bytes);
			goto out;
		}
		kvw_pattern_fill_host(e->pageable[i], e->slot_bytes / 16, 600u + (unsigned)i);
	}
	KVW_CU(cudaMalloc(&e->gamma, 2 * (size_t)e->h));
	KVW_CU(kvw_fill_bf16(e->gamma, (size_t)e->h, 7u, 1.0f, 0));
	KVW_CU(cudaMalloc(&e->x, 2 * T * (size_t)e->h));
	KVW_CU(kvw_fill_bf16(e->x, T * (size_t)e->h, 8u, 1.0f, 0)); /* the layers' input: random, never garbage */
	KVW_CU(cudaMalloc(&e->xn, 2 * T * (size_t)e->h));
	KVW_CU(cudaMalloc(&e->tmp, 2 * T * (size_t)e->h));
	KVW_CU(cudaMalloc(&e->big, 2 * T * big));
	KVW_CU(cudaMalloc(&e->q, 2 * T * (size_t)e->qd));
	KVW_CU(cudaMalloc(&e->o, 2 * T * (size_t)e->qd));
	KVW_CU(cudaMalloc(&e->act, 2 * T * (size_t)e->inter));
	KVW_CU(cudaMalloc((void **)&e->wrong_dev, sizeof *e->wrong_dev));
	KVW_CU(cudaDeviceSynchronize());
out:
	if (err)
		engine_free(e);
	return err;
}

/* every layer for t tokens on stream s (the embedding lookup is a gather,
 * left out; the input rows start random, filled once, and carry the
 * residual stream of the runs before) */
static cudaError_t forward(engine *e, long t, cudaStream_t s)
{
	const kvw_arch *a = e->a;
	size_t rows = (size_t)t;
#define GEMM(i, x, y) \
	do { \
		if (kvw_gemm_run(e->g[i], w[i], (x), (y), s) != 0) \
			return cudaErrorUnknown; \
	} while (0)
	for (int l = 0; l < e->layers; l++) {
		int slot = l % e->distinct;
		void **w = &e->w[slot * N_GEMM];
		char *k = e->kv[slot], *v = k + 2 * rows * (size_t)e->kvd;
		KVW_CU_RET(kvw_rmsnorm(e->x, e->gamma, e->xn, t, e->h, 1e-5f, s));
		GEMM(QKV, e->xn, e->big);
		KVW_CU_RET(kvw_qkv_split(e->big, e->q, k, v, t, a->n_heads, a->n_kv_heads, a->head_dim, 10000.0f, s));
		if (e->att) {
			char why[256];
			if (kvw_sdpa_run(e->att, e->q, k, v, e->o, NULL, s, why, sizeof why) != 0)
				return cudaErrorUnknown;
		} else {
			KVW_CU_RET(kvw_attention(e->q, k, v, e->o, (int)t, a->n_heads, a->n_kv_heads, a->head_dim, s));
		}
		GEMM(O, e->o, e->tmp);
		KVW_CU_RET(kvw_add(e->x, e->tmp, rows * (size_t)e->h, s));
		KVW_CU_RET(kvw_rmsnorm(e->x, e->gamma, e->xn, t, e->h, 1e-5f, s));
		GEMM(UP, e->xn, e->big);
		KVW_CU_RET(kvw_silu_mul(e->big, e->act, t, e->inter, s));
		GEMM(DOWN, e->act, e->tmp);
		KVW_CU_RET(kvw_add(e->x, e->tmp, rows * (size_t)e->h, s));
	}
#undef GEMM
	return cudaSuccess;
}

/* enqueues (or, for TCP, performs) the layer-by-layer transfer of t
 * tokens' KV; 0, or nonzero on failure */
static int transfer(engine *e, int path, long t)
{
	size_t bytes = kv_layer_bytes(e, t);
	for (int l = 0; l < e->layers; l++) {
		void *dst = e->recv[l % e->rdev];
		cudaError_t c = cudaSuccess;
		switch (path) {
		case P_PINNED:
			c = cudaMemcpyAsync(dst, e->pinned[l % e->rhost], bytes, cudaMemcpyHostToDevice, e->xs);
			break;
		case P_PAGEABLE:
			c = cudaMemcpyAsync(dst, e->pageable[l % e->rhost], bytes, cudaMemcpyHostToDevice, e->xs);
			break;
		case P_D2D:
			c = cudaMemcpyAsync(dst, e->kv[l % e->distinct], bytes, cudaMemcpyDeviceToDevice, e->xs);
			break;
		case P_TCP:
			if (kvw_tcp_pipe_send_gpu(e->pipe, e->kv[l % e->distinct], bytes) < 0)
				return 1;
			break;
		}
		if (c != cudaSuccess)
			return 1;
	}
	return 0;
}

typedef struct job {
	engine *e;
	int path;     /* -1: recompute only */
	long tokens;  /* transferred tokens (or recomputed, path -1) */
	long prefix;  /* recomputed tokens alongside the transfer; 0: none */
} job;

static double time_job(void *arg)
{
	job *j = arg;
	engine *e = j->e;
	long compute = j->path < 0 ? j->tokens : j->prefix;
	double t0 = now();
	if (compute > 0 && forward(e, compute, e->cs) != cudaSuccess)
		return -1;
	if (j->path >= 0 && transfer(e, j->path, j->tokens) != 0)
		return -1;
	if (cudaStreamSynchronize(e->xs) != cudaSuccess || cudaStreamSynchronize(e->cs) != cudaSuccess)
		return -1;
	return now() - t0;
}

/* repetitions after the shim's warm-up run; *out: median and spread */
static kvw_err measure(job *j, const char *name, bool quick, kvw_tstats *out, kvw_diag *d)
{
	long need = j->path < 0 ? j->tokens : j->prefix;
	kvw_err err = need > 0 ? gemms_for(j->e, need, d) : KVW_OK;
	if (err)
		return err;
	long reps = quick || j->tokens >= 32768 ? 3 : 5;
	err = kvw_gbench_measure(name, time_job, j, 1, reps, out, d);
	return err == KVW_EDRIVER ? kvw_fail(d, err, "validate %s: a timed run failed", name) : err;
}

/* the check of one path's copy (netprobe/copycheck.h): the receiving
 * slot is poisoned, the copy runs once more, every element is compared
 * (pinned, pageable: the host pattern; d2d: a pattern put into the source
 * slot first) */
typedef struct vcheck {
	engine *e;
	int path;
	size_t bytes;
	unsigned seed;
	void *src;
} vcheck;

static int vc_poison(void *arg)
{
	vcheck *c = arg;
	return cudaMemsetAsync(c->e->recv[0], 0xA5, c->bytes, c->e->xs) != cudaSuccess
	       || cudaStreamSynchronize(c->e->xs) != cudaSuccess;
}

static int vc_copy(void *arg)
{
	vcheck *c = arg;
	enum cudaMemcpyKind kind = c->path == P_D2D ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;
	return cudaMemcpyAsync(c->e->recv[0], c->src, c->bytes, kind, c->e->xs) != cudaSuccess;
}

static long long vc_wrong(void *arg)
{
	vcheck *c = arg;
	engine *e = c->e;
	unsigned long long wrong = 0;
	if (cudaMemsetAsync(e->wrong_dev, 0, sizeof wrong, e->xs) != cudaSuccess
	    || kvw_hbm_check(KVW_HBM_COPY, e->recv[0], c->bytes / 16, c->seed, 0, e->wrong_dev, e->xs) != cudaSuccess
	    || cudaMemcpyAsync(&wrong, e->wrong_dev, sizeof wrong, cudaMemcpyDeviceToHost, e->xs) != cudaSuccess
	    || cudaStreamSynchronize(e->xs) != cudaSuccess)
		return -1;
	return (long long)wrong;
}

/* the TCP path: a pattern put into the source slot, sent once more staged
 * through a poisoned buffer, each stream's checksum against the pattern's */
static kvw_err check_tcp(engine *e, size_t bytes, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	void *want = malloc(bytes);
	if (!want)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_pattern_fill_host(want, bytes / 16, 79u);
	KVW_CU(kvw_hbm_fill(e->kv[0], bytes / 16, 79u, e->xs));
	KVW_CU(cudaStreamSynchronize(e->xs));
	long long wrong = kvw_tcp_pipe_verify(e->pipe, e->kv[0], want, bytes);
	if (wrong < 0)
		err = kvw_fail(d, KVW_ESYS, "validate tcp_gpu_staged: the checked send failed");
	else if (wrong)
		err = kvw_fail(d, KVW_EVERIFY, "validate tcp_gpu_staged: %lld of %zu bytes arrived wrong", wrong, bytes);
out:
	free(want);
	return err;
}

static kvw_err check_copy(engine *e, int path, long t, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t bytes = kv_layer_bytes(e, t), n = bytes / 16;
	vcheck c = { e, path, bytes, 0, NULL };
	if (path == P_TCP)
		return check_tcp(e, bytes, d);
	if (path == P_D2D) {
		c.seed = 77u;
		c.src = e->kv[0];
		KVW_CU(kvw_hbm_fill(e->kv[0], n, c.seed, e->xs));
	} else {
		c.seed = path == P_PINNED ? 500u : 600u;
		c.src = path == P_PINNED ? e->pinned[0] : e->pageable[0];
	}
	kvw_copy_check chk = { vc_poison, vc_copy, vc_wrong, &c };
	long long wrong = kvw_copy_verify(&chk);
	if (wrong < 0)
		err = kvw_fail(d, KVW_EDRIVER, "validate %s at %ld tokens: the copy check failed (step %lld)",
		               path_names[path], t, -wrong);
	else if (wrong)
		err = kvw_fail(d, KVW_EVERIFY, "validate %s at %ld tokens: %lld of %zu 16-byte elements arrived wrong",
		               path_names[path], t, wrong, n);
out:
	return err;
}

/* the element-wise kernels against the host, before any timing */
static kvw_err check_layer_kernels(kvw_diag *d)
{
	long checked = 0, wrong = 0;
	cudaError_t e = kvw_layer_check(&checked, &wrong);
	if (e != cudaSuccess)
		return kvw_fail(d, KVW_EDRIVER, "validate: the element-wise kernel check failed: %s", cudaGetErrorString(e));
	if (wrong)
		return kvw_fail(d, KVW_EVERIFY, "validate: the layer's element-wise kernels are wrong on %ld of %ld "
		                "values against the host; nothing timed", wrong, checked);
	return KVW_OK;
}

/* ---- the run --------------------------------------------------------------------- */

static json_t *point(long tokens, const kvw_tstats *st)
{
	json_t *p = json_object();
	json_object_set_new(p, "tokens", json_integer(tokens));
	json_object_set_new(p, "seconds", kvw_num(st->median));
	json_object_set_new(p, "stddev_s", kvw_num(st->stddev));
	json_object_set_new(p, "min_s", kvw_num(st->min));
	json_object_set_new(p, "max_s", kvw_num(st->max));
	return p;
}

/* the profile link whose fit predicts a path */
static void profile_link(const json_t *profile, int path, char *out, size_t cap)
{
	const char *hl = json_string_value(json_object_get(json_object_get(profile, "host_link"), "path"));
	switch (path) {
	case P_PINNED: snprintf(out, cap, "%s_h2d_pinned", hl ? hl : "pcie"); break;
	case P_PAGEABLE: snprintf(out, cap, "%s_h2d_pageable", hl ? hl : "pcie"); break;
	case P_TCP: snprintf(out, cap, "tcp_loopback_gpu_staged_4streams"); break;
	default: snprintf(out, cap, "hbm_d2d"); break;
	}
}

static int run_probe(const char *name, kvw_probe_run *r, kvw_diag *d)
{
	const kvw_probe *p = kvw_probe_find(name);
	return p ? kvw_probe_run_one(p, r, d) : 2;
}

typedef struct vrun {
	const kvw_args *a;
	bool quick;
	long tokens[32];
	int nt;
	int paths[N_PATHS], np;
	json_t *profile;
} vrun;

/* the model's best split of L over a path, from the run's profile */
static long predicted_prefix(const vrun *v, const json_t *model_profile, const char *name, const char *link, long L)
{
	kvw_setup *s = malloc(sizeof *s);
	long k = L / 2;
	kvw_args pa = { .catalog = v->a->catalog, .model = name, .link = link, .kv_dtype = "bf16", .dtype = "bf16",
	                .tp = 1, .message_tokens = v->tokens[v->nt - 1] };
	kvw_diag ignore;
	if (s && !kvw_setup_with_profile(&pa, model_profile, "this run's profile", s, true, &ignore)) {
		kvw_split sp;
		kvw_split_best(&s->sc, L, &sp);
		if (sp.best_prefix > 0 && sp.best_prefix < L)
			k = sp.best_prefix;
	}
	free(s);
	return k;
}

static kvw_err measure_model(vrun *v, const kvw_arch *a, json_t *entry, kvw_diag *d)
{
	engine e;
	long max_t = v->tokens[v->nt - 1];
	kvw_err err = engine_init(&e, a, max_t, d);
	if (err)
		return err;
	json_object_set_new(entry, "layers", json_integer(e.layers));
	json_object_set_new(entry, "distinct_layers", json_integer(e.distinct));
	/* the attention backend the prefill probe measured (and checked) for this model */
	const char *pb = json_string_value(json_object_get(json_object_get(v->profile, "prefill_attention"), "backend"));
	e.use_cudnn = pb && strcmp(pb, "cudnn") == 0;
	json_object_set_new(entry, "attention_backend", json_string(e.use_cudnn ? "cudnn" : "own"));
	if (!kvw_attention_supported(a->head_dim, a->n_heads, a->n_kv_heads)) {
		err = kvw_fail(d, KVW_EUSAGE, "validate: attention of %s is not supported", a->name);
		goto out;
	}
	for (int i = 0; i < v->np && !err; i++)
		if (v->paths[i] == P_TCP)
			err = kvw_tcp_pipe_open(4, &e.pipe, d);
	json_t *rec = json_array(), *xfers = json_array(), *splits = json_array();
	json_object_set_new(entry, "recompute", rec);
	json_object_set_new(entry, "transfers", xfers);
	json_object_set_new(entry, "splits", splits);
	for (int i = 0; i < v->nt && !err; i++) {
		char name[96];
		snprintf(name, sizeof name, "validate/%s/recompute/%ldtok", a->name, v->tokens[i]);
		fprintf(stderr, "kvwall validate: %s\n", name);
		job j = { .e = &e, .path = -1, .tokens = v->tokens[i] };
		kvw_tstats st;
		if (!(err = measure(&j, name, v->quick, &st, d)))
			json_array_append_new(rec, point(v->tokens[i], &st));
	}
	for (int pi = 0; pi < v->np && !err; pi++) {
		int path = v->paths[pi];
		char link[96];
		profile_link(v->profile, path, link, sizeof link);
		json_t *x = json_object(), *pts = json_array();
		json_object_set_new(x, "path", json_string(path_names[path]));
		json_object_set_new(x, "profile_link", json_string(link));
		json_object_set_new(x, "points", pts);
		json_array_append_new(xfers, x);
		for (int i = 0; i < v->nt && !err; i++) {
			char name[128];
			snprintf(name, sizeof name, "validate/%s/%s/%ldtok", a->name, path_names[path], v->tokens[i]);
			fprintf(stderr, "kvwall validate: %s\n", name);
			job j = { .e = &e, .path = path, .tokens = v->tokens[i] };
			kvw_tstats st;
			if (!(err = measure(&j, name, v->quick, &st, d)) && !(err = check_copy(&e, path, v->tokens[i], d)))
				json_array_append_new(pts, point(v->tokens[i], &st));
		}
	}
	/* concurrent splits at 8k and 32k tokens (8k with --quick) */
	json_t *model_profile = json_deep_copy(v->profile);
	json_object_set(model_profile, "prefill", json_object_get(entry, "prefill"));
	for (int pi = 0; pi < v->np && !err; pi++) {
		int path = v->paths[pi];
		char link[96];
		profile_link(v->profile, path, link, sizeof link);
		for (long L = 8192; L <= (v->quick ? 8192 : 32768) && L <= max_t && !err; L *= 4) {
			long k = predicted_prefix(v, model_profile, a->name, link, L);
			char name[128];
			snprintf(name, sizeof name, "validate/%s/split_%s/%ldtok_prefix%ld", a->name, path_names[path], L, k);
			fprintf(stderr, "kvwall validate: %s\n", name);
			job j = { .e = &e, .path = path, .tokens = L - k, .prefix = k };
			kvw_tstats st;
			if (!(err = measure(&j, name, v->quick, &st, d))) {
				json_t *s = point(L, &st);
				json_object_set_new(s, "path", json_string(path_names[path]));
				json_object_set_new(s, "prefix", json_integer(k));
				json_array_append_new(splits, s);
			}
		}
	}
	json_decref(model_profile);
out:
	engine_free(&e);
	return err;
}

/* profile: a new profile object; the document takes it over */
static kvw_err measure_all(const kvw_args *a, const char **models, int nm, vrun *v, json_t *profile, json_t *doc,
                           kvw_diag *d)
{
	kvw_err err = check_layer_kernels(d);
	if (err) {
		json_decref(profile);
		return err;
	}
	kvw_args pa = *a;
	pa.model = NULL; /* the probes' model: the first buildable one */
	kvw_arch *first = malloc(sizeof *first);
	char why[256];
	for (int m = 0; first && m < nm && !pa.model; m++)
		if (!kvw_catalog_model(models[m], first, d) && !unbuildable(first, why, sizeof why))
			pa.model = models[m];
	free(first);
	if (!pa.model) {
		json_decref(profile);
		return kvw_fail(d, KVW_EUSAGE, "validate: none of the models can be built");
	}
	pa.no_kv = false;
	pa.streams = 4;
	kvw_probe_run r = { .quick = v->quick, .args = &pa, .profile = profile };
	v->profile = r.profile;
	json_object_set_new(r.profile, "label", json_string("measured by kvwall validate"));
	static const char *const probes[] = { "hbm", "host_link", "tcp", "overlap" };
	for (size_t i = 0; i < sizeof probes / sizeof *probes && !err; i++)
		if (run_probe(probes[i], &r, d) != 0)
			err = kvw_fail(d, KVW_EDRIVER, "validate: the %s probe failed (see above): no profile to predict from",
			               probes[i]);
	json_t *list = json_array();
	json_object_set_new(doc, "models", list);
	for (int m = 0; m < nm && !err; m++) {
		kvw_arch *arch = malloc(sizeof *arch);
		json_t *entry = json_object();
		json_array_append_new(list, entry);
		json_object_set_new(entry, "model", json_string(models[m]));
		if (!arch || (err = kvw_catalog_model(models[m], arch, d))) {
			err = arch ? err : kvw_fail(d, KVW_ESYS, "out of memory");
			free(arch);
			break;
		}
		if (unbuildable(arch, why, sizeof why)) {
			json_object_set_new(entry, "status", json_string("skipped"));
			json_object_set_new(entry, "reason", json_string(why));
			fprintf(stderr, "kvwall validate: %s skipped: %s\n", arch->name, why);
			free(arch);
			continue;
		}
		pa.model = models[m];
		json_object_del(r.profile, "prefill");
		if (run_probe("prefill", &r, d) != 0 || !json_object_get(r.profile, "prefill")) {
			err = kvw_fail(d, KVW_EDRIVER, "validate: the prefill probe failed on %s (see above)", arch->name);
			free(arch);
			break;
		}
		json_object_set(entry, "prefill", json_object_get(r.profile, "prefill"));
		json_object_set(entry, "prefill_gemm", json_object_get(r.profile, "prefill_gemm"));
		json_object_del(r.profile, "prefill");
		json_object_del(r.profile, "prefill_gemm");
		json_object_set_new(entry, "status", json_string("ok"));
		err = measure_model(v, arch, entry, d);
		free(arch);
	}
	json_t *results = json_array();
	for (int i = 0; i < r.n_records; i++)
		json_array_append_new(results, kvw_record_to_json(&r.records[i]));
	json_object_set_new(r.profile, "results", results);
	json_object_set_new(doc, "profile", r.profile);
	free(r.records);
	return err;
}
#endif /* KVW_HAVE_CUDA */

kvw_err kvw_validate_measure(const kvw_args *a, int argc, char **argv, json_t **out, kvw_diag *d)
{
	const char *models[MAX_MODELS];
	int nm = 0;
	if (a->models.n == 0)
		for (size_t i = 0; i < sizeof default_models / sizeof *default_models; i++)
			models[nm++] = default_models[i];
	for (int i = 0; i < a->models.n; i++)
		models[nm++] = a->models.v[i];
	kvw_arch *arch = malloc(sizeof *arch);
	if (!arch)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_err err = KVW_OK;
	int buildable = 0;
	char why[256];
	for (int i = 0; i < nm && !err; i++)
		if (!(err = kvw_catalog_model(models[i], arch, d)))
			buildable += unbuildable(arch, why, sizeof why) == NULL;
	free(arch);
	if (err)
		return err;
	if (buildable == 0)
		return kvw_fail(d, KVW_EUSAGE, "validate: none of the models can be built (%s)", why);
	int paths[N_PATHS], np = 0;
	for (int i = 0; i < a->links.n; i++) {
		int p = path_index(a->links.v[i]);
		if (p < 0)
			return kvw_fail(d, KVW_EUSAGE, "--link: unknown path '%s' (pinned_h2d, pageable_h2d, tcp_gpu_staged, d2d)",
			                a->links.v[i]);
		paths[np++] = p;
	}
	if (np == 0)
		for (int i = 0; i < N_PATHS; i++)
			paths[np++] = i;
	long lo = a->min_ctx, hi = a->quick && !kvw_opts_seen(a, "max-ctx") ? 32768 : a->max_ctx;
	if (hi / lo < 2)
		return kvw_fail(d, KVW_EUSAGE, "validate: the context range %ld .. %ld holds fewer than two powers of two "
		                "from --min-ctx", lo, hi);
	const char *no_gpu = kvw_gpu_unavailable(1);
	if (no_gpu)
		return kvw_fail(d, KVW_EDRIVER, "validate measures on a GPU: %s (re-analyse a recorded run with --from FILE)",
		                no_gpu);
#ifdef KVW_HAVE_CUDA
	vrun v = { .a = a, .quick = a->quick, .np = np };
	memcpy(v.paths, paths, sizeof paths);
	for (long L = lo; L <= hi && v.nt < 32; L *= 2)
		v.tokens[v.nt++] = L;
	/* the document shares the profile's provenance: tool, time, command, host */
	json_t *doc = json_object(), *profile = kvw_profile_new(argc, argv);
	json_object_set_new(doc, "schema", json_string(KVW_VALIDATE_SCHEMA));
	static const char *const shared[] = { "tool", "created_utc", "command", "host" };
	for (size_t i = 0; i < sizeof shared / sizeof *shared; i++)
		json_object_set(doc, shared[i], json_object_get(profile, shared[i]));
	json_object_set_new(doc, "label", json_string("measured by kvwall validate"));
	json_object_set_new(doc, "synthetic", json_false());
	err = measure_all(a, models, nm, &v, profile, doc, d);
	if (err) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return KVW_OK;
#else
	(void)argc, (void)argv, (void)out, (void)paths;
	return kvw_fail(d, KVW_EDRIVER, "validate: built without CUDA");
#endif
}
