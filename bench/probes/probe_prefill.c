/* probe_prefill.c — prefill throughput of real layer shapes, and how a
 * prefill and a host-link copy slow each other down.
 *
 *   prefill  one transformer layer's linear GEMMs for T tokens of the
 *            --model (default Llama-3-8B), shapes from kvw_layer_shapes_of
 *            (probe_math.h): MHA/GQA: QKV [h -> (H + 2K) d], O [H d -> h];
 *            MLA (DeepSeek) as vLLM runs its prefill: q_a+kv_a [h -> r_q +
 *            r_kv + rope], q_b [r_q -> H (nope + rope)], kv_b [r_kv -> H
 *            (nope + v)], O [H v -> h]; then gate+up [h -> 2 I] (plain FFN:
 *            I), down [I -> h]; MoE layers the router [h -> E] (bf16, as
 *            vLLM leaves it) and the FFN on T x (top-k + shared experts)
 *            tokens of one expert's width (the same FLOPs as the routed
 *            GEMMs, without the grouping).  bf16 with fp32 accumulation
 *            through cuBLASLt, and again with fp8 (e4m3) operands where the
 *            card has them (cc >= 8.9); T = 128 .. 131072.  TFLOP/s = 2 T
 *            sum(rows N K) / time, exactly the FLOPs the model charges the
 *            layer.  Before timing, a small GEMM on the same path is checked
 *            against a double-precision host reference; a wrong result fails
 *            the probe (exit 3) and nothing is timed.
 *            Then causal attention of the layer: GQA with head size 64 or
 *            128, and MLA in MHA form (H heads over H KV heads, d_qk = nope
 *            + rope = 192, d_v = 128 for DeepSeek-V3): through cuDNN's fused
 *            flash attention (the SDPA graph of the cuDNN frontend,
 *            kernels/cudnn_sdpa.cc, loaded at run time) where it loads and
 *            has the head sizes, else the own kernel (kernels/attention.cu,
 *            64 and 128 with d_qk = d_v only: MLA without cuDNN is recorded
 *            skipped with the reason).  The own kernel is checked first
 *            against an fp32 reference kernel at 200 tokens (partial tiles)
 *            and 256, and cuDNN against the own kernel there, or against the
 *            reference where the own kernel lacks the shape (a wrong MLA
 *            result fails the probe); each point records its backend, and
 *            profile.prefill_attention why cuDNN did not run where it did
 *            not.  fp8 (e4m3) attention through cuDNN where the card has it,
 *            checked likewise on the same inputs, goes to
 *            prefill_gemm.attention_fp8.  TFLOP/s = 2 H (d_qk + d_v) T (T +
 *            1) / 2 / time (the model's count), each timing a loop of
 *            launches between one pair of events.  The GEMM and attention
 *            curves become profile.prefill, which `kvwall crossover
 *            --profile` uses; fp8 GEMMs stay in prefill_gemm.
 *            For SiLU-gated dense layers also the element-wise kernels of
 *            one layer (two RMSNorms, RoPE + KV write, SiLU x up, two
 *            residual adds; kernels/layer.cu), microseconds per token:
 *            prefill.elementwise, which the model adds to the layer time.
 *   overlap  the layer's GEMMs (the same list, MLA included) at 8192 tokens
 *            on one stream while pinned 256 MiB host-to-device copies run
 *            on another: each side's time
 *            together over its time alone is the slowdown the layer-wise
 *            model applies (profile.interference); a ratio further under 1
 *            than the runs' noise is a failed record, not a clamped 1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_gpu.h"
#include "out.h"
#include "probe.h"

static const char *need_gpu(const kvw_mpi *mpi)
{
	(void)mpi;
	return kvw_gpu_unavailable(1);
}

#ifdef KVW_HAVE_CUDA
#include "kvw_config.h"
#include "kvw_cuda.h"
#include "kvw_cudnn.h"
#include "kvw_gbench.h"
#include "kvw_gemm.h"
#include "kvw_gpuplan.h"
#include "kvw_kernels.h"
#include "kvw_model.h"
#include "probe_math.h"

/* the layer's GEMMs (probe_math.h: kvw_layer_shapes_of) and the largest
 * operands over them, in bytes per token */
typedef struct layer {
	kvw_layer_shapes s;
	size_t max_in, max_out; /* bytes per token: 2 x rows x k, 2 x rows x n (bf16) */
} layer;

typedef struct gemm_job {
	bool fp8; /* e4m3 operands, else bf16 (a GEMM marked bf16 stays bf16) */
	int reps; /* layers between one pair of events */
	int n;    /* GEMMs */
	kvw_gemm *g[KVW_LAYER_MAX_GEMMS];
	void *w[KVW_LAYER_MAX_GEMMS], *x, *y;
	kvw_evtimer t;
} gemm_job;

static bool gemm_fp8(const gemm_job *j, const layer *l, int i)
{
	return j->fp8 && !l->s.g[i].bf16;
}

/* the layer of --model that the probes run: the MoE layer of a MoE model
 * (most of its layers), else the dense one */
static kvw_err layer_shapes(const kvw_arch *a, layer *l, kvw_diag *d)
{
	char why[256];
	if (!kvw_layer_shapes_of(a, a->n_experts > 0, &l->s, why, sizeof why))
		return kvw_fail(d, KVW_EINPUT, "prefill probe: %s", why);
	l->max_in = l->max_out = 0;
	for (int i = 0; i < l->s.n_gemm; i++) {
		const kvw_layer_gemm *g = &l->s.g[i];
		/* bf16 sizes: an fp8 run's operands fit in them */
		size_t in = (size_t)ceil(g->rows * 2.0 * (double)g->k), out = (size_t)ceil(g->rows * 2.0 * (double)g->n);
		l->max_in = in > l->max_in ? in : l->max_in;
		l->max_out = out > l->max_out ? out : l->max_out;
	}
	return KVW_OK;
}

static long gemm_tokens(const layer *l, int i, long t)
{
	return (long)llround((double)t * l->s.g[i].rows);
}

static int layer_once(void *arg)
{
	gemm_job *j = arg;
	int bad = 0;
	for (int i = 0; i < j->n; i++)
		bad |= kvw_gemm_run(j->g[i], j->w[i], j->x, j->y, j->t.stream);
	return bad;
}

/* reps layers' GEMMs between one pair of events: seconds per layer */
static double time_layer(void *arg)
{
	gemm_job *j = arg;
	kvw_marks m = kvw_evtimer_marks(&j->t);
	return kvw_time_loop(j->reps > 0 ? j->reps : 1, layer_once, j, &m);
}

static void destroy_gemms(gemm_job *j)
{
	for (int i = 0; i < KVW_LAYER_MAX_GEMMS; i++) {
		kvw_gemm_destroy(j->g[i]);
		j->g[i] = NULL;
	}
}

static kvw_err create_gemms(gemm_job *j, const layer *l, long t, kvw_diag *d)
{
	j->n = l->s.n_gemm;
	for (int i = 0; i < j->n; i++) {
		const kvw_layer_gemm *g = &l->s.g[i];
		kvw_err err = kvw_gemm_create(&j->g[i], gemm_tokens(l, i, t), g->n, g->k, gemm_fp8(j, l, i), d);
		if (err) {
			destroy_gemms(j);
			return err;
		}
	}
	return KVW_OK;
}

static uint16_t to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	u += 0x7FFFu + ((u >> 16) & 1u); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* e4m3: 1 sign, 4 exponent (bias 7), 3 mantissa bits; exponent 0 is subnormal */
static double from_e4m3(uint8_t c)
{
	int e = (c >> 3) & 15, m = c & 7;
	double v = e ? (1 + m / 8.0) * ldexp(1, e - 7) : m / 8.0 * ldexp(1, -6);
	return c & 0x80 ? -v : v;
}

/* A 64 x 192 x 256 GEMM on random operands against a double-precision
 * reference on the host (the operands are exact in their dtype): an
 * element is wrong when it is off by more than bf16 output rounding (2^-7
 * relative) plus 1e-3 of the reference's rms. */
static kvw_err check_numerics(kvw_probe_run *r, bool fp8, long long *checked, kvw_diag *d)
{
	enum { T = 64, N = 192, K = 256 };
	const size_t es = fp8 ? 1 : 2;
	kvw_err err = KVW_OK;
	kvw_gemm *g = NULL;
	unsigned char *hw = malloc(es * N * K), *hx = malloc(es * T * K);
	uint16_t *hy = malloc(sizeof(uint16_t) * T * N);
	double *ref = malloc(sizeof(double) * T * N), *fw = malloc(sizeof(double) * N * K), *fx = malloc(sizeof(double) * T * K);
	void *w = NULL, *x = NULL, *y = NULL;
	if (!hw || !hx || !hy || !ref || !fw || !fx) {
		err = kvw_fail(d, KVW_ESYS, "out of memory");
		goto out;
	}
	unsigned long long s = 0x2545F4914F6CDD1Dull;
	for (int i = 0; i < N * K + T * K; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		unsigned char *dst = i < N * K ? hw + es * (size_t)i : hx + es * (size_t)(i - N * K);
		double *val = i < N * K ? &fw[i] : &fx[i - N * K];
		if (fp8) { /* a random code with |value| < 2: exponent field 0..7, never NaN */
			uint8_t c = (uint8_t)((s >> 20) & 0xBF);
			*dst = c;
			*val = from_e4m3(c);
		} else {
			uint16_t v = to_bf16((float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1));
			memcpy(dst, &v, 2);
			*val = from_bf16(v);
		}
	}
	double rms = 0;
	for (int t = 0; t < T; t++)
		for (int n = 0; n < N; n++) {
			double acc = 0;
			for (int k = 0; k < K; k++)
				acc += fx[t * K + k] * fw[n * K + k];
			ref[t * N + n] = acc;
			rms += acc * acc / (T * N);
		}
	rms = sqrt(rms);
	if ((err = kvw_gemm_create(&g, T, N, K, fp8, d)))
		goto out;
	KVW_CU(cudaMalloc(&w, es * N * K));
	KVW_CU(cudaMalloc(&x, es * T * K));
	KVW_CU(cudaMalloc(&y, sizeof(uint16_t) * T * N));
	KVW_CU(cudaMemcpy(w, hw, es * N * K, cudaMemcpyHostToDevice));
	KVW_CU(cudaMemcpy(x, hx, es * T * K, cudaMemcpyHostToDevice));
	KVW_CU(cudaMemset(y, 0xFF, sizeof(uint16_t) * T * N)); /* NaN poison */
	if (kvw_gemm_run(g, w, x, y, 0) != 0) {
		err = kvw_fail(d, KVW_EDRIVER, "prefill: the %s check GEMM failed", fp8 ? "fp8" : "bf16");
		goto out;
	}
	KVW_CU(cudaMemcpy(hy, y, sizeof(uint16_t) * T * N, cudaMemcpyDeviceToHost));
	long long wrong = 0;
	for (int i = 0; i < T * N; i++) {
		double got = from_bf16(hy[i]);
		wrong += !(fabs(got - ref[i]) <= fabs(ref[i]) / 128 + 1e-3 * rms);
	}
	*checked = T * N;
	if (wrong) {
		kvw_record rec = kvw_record_new("prefill", fp8 ? "gemm_fp8_check_64x192x256" : "gemm_bf16_check_64x192x256");
		rec.checked = T * N;
		rec.wrong = wrong;
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%lld of %d elements off the double-precision reference", wrong, T * N);
		if (!(err = kvw_probe_emit(r, &rec, d)))
			err = kvw_fail(d, KVW_EVERIFY, "prefill: GEMM numerics wrong, no timing taken");
	}
out:
	kvw_gemm_destroy(g);
	cudaFree(w);
	cudaFree(x);
	cudaFree(y);
	free(hw);
	free(hx);
	free(hy);
	free(ref);
	free(fw);
	free(fx);
	return err;
}

static kvw_err alloc_layer(gemm_job *j, const layer *l, long max_t, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	for (int i = 0; i < l->s.n_gemm; i++) {
		size_t n = (size_t)l->s.g[i].n * (size_t)l->s.g[i].k;
		bool fp8 = gemm_fp8(j, l, i);
		KVW_CU(cudaMalloc(&j->w[i], (fp8 ? 1 : 2) * n));
		KVW_CU((fp8 ? kvw_fill_fp8 : kvw_fill_bf16)(j->w[i], n, 100u + (unsigned)i, 0.05f, 0));
	}
	size_t in = l->max_in * (size_t)max_t, out = l->max_out * (size_t)max_t;
	KVW_CU(cudaMalloc(&j->x, in));
	KVW_CU(cudaMalloc(&j->y, out)); /* bf16 out */
	/* fp8 values; a bf16 GEMM of an fp8 run (the router) reads them as small bf16 numbers */
	KVW_CU(j->fp8 ? kvw_fill_fp8(j->x, in, 7u, 1.0f, 0) : kvw_fill_bf16(j->x, in / 2, 7u, 1.0f, 0));
	KVW_CU(cudaDeviceSynchronize());
out:
	return err;
}

static void free_layer(gemm_job *j)
{
	for (int i = 0; i < KVW_LAYER_MAX_GEMMS; i++)
		cudaFree(j->w[i]);
	cudaFree(j->x);
	cudaFree(j->y);
	destroy_gemms(j);
	kvw_evtimer_destroy(&j->t);
	bool fp8 = j->fp8;
	memset(j, 0, sizeof *j);
	j->fp8 = fp8;
}

/* numerics check, then the timed curve of one dtype; curve: the profile's
 * array of {tokens, tflops} */
static kvw_err gemm_curve(kvw_probe_run *r, const kvw_arch *a, const layer *l, bool fp8, const long *tokens,
                          int nt, json_t *curve, kvw_diag *d)
{
	gemm_job j = { .fp8 = fp8 };
	long long checked = 0;
	const char *dt = fp8 ? "fp8" : "bf16";
	kvw_err err = check_numerics(r, fp8, &checked, d);
	if (err)
		return err;
	KVW_CU(kvw_evtimer_init(&j.t, 0));
	if ((err = alloc_layer(&j, l, tokens[nt - 1], d)))
		goto out;
	for (int i = 0; i < nt; i++) {
		if ((err = create_gemms(&j, l, tokens[i], d)))
			goto out;
		char variant[96];
		snprintf(variant, sizeof variant, "gemm_%s_%s_layer_%ldtok", dt, a->name, tokens[i]);
		kvw_record rec = kvw_record_new("prefill", variant);
		rec.iterations = j.reps = r->quick ? 5 : 20; /* layers per repetition, one pair of events */
		rec.repetitions = r->quick ? 5 : 7;
		err = kvw_gbench_measure(variant, time_layer, &j, 1, rec.repetitions, &rec.time_s, d);
		double flops = kvw_layer_gemm_flops(&l->s, (double)tokens[i]); /* what the model charges (probe_math.h) */
		destroy_gemms(&j);
		if (err)
			goto out;
		rec.tflops = flops / rec.time_s.median / 1e12;
		rec.checked = checked; /* the numerics check of the same cuBLASLt path, above */
		json_t *pt = json_object();
		json_object_set_new(pt, "tokens", json_integer(tokens[i]));
		json_object_set_new(pt, "tflops", kvw_num(rec.tflops));
		json_array_append_new(curve, pt);
		if ((err = kvw_probe_emit(r, &rec, d)))
			goto out;
	}
out:
	free_layer(&j);
	return err;
}

/* ---- attention ------------------------------------------------------------------ */

/* one causal attention: cuDNN's fused flash attention when sdpa is set,
 * else the own kernel (attention.cu).  Q, K of d_qk, V, O of d_v. */
typedef struct att_job {
	void *q, *k, *v, *o;
	int tokens, heads, kv_heads, d_qk, d_v;
	bool fp8;       /* q, k, v, o e4m3 (cuDNN only) */
	kvw_sdpa *sdpa;
	int reps;       /* launches between one pair of events */
	kvw_evtimer t;
} att_job;

static int att_once(void *arg)
{
	att_job *j = arg;
	char why[256];
	if (j->sdpa)
		return kvw_sdpa_run(j->sdpa, j->q, j->k, j->v, j->o, NULL, j->t.stream, why, sizeof why);
	return kvw_attention(j->q, j->k, j->v, j->o, j->tokens, j->heads, j->kv_heads, j->d_qk, j->t.stream) != cudaSuccess;
}

/* a loop of reps launches between one pair of events (BabelStream,
 * nvbandwidth): seconds per launch */
static double time_attention(void *arg)
{
	att_job *j = arg;
	kvw_marks m = kvw_evtimer_marks(&j->t);
	return kvw_time_loop(j->reps > 0 ? j->reps : 1, att_once, j, &m);
}

static void free_att(att_job *j)
{
	cudaFree(j->q);
	cudaFree(j->k);
	cudaFree(j->v);
	cudaFree(j->o);
	kvw_sdpa_destroy(j->sdpa);
	j->q = j->k = j->v = j->o = NULL;
	j->sdpa = NULL;
}

/* elements of Q, K, V and O */
static void att_sizes(const att_job *j, size_t *nq, size_t *nk, size_t *nv, size_t *no)
{
	size_t t = (size_t)j->tokens;
	*nq = t * j->heads * j->d_qk, *nk = t * j->kv_heads * j->d_qk;
	*nv = t * j->kv_heads * j->d_v, *no = t * j->heads * j->d_v;
}

static kvw_err alloc_att(att_job *j, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t nq, nk, nv, no;
	att_sizes(j, &nq, &nk, &nv, &no);
	size_t es = j->fp8 ? 1 : 2;
	cudaError_t (*fill)(void *, size_t, unsigned, float, cudaStream_t) = j->fp8 ? kvw_fill_fp8 : kvw_fill_bf16;
	KVW_CU(cudaMalloc(&j->q, es * nq));
	KVW_CU(cudaMalloc(&j->o, 2 * no));
	KVW_CU(cudaMalloc(&j->k, es * nk));
	KVW_CU(cudaMalloc(&j->v, es * nv));
	KVW_CU(fill(j->q, nq, 201u, 1.0f, 0));
	KVW_CU(fill(j->k, nk, 202u, 1.0f, 0));
	KVW_CU(fill(j->v, nv, 203u, 1.0f, 0));
	KVW_CU(cudaMemset(j->o, 0xFF, 2 * no)); /* NaN poison (bf16 and e4m3 alike) */
	KVW_CU(cudaDeviceSynchronize());
out:
	return err;
}

static kvw_sdpa_shape sdpa_shape(const att_job *j)
{
	kvw_sdpa_shape s = { 1, j->tokens, j->tokens, j->heads, j->kv_heads, j->d_qk, j->d_v, true,
	                     j->fp8 ? KVW_SDPA_FP8 : KVW_SDPA_BF16, 0, 0 };
	return s;
}

static bool own_has(const att_job *j)
{
	return !j->fp8 && kvw_attn_own_has(j->d_qk, j->d_v, j->heads, j->kv_heads);
}

/* the check shape of a layer: 8 query heads over 2 KV heads (GQA), or
 * over 8 for MLA's MHA form (d_qk != d_v), the layer's head sizes */
static att_job check_job(const kvw_layer_shapes *l, int T, bool fp8)
{
	att_job j = { .tokens = T, .heads = 8, .kv_heads = l->d_qk != l->d_v ? 8 : 2, .d_qk = l->d_qk, .d_v = l->d_v,
	              .fp8 = fp8 };
	return j;
}

static double rms_of(const float *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * x[i] / (double)n;
	return sqrt(s);
}

/* wrong elements of got (bf16, or e4m3 when fp8) against ref: off by more
 * than tol x the reference's rms plus the output dtype's rounding */
static long long count_off(const void *got, bool fp8, const float *ref, size_t n, double tol)
{
	double rms = rms_of(ref, n);
	long long wrong = 0;
	for (size_t i = 0; i < n; i++) {
		double g = fp8 ? from_e4m3(((const uint8_t *)got)[i]) : from_bf16(((const uint16_t *)got)[i]);
		wrong += !(fabs(g - ref[i]) <= tol * rms + fabs(ref[i]) / (fp8 ? 8 : 128));
	}
	return wrong;
}

static kvw_err fail_att(kvw_probe_run *r, const char *variant, long long wrong, size_t n, const char *what,
                        kvw_diag *d)
{
	kvw_record rec = kvw_record_new("prefill", variant);
	rec.checked = (long long)n;
	rec.wrong = wrong;
	rec.status = KVW_ST_FAILED;
	snprintf(rec.reason, sizeof rec.reason, "%lld of %zu elements off %s", wrong, n, what);
	kvw_err err = kvw_probe_emit(r, &rec, d);
	return err ? err : kvw_fail(d, KVW_EVERIFY, "prefill: attention numerics wrong (%s), no timing taken", variant);
}

/* the own kernel on j's inputs against ref (fp32 reference), its output
 * into want: the fp32 values cuDNN is then checked against */
static kvw_err check_own(kvw_probe_run *r, att_job *j, const float *ref, uint16_t *got, float *want,
                         long long *checked, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t nq, nk, nv, n;
	att_sizes(j, &nq, &nk, &nv, &n);
	KVW_CU(kvw_attention(j->q, j->k, j->v, j->o, j->tokens, j->heads, j->kv_heads, j->d_qk, 0));
	KVW_CU(cudaMemcpy(got, j->o, 2 * n, cudaMemcpyDeviceToHost));
	long long wrong = count_off(got, false, ref, n, 2e-2);
	*checked += (long long)n;
	if (wrong) {
		char variant[64];
		snprintf(variant, sizeof variant, "attention_check_own_%dtok", j->tokens);
		return fail_att(r, variant, wrong, n, "the fp32 reference attention", d);
	}
	for (size_t i = 0; i < n; i++)
		want[i] = (float)from_bf16(got[i]);
out:
	return err;
}

/* cuDNN's bf16 graph on j's inputs against want; *cudnn_ok false with why
 * when cuDNN refused, or (own: there is a fallback) disagreed; without a
 * fallback (MLA) a disagreement fails the probe */
static kvw_err check_cudnn(kvw_probe_run *r, att_job *j, const float *want, bool own, uint16_t *got, bool *cudnn_ok,
                           char *why, size_t cap, long long *checked, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t nq, nk, nv, n;
	att_sizes(j, &nq, &nk, &nv, &n);
	kvw_sdpa_shape sh = sdpa_shape(j);
	KVW_CU(cudaMemset(j->o, 0xFF, 2 * n)); /* poisoned again: cuDNN must write every element */
	if (kvw_sdpa_create(&sh, &j->sdpa, why, cap) || kvw_sdpa_run(j->sdpa, j->q, j->k, j->v, j->o, NULL, 0, why, cap)) {
		*cudnn_ok = false;
		goto out;
	}
	KVW_CU(cudaMemcpy(got, j->o, 2 * n, cudaMemcpyDeviceToHost));
	long long wrong = count_off(got, false, want, n, 2e-2);
	if (!own)
		*checked += (long long)n;
	if (wrong && !own) {
		char variant[64];
		snprintf(variant, sizeof variant, "attention_check_cudnn_%dtok", j->tokens);
		return fail_att(r, variant, wrong, n, "the fp32 reference attention", d);
	}
	if (wrong) {
		snprintf(why, cap, "cuDNN SDPA at %d tokens: %lld of %zu elements off the own kernel", j->tokens, wrong, n);
		*cudnn_ok = false;
	}
out:
	return err;
}

/* One check size of the layer's head sizes (check_job): the own kernel,
 * where it has the shape, against the fp32 reference kernel, then
 * (cudnn_ok) cuDNN's bf16 graph against the own kernel's output, or
 * against the reference where there is no own kernel (MLA's 192/128).
 * Wrong: off by more than 2e-2 of the reference's rms plus bf16 rounding.
 * T = 200 is a partial query and key tile (200 = 3 x 64 + 8), T = 256
 * whole ones. */
static kvw_err check_attention_at(kvw_probe_run *r, const kvw_layer_shapes *l, int T, bool *cudnn_ok, char *why,
                                  size_t cap, long long *checked, kvw_diag *d)
{
	att_job j = check_job(l, T, false);
	size_t nq, nk, nv, n;
	att_sizes(&j, &nq, &nk, &nv, &n);
	bool own = own_has(&j);
	float *ref_dev = NULL, *ref = malloc(4 * n), *want = malloc(4 * n);
	uint16_t *got = malloc(2 * n);
	kvw_err err = ref && got && want ? alloc_att(&j, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err)
		goto out;
	KVW_CU(cudaMalloc((void **)&ref_dev, 4 * n));
	KVW_CU(kvw_attention_reference(j.q, j.k, j.v, ref_dev, T, j.heads, j.kv_heads, j.d_qk, j.d_v, 0));
	KVW_CU(cudaMemcpy(ref, ref_dev, 4 * n, cudaMemcpyDeviceToHost));
	memcpy(want, ref, 4 * n);
	if (own && (err = check_own(r, &j, ref, got, want, checked, d)))
		goto out;
	if (*cudnn_ok)
		err = check_cudnn(r, &j, want, own, got, cudnn_ok, why, cap, checked, d);
out:
	free_att(&j);
	cudaFree(ref_dev);
	free(ref);
	free(want);
	free(got);
	return err;
}

/* the fp32 values the fp8 graph is checked against: the own kernel on the
 * bf16 upcasts of j's inputs (exact), or the reference kernel where the
 * own kernel lacks the shape */
static kvw_err fp8_expected(const att_job *j, float *ref, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t nq, nk, nv, n;
	att_sizes(j, &nq, &nk, &nv, &n);
	void *qb = NULL, *kb = NULL, *vb = NULL, *ob = NULL;
	uint16_t *hb = malloc(2 * n);
	bool own = kvw_attn_own_has(j->d_qk, j->d_v, j->heads, j->kv_heads);
	if (!hb) {
		err = kvw_fail(d, KVW_ESYS, "out of memory");
		goto out;
	}
	KVW_CU(cudaMalloc(&qb, 2 * nq));
	KVW_CU(cudaMalloc(&ob, 4 * n));
	KVW_CU(cudaMalloc(&kb, 2 * nk));
	KVW_CU(cudaMalloc(&vb, 2 * nv));
	KVW_CU(kvw_fp8_to_bf16(j->q, qb, nq, 0));
	KVW_CU(kvw_fp8_to_bf16(j->k, kb, nk, 0));
	KVW_CU(kvw_fp8_to_bf16(j->v, vb, nv, 0));
	if (own) {
		KVW_CU(kvw_attention(qb, kb, vb, ob, j->tokens, j->heads, j->kv_heads, j->d_qk, 0));
		KVW_CU(cudaMemcpy(hb, ob, 2 * n, cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < n; i++)
			ref[i] = (float)from_bf16(hb[i]);
	} else {
		KVW_CU(kvw_attention_reference(qb, kb, vb, (float *)ob, j->tokens, j->heads, j->kv_heads, j->d_qk, j->d_v, 0));
		KVW_CU(cudaMemcpy(ref, ob, 4 * n, cudaMemcpyDeviceToHost));
	}
out:
	cudaFree(qb), cudaFree(kb), cudaFree(vb), cudaFree(ob);
	free(hb);
	return err;
}

/* the fp8 graph (cuDNN) against fp8_expected on the same inputs at 256
 * tokens; wrong: off by 0.1 rms + e4m3 rounding */
static bool check_attention_fp8(const kvw_layer_shapes *l, char *why, size_t cap, kvw_diag *d)
{
	att_job j = check_job(l, 256, true);
	size_t nq, nk, nv, n;
	att_sizes(&j, &nq, &nk, &nv, &n);
	uint8_t *h8 = malloc(n);
	float *ref = malloc(4 * n);
	bool ok = false;
	kvw_err err = h8 && ref ? alloc_att(&j, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err || (err = fp8_expected(&j, ref, d)))
		goto out;
	kvw_sdpa_shape sh = sdpa_shape(&j);
	if (kvw_sdpa_create(&sh, &j.sdpa, why, cap) || kvw_sdpa_run(j.sdpa, j.q, j.k, j.v, j.o, NULL, 0, why, cap))
		goto out;
	KVW_CU(cudaMemcpy(h8, j.o, n, cudaMemcpyDeviceToHost));
	long long wrong = count_off(h8, true, ref, n, 0.1);
	if (wrong)
		snprintf(why, cap, "cuDNN fp8 SDPA: %lld of %zu elements off the %s on the same inputs", wrong, n,
		         kvw_attn_own_has(j.d_qk, j.d_v, j.heads, j.kv_heads) ? "own kernel" : "fp32 reference");
	ok = wrong == 0;
out:
	if (err)
		snprintf(why, cap, "fp8 check: %s", d->msg);
	free_att(&j);
	free(h8), free(ref);
	return ok;
}

/* The causal attention curve of the layer l of a (dtype bf16, or fp8
 * through cuDNN); each point records its backend ("cudnn" or "own"); a
 * cuDNN graph refused at one size falls back to the own kernel there, or
 * leaves the size out where there is none (fp8, MLA), the reason kept in
 * *why.  Launches per repetition sized to ~0.2 s. */
static kvw_err attention_curve(kvw_probe_run *r, const kvw_arch *a, const kvw_layer_shapes *l, const long *tokens,
                               int nt, bool fp8, bool cudnn_ok, char *why, size_t cap, long long checked,
                               json_t *curve, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	att_job j = { .heads = l->heads, .kv_heads = l->kv_heads, .d_qk = l->d_qk, .d_v = l->d_v, .fp8 = fp8 };
	KVW_CU(kvw_evtimer_init(&j.t, 0));
	for (int i = 0; i < nt && !err; i++) {
		j.tokens = (int)tokens[i];
		if ((err = alloc_att(&j, d)))
			break;
		kvw_sdpa_shape sh = sdpa_shape(&j);
		if (cudnn_ok && kvw_sdpa_create(&sh, &j.sdpa, why, cap) != 0)
			j.sdpa = NULL; /* this size on the own kernel, why says so */
		if (!j.sdpa && !own_has(&j)) {
			free_att(&j);
			continue; /* fp8 attention and MLA's head sizes are cuDNN's only */
		}
		j.reps = 1;
		double once = time_attention(&j);
		if (!(once > 0)) {
			err = kvw_fail(d, KVW_EDRIVER, "prefill: attention at %ld tokens failed", tokens[i]);
			break;
		}
		const char *backend = j.sdpa ? "cudnn" : "own";
		char variant[96];
		snprintf(variant, sizeof variant, "attention_causal_%s_%s_%s_%ldtok", fp8 ? "fp8" : "bf16", backend, a->name,
		         tokens[i]);
		kvw_record rec = kvw_record_new("prefill", variant);
		j.reps = (int)fmax(1, fmin(r->quick ? 5 : 20, round(0.2 / once)));
		rec.iterations = 1;
		rec.repetitions = r->quick ? 5 : 7;
		if ((err = kvw_gbench_measure(variant, time_attention, &j, 1, rec.repetitions, &rec.time_s, d)))
			break;
		/* 2 H (d_qk + d_v) per causal pair: the model's count (probe_math.h) */
		rec.tflops = kvw_layer_attn_flops(l, (double)tokens[i]) / rec.time_s.median / 1e12;
		rec.checked = checked; /* the numerics checks of the same paths, above */
		json_t *pt = json_object();
		json_object_set_new(pt, "tokens", json_integer(tokens[i]));
		json_object_set_new(pt, "tflops", kvw_num(rec.tflops));
		json_object_set_new(pt, "backend", json_string(backend));
		json_object_set_new(pt, "stddev_s", kvw_num(rec.time_s.stddev));
		json_array_append_new(curve, pt);
		err = kvw_probe_emit(r, &rec, d);
		free_att(&j);
	}
out:
	free_att(&j);
	kvw_evtimer_destroy(&j.t);
	return err;
}

/* the attention recorded as skipped, with why (*skipped set) */
static kvw_err skip_attention(kvw_probe_run *r, const char *why, bool *skipped, kvw_diag *d)
{
	kvw_record rec = kvw_record_new("prefill", "attention_causal_bf16");
	rec.status = KVW_ST_SKIPPED;
	snprintf(rec.reason, sizeof rec.reason, "%s", why);
	*skipped = true;
	return kvw_probe_emit(r, &rec, d);
}

/* why cuDNN cannot run the layer's bf16 attention here (not loaded, or
 * head sizes its SDPA lacks on this card), NULL when it can */
static const char *cudnn_refusal(const kvw_layer_shapes *l, char *buf, size_t cap)
{
	const char *no = kvw_cudnn_unavailable();
	if (no)
		return no;
	int dev = 0, major = 0, minor = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
	cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
	return kvw_sdpa_head_refusal(l->d_qk, l->d_v, false, major * 10 + minor, buf, cap);
}

/* checks, then the bf16 curve (profile.prefill.attention) and, where the
 * card and cuDNN have it, the fp8 one (prefill_gemm.attention_fp8);
 * profile.prefill_attention says which backend ran and why.  A layer only
 * cuDNN has (MLA) without a usable cuDNN: recorded skipped (*skipped). */
static kvw_err attention_all(kvw_probe_run *r, const kvw_arch *a, const kvw_layer_shapes *l, const long *tokens,
                             int nt, json_t *att, bool *skipped, kvw_diag *d)
{
	char why[256] = "", buf[256], msg[256];
	const char *no = cudnn_refusal(l, buf, sizeof buf);
	bool cudnn_ok = no == NULL;
	long long checked = 0;
	*skipped = false;
	if (no)
		snprintf(why, sizeof why, "%s", no);
	if (kvw_prefill_attention_unrunnable(l, no, msg, sizeof msg))
		return skip_attention(r, msg, skipped, d);
	kvw_err err = check_attention_at(r, l, 200, &cudnn_ok, why, sizeof why, &checked, d);
	if (!err)
		err = check_attention_at(r, l, 256, &cudnn_ok, why, sizeof why, &checked, d);
	if (err)
		return err;
	if (kvw_prefill_attention_unrunnable(l, cudnn_ok ? NULL : why, msg, sizeof msg))
		return skip_attention(r, msg, skipped, d); /* cuDNN refused the check graph */
	json_t *info = kvw_probe_section(r, "prefill_attention", false);
	json_object_set_new(info, "cudnn_version", json_integer(kvw_cudnn_version()));
	json_object_set_new(info, "d_qk", json_integer(l->d_qk));
	json_object_set_new(info, "d_v", json_integer(l->d_v));
	if ((err = attention_curve(r, a, l, tokens, nt, false, cudnn_ok, why, sizeof why, checked, att, d)))
		return err;
	if (json_array_size(att) == 0 && kvw_prefill_attention_unrunnable(l, why, msg, sizeof msg))
		return skip_attention(r, msg, skipped, d); /* cuDNN refused every size, and there is no own kernel */
	json_object_set_new(info, "backend", json_string(cudnn_ok ? "cudnn" : "own"));
	if (why[0])
		json_object_set_new(info, "fallback_reason", json_string(why));
	char why8[256] = "";
	if (cudnn_ok && kvw_gpu_has_fp8() && check_attention_fp8(l, why8, sizeof why8, d)) {
		json_t *c8 = json_array();
		json_object_set_new(json_object_get(r->profile, "prefill_gemm"), "attention_fp8", c8);
		err = attention_curve(r, a, l, tokens, nt, true, true, why8, sizeof why8, checked, c8, d);
	}
	json_object_set_new(info, "fp8", json_string(why8[0] ? why8 : cudnn_ok && kvw_gpu_has_fp8() ? "measured" : "not run"));
	return err;
}

/* ---- the layer's element-wise kernels ------------------------------------------- */

typedef struct ew_job {
	void *x, *xn, *gamma, *qkv, *q, *k, *v, *gu, *act, *tmp;
	long tokens, hidden, inter;
	int heads, kv_heads, dim, reps;
	kvw_evtimer t;
} ew_job;

/* one layer's worth: two RMSNorms, the QKV split with RoPE and the KV
 * write, SiLU x up, two residual adds (what kvwall validate's layers run
 * besides the GEMMs and attention) */
static int elementwise_once(void *arg)
{
	ew_job *j = arg;
	cudaStream_t s = j->t.stream;
	size_t n = (size_t)j->tokens * (size_t)j->hidden;
	cudaError_t e = kvw_rmsnorm(j->x, j->gamma, j->xn, j->tokens, j->hidden, 1e-5f, s);
	if (!e)
		e = kvw_qkv_split(j->qkv, j->q, j->k, j->v, j->tokens, j->heads, j->kv_heads, j->dim, 10000.0f, s);
	if (!e)
		e = kvw_add(j->x, j->tmp, n, s);
	if (!e)
		e = kvw_rmsnorm(j->x, j->gamma, j->xn, j->tokens, j->hidden, 1e-5f, s);
	if (!e)
		e = kvw_silu_mul(j->gu, j->act, j->tokens, j->inter, s);
	if (!e)
		e = kvw_add(j->x, j->tmp, n, s);
	return e != cudaSuccess;
}

static double time_elementwise(void *arg)
{
	ew_job *j = arg;
	kvw_marks m = kvw_evtimer_marks(&j->t);
	return kvw_time_loop(j->reps > 0 ? j->reps : 1, elementwise_once, j, &m);
}

static void free_ew(ew_job *j)
{
	void *b[] = { j->x, j->xn, j->gamma, j->qkv, j->q, j->k, j->v, j->gu, j->act, j->tmp };
	for (size_t i = 0; i < sizeof b / sizeof *b; i++)
		cudaFree(b[i]);
	kvw_evtimer_destroy(&j->t);
}

/* microseconds per token of one layer's element-wise kernels; the model
 * adds them to the GEMM and attention time (prefill.elementwise) */
static kvw_err elementwise_curve(kvw_probe_run *r, const kvw_arch *a, const long *tokens, int nt, json_t *curve,
                                 kvw_diag *d)
{
	kvw_err err = KVW_OK;
	ew_job j = { .hidden = a->hidden, .inter = a->intermediate, .heads = a->n_heads, .kv_heads = a->n_kv_heads,
	             .dim = a->head_dim };
	size_t T = (size_t)tokens[nt - 1], h = (size_t)a->hidden, qd = (size_t)a->n_heads * a->head_dim;
	size_t kvd = (size_t)a->n_kv_heads * a->head_dim, inter = (size_t)a->intermediate;
	long checked = 0, wrong = 0;
	KVW_CU(kvw_layer_check(&checked, &wrong));
	if (wrong) {
		kvw_record rec = kvw_record_new("prefill", "elementwise_check");
		rec.checked = checked;
		rec.wrong = wrong;
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%ld of %ld values off the double-precision host reference", wrong,
		         checked);
		if (!(err = kvw_probe_emit(r, &rec, d)))
			err = kvw_fail(d, KVW_EVERIFY, "prefill: element-wise kernels wrong, no timing taken");
		goto out;
	}
	KVW_CU(kvw_evtimer_init(&j.t, 0));
	KVW_CU(cudaMalloc(&j.x, 2 * T * h));
	KVW_CU(cudaMalloc(&j.xn, 2 * T * h));
	KVW_CU(cudaMalloc(&j.tmp, 2 * T * h));
	KVW_CU(cudaMalloc(&j.gamma, 2 * h));
	KVW_CU(cudaMalloc(&j.qkv, 2 * T * (qd + 2 * kvd)));
	KVW_CU(cudaMalloc(&j.q, 2 * T * qd));
	KVW_CU(cudaMalloc(&j.k, 2 * T * kvd));
	KVW_CU(cudaMalloc(&j.v, 2 * T * kvd));
	KVW_CU(cudaMalloc(&j.gu, 2 * T * 2 * inter));
	KVW_CU(cudaMalloc(&j.act, 2 * T * inter));
	KVW_CU(kvw_fill_bf16(j.x, T * h, 301u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(j.tmp, T * h, 302u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(j.gamma, h, 303u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(j.qkv, T * (qd + 2 * kvd), 304u, 1.0f, 0));
	KVW_CU(kvw_fill_bf16(j.gu, T * 2 * inter, 305u, 1.0f, 0));
	KVW_CU(cudaDeviceSynchronize());
	for (int i = 0; i < nt && !err; i++) {
		j.tokens = tokens[i];
		char variant[96];
		snprintf(variant, sizeof variant, "elementwise_bf16_%s_layer_%ldtok", a->name, tokens[i]);
		kvw_record rec = kvw_record_new("prefill", variant);
		rec.iterations = j.reps = r->quick ? 5 : 20;
		rec.repetitions = r->quick ? 5 : 7;
		if ((err = kvw_gbench_measure(variant, time_elementwise, &j, 1, rec.repetitions, &rec.time_s, d)))
			break;
		double us = rec.time_s.median / (double)tokens[i] * 1e6;
		rec.checked = checked; /* the check of the same kernels, above */
		json_t *pt = json_object();
		json_object_set_new(pt, "tokens", json_integer(tokens[i]));
		json_object_set_new(pt, "us_per_token", kvw_num(us));
		json_array_append_new(curve, pt);
		err = kvw_probe_emit(r, &rec, d);
	}
out:
	free_ew(&j);
	return err;
}


static kvw_err prefill_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_arch *a = malloc(sizeof *a);
	layer l;
	kvw_err err = a ? kvw_probe_model(r, a, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err || (err = layer_shapes(a, &l, d)))
		goto out;
	static const long quick[] = { 512, 2048, 8192, 32768 };
	long tokens[11];
	int nt = 0;
	if (r->quick)
		for (; nt < 4; nt++)
			tokens[nt] = quick[nt];
	else
		for (long t = 128; t <= 131072; t *= 2)
			tokens[nt++] = t;
	/* the curves are built apart and become profile.prefill only when both
	 * halves exist: the model reads that section */
	json_t *curve = json_array(), *curve8 = json_array(), *att = json_array();
	json_t *sec = kvw_probe_section(r, "prefill_gemm", false);
	json_object_set_new(sec, "model", json_string(a->name));
	json_object_set_new(sec, "dtype", json_string("bf16"));
	json_object_set_new(sec, "gemm", curve);
	json_object_set_new(sec, "gemm_fp8", curve8);
	if ((err = gemm_curve(r, a, &l, false, tokens, nt, curve, d)))
		goto out;
	if (kvw_gpu_has_fp8() && (err = gemm_curve(r, a, &l, true, tokens, nt, curve8, d)))
		goto out;
	bool skipped = false;
	if ((err = attention_all(r, a, &l.s, tokens, nt, att, &skipped, d)) || skipped || json_array_size(att) == 0) {
		json_decref(att);
		goto out;
	}
	/* the element-wise kernels of a SiLU-gated dense layer (validate's layers) */
	json_t *ew = NULL;
	if (a->ffn_gated && a->n_experts == 0 && a->attn != KVW_ATTN_MLA) {
		ew = json_array();
		if ((err = elementwise_curve(r, a, tokens, nt, ew, d))) {
			json_decref(ew);
			goto out;
		}
	}
	json_t *pf = json_object();
	json_object_set_new(pf, "model", json_string(a->name));
	if (ew)
		json_object_set_new(pf, "elementwise", ew);
	json_object_set_new(pf, "dtype", json_string("bf16"));
	json_object_set_new(pf, "overhead_us", json_integer(0));
	json_object_set(pf, "gemm", curve);
	json_object_set_new(pf, "attention", att);
	json_object_set_new(r->profile, "prefill", pf);
out:
	free(a);
	return err;
}

/* ---- overlap ------------------------------------------------------------------- */

typedef struct overlap_job {
	gemm_job *g;
	void *host, *dev;
	size_t bytes;
	int copies, gemm_reps;
	int mode;     /* 0 GEMMs alone, 1 copies alone, 2 both: report GEMM side, 3 both: copy side */
	cudaStream_t cs;
	kvw_evtimer ct;
} overlap_job;

static double time_overlap(void *arg)
{
	overlap_job *o = arg;
	bool gemms = o->mode != 1, copies = o->mode != 0;
	int bad = 0;
	cudaEventRecord(o->g->t.start, o->g->t.stream);
	cudaStreamWaitEvent(o->cs, o->g->t.start, 0);
	cudaEventRecord(o->ct.start, o->cs);
	for (int i = 0; copies && i < o->copies; i++)
		bad |= cudaMemcpyAsync(o->dev, o->host, o->bytes, cudaMemcpyHostToDevice, o->cs) != cudaSuccess;
	cudaEventRecord(o->ct.stop, o->cs);
	for (int rep = 0; gemms && rep < o->gemm_reps; rep++)
		for (int i = 0; i < o->g->n; i++)
			bad |= kvw_gemm_run(o->g->g[i], o->g->w[i], o->g->x, o->g->y, o->g->t.stream);
	cudaEventRecord(o->g->t.stop, o->g->t.stream);
	double tg = kvw_evtimer_seconds(&o->g->t), tc = kvw_evtimer_seconds(&o->ct);
	if (bad || tg < 0 || tc < 0)
		return -1;
	return o->mode == 1 || o->mode == 3 ? tc : tg;
}

static kvw_err overlap_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_arch *a = malloc(sizeof *a);
	gemm_job j = { .fp8 = false };
	overlap_job o = { .g = &j, .bytes = (size_t)256 << 20 };
	layer l;
	const long t = 8192;
	kvw_err err = a ? kvw_probe_model(r, a, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err || (err = layer_shapes(a, &l, d)))
		goto out;
	KVW_CU(cudaStreamCreateWithFlags(&j.t.stream, cudaStreamNonBlocking));
	KVW_CU(cudaStreamCreateWithFlags(&o.cs, cudaStreamNonBlocking));
	KVW_CU(cudaEventCreate(&j.t.start));
	KVW_CU(cudaEventCreate(&j.t.stop));
	KVW_CU(kvw_evtimer_init(&o.ct, o.cs));
	KVW_CU(cudaHostAlloc(&o.host, o.bytes, cudaHostAllocDefault));
	KVW_CU(cudaMalloc(&o.dev, o.bytes));
	if ((err = alloc_layer(&j, &l, t, d)) || (err = create_gemms(&j, &l, t, d)))
		goto out;
	/* size both sides to about the same time alone */
	o.gemm_reps = 4, o.copies = 1, o.mode = 0;
	double tg = time_overlap(&o);
	o.mode = 1;
	double tc = time_overlap(&o);
	if (tg <= 0 || tc <= 0) {
		err = kvw_fail(d, KVW_EDRIVER, "overlap: calibration run failed");
		goto out;
	}
	o.copies = (int)fmax(1, round(tg / tc));
	static const char *const names[] = { "gemm_alone", "copy_alone", "gemm_with_copy", "copy_with_gemm" };
	double med[4], sd[4];
	for (int m = 0; m < 4; m++) {
		char variant[96];
		snprintf(variant, sizeof variant, "%s_%s_%ldtok_h2d_%dx256MiB", names[m], a->name, t, o.copies);
		kvw_record rec = kvw_record_new("overlap", variant);
		rec.iterations = 3;
		rec.repetitions = r->quick ? 3 : 5;
		o.mode = m;
		if ((err = kvw_gbench_measure(variant, time_overlap, &o, rec.iterations, rec.repetitions, &rec.time_s, d)))
			goto out;
		med[m] = rec.time_s.median;
		sd[m] = rec.time_s.stddev;
		if (m == 1 || m == 3)
			rec.bytes = (double)o.bytes * o.copies, rec.gbps = rec.bytes / med[m] / 1e9;
		else
			rec.tflops = kvw_layer_gemm_flops(&l.s, (double)t) * o.gemm_reps / med[m] / 1e12;
		if ((err = kvw_probe_emit(r, &rec, d)))
			goto out;
	}
	/* the slowdowns the model applies: a ratio under 1 within the runs' own
	 * noise counts as no slowdown; one further under 1 is a broken
	 * measurement, recorded as failed and kept out of the profile */
	double cs, cn, xs, xn;
	char why[256];
	bool ok = kvw_overlap_slowdown(med[2], sd[2], med[0], sd[0], &cs, &cn, why, sizeof why)
	          && kvw_overlap_slowdown(med[3], sd[3], med[1], sd[1], &xs, &xn, why, sizeof why);
	if (!ok) {
		kvw_record rec = kvw_record_new("overlap", "interference");
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%s", why);
		err = kvw_probe_emit(r, &rec, d);
		goto out;
	}
	json_t *in = kvw_probe_section(r, "interference", false);
	json_object_set_new(in, "compute_slowdown", kvw_num(cs));
	json_object_set_new(in, "copy_slowdown", kvw_num(xs));
	json_object_set_new(in, "measured_compute_ratio", kvw_num(med[2] / med[0]));
	json_object_set_new(in, "measured_copy_ratio", kvw_num(med[3] / med[1]));
	json_object_set_new(in, "compute_noise", kvw_num(cn));
	json_object_set_new(in, "copy_noise", kvw_num(xn));
out:
	if (j.t.stream)
		cudaStreamDestroy(j.t.stream);
	if (o.cs)
		cudaStreamDestroy(o.cs);
	kvw_evtimer_destroy(&o.ct);
	cudaFreeHost(o.host);
	cudaFree(o.dev);
	free_layer(&j);
	free(a);
	return err;
}

#else /* built without CUDA */

static kvw_err prefill_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without CUDA");
}
#define overlap_run prefill_run

#endif

const kvw_probe kvw_probe_prefill = {
	.name = "prefill",
	.summary = "one layer of --model for 128..131072 tokens: GEMMs (cuBLASLt bf16, fp8) and causal attention, "
	           "each checked first: the prefill curve",
	.needs = KVW_NEED_CUDA,
	.unavailable = need_gpu,
	.run = prefill_run,
};

const kvw_probe kvw_probe_overlap = {
	.name = "overlap",
	.summary = "prefill GEMMs and a pinned host-to-device copy at once: each one's slowdown (the interference factor)",
	.needs = KVW_NEED_CUDA,
	.unavailable = need_gpu,
	.run = overlap_run,
};
