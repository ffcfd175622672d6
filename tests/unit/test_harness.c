/* test_harness.c — the measurement harness without hardware: the link
 * fit on synthetic sweeps with known alpha and B, the Google Benchmark
 * shim on operations whose durations the test dictates, and the probe
 * registry. */
#define _GNU_SOURCE
#include <sched.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_arch.h"
#include "check.h"
#include "compare.h"
#include "kvw_config.h"
#include "kvw_fit.h"
#include "kvw_gbench.h"
#include "probe.h"
#include "probe_math.h"
#include "profile.h"
#include "registry.h"
#include "kvw_topo.h"
#include "tcp.h"

static void test_fit(void)
{
	double s[19], t[19];
	int n = 0;
	/* 4 KiB .. 1 GiB in steps of 2x: t = 10 us + s / 50 GB/s exactly */
	for (double b = 4096; b <= 1073741824.0; b *= 2, n++) {
		s[n] = b;
		t[n] = 10e-6 + b / 50e9;
	}
	kvw_linkfit f;
	CHECK(kvw_fit_link(s, t, n, &f));
	CHECK_NEAR(f.alpha_s, 10e-6, 1e-9);
	CHECK_NEAR(f.bw, 50e9, 1e-9);
	CHECK_NEAR(f.r2, 1.0, 1e-12);
	CHECK(f.n == n);
	/* +-1% alternating noise: both parameters within 2% */
	for (int i = 0; i < n; i++)
		t[i] *= i % 2 ? 1.01 : 0.99;
	CHECK(kvw_fit_link(s, t, n, &f));
	CHECK_NEAR(f.alpha_s, 10e-6, 0.02);
	CHECK_NEAR(f.bw, 50e9, 0.02);
	CHECK(f.r2 > 0.99 && f.r2 < 1.0);
	/* a latency below resolution (negative intercept) is clamped to zero */
	for (int i = 0; i < n; i++)
		t[i] = s[i] / 20e9 - 1e-8;
	CHECK(kvw_fit_link(s, t, n, &f));
	CHECK(f.alpha_s == 0);
	CHECK_NEAR(f.bw, 20e9, 0.05);
	/* too few points, non-positive values */
	double one[] = { 1 }, bad[] = { -1, 0 };
	CHECK(!kvw_fit_link(one, one, 1, &f));
	CHECK(!kvw_fit_link(bad, bad, 2, &f));
}

typedef struct seq {
	const double *t;
	int i;
} seq;

static double next_time(void *arg)
{
	seq *q = arg;
	return q->t[q->i++];
}

static void test_gbench(void)
{
	/* one untimed warm-up first (lazy module load, cuBLASLt's first use,
	 * NCCL's connect): a cold 1 s run must not reach the statistics; then
	 * one iteration per repetition: the statistics are over these five */
	const double t[] = { 1.0, 5e-3, 1e-3, 4e-3, 2e-3, 3e-3 };
	seq q = { t, 0 };
	kvw_tstats st;
	kvw_diag d;
	CHECK(kvw_gbench_measure("test/seq", next_time, &q, 1, 5, &st, &d) == KVW_OK);
	CHECK(q.i == 6);
	CHECK_NEAR(st.min, 1e-3, 1e-9);
	CHECK_NEAR(st.median, 3e-3, 1e-9);
	CHECK_NEAR(st.p90, 5e-3, 1e-9);            /* nearest rank: ceil(0.9 * 5) = 5th */
	CHECK_NEAR(st.max, 5e-3, 1e-9);            /* the cold run is not the max */
	CHECK_NEAR(st.stddev, sqrt(2.5) * 1e-3, 1e-6); /* sample stddev of 1..5 ms */
	/* two iterations per repetition: each repetition is the mean of its pair */
	const double u[] = { 9.0, 1e-3, 3e-3, 2e-3, 2e-3, 10e-3, 2e-3 };
	seq r = { u, 0 };
	CHECK(kvw_gbench_measure("test/pairs", next_time, &r, 2, 3, &st, &d) == KVW_OK);
	CHECK_NEAR(st.min, 2e-3, 1e-9);
	CHECK_NEAR(st.max, 6e-3, 1e-9);
	CHECK_NEAR(st.median, 2e-3, 1e-9);
	/* a failing operation is an error, not a number: in the warm-up or timed */
	const double bad[] = { 1e-3, 1e-3, -1 };
	seq b = { bad, 0 };
	CHECK(kvw_gbench_measure("test/fail", next_time, &b, 1, 2, &st, &d) == KVW_EDRIVER);
	const double cold_bad[] = { -1, 1e-3, 1e-3 };
	seq cb = { cold_bad, 0 };
	CHECK(kvw_gbench_measure("test/fail_warmup", next_time, &cb, 1, 2, &st, &d) == KVW_EDRIVER);
	CHECK(cb.i == 1); /* nothing timed after a failed warm-up */
	CHECK(kvw_gbench_measure("test/zero", next_time, &b, 0, 2, &st, &d) == KVW_EUSAGE);
}

/* staging copies for the TCP GPU-staged path, on host memory */
static bool stage_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	return true;
}

static bool stage_nothing(void *dst, const void *src, size_t n)
{
	(void)dst, (void)src, (void)n;
	return true;
}

/* the GPU-staged TCP path's check over loopback with a mock staging copy:
 * a copy that moves nothing, or the wrong bytes, is caught */
static void test_tcp_staging(void)
{
	kvw_tcp_pipe *p = NULL;
	kvw_diag d;
	size_t n = (size_t)1 << 20;
	unsigned char *src = malloc(n), *other = malloc(n);
	CHECK(src && other && kvw_tcp_pipe_open(2, &p, &d) == KVW_OK);
	if (!p || !src || !other) {
		free(src), free(other), kvw_tcp_pipe_close(p);
		return;
	}
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned char)(i * 131 + 7), other[i] = (unsigned char)(i * 17 + 3);
	kvw_tcp_pipe_set_stage(p, stage_copy);
	CHECK(kvw_tcp_pipe_verify(p, src, src, n) == 0);
	kvw_tcp_pipe_set_stage(p, stage_nothing);
	CHECK(kvw_tcp_pipe_verify(p, src, src, n) == (long long)n);
	kvw_tcp_pipe_set_stage(p, stage_copy);
	CHECK(kvw_tcp_pipe_verify(p, other, src, n) == (long long)n); /* the source held something else */
	kvw_tcp_pipe_close(p);
	free(src);
	free(other);
}

static void test_overlap_math(void)
{
	double sl, noise;
	char why[256];
	/* 1.2x slower together, 1% spreads: kept */
	CHECK(kvw_overlap_slowdown(1.2, 0.012, 1.0, 0.01, &sl, &noise, why, sizeof why) && sl == 1.2);
	/* 0.99 within noise (3 x 1.4% + 1%): no slowdown, not an error */
	CHECK(kvw_overlap_slowdown(0.99, 0.01, 1.0, 0.01, &sl, &noise, why, sizeof why) && sl == 1.0);
	CHECK_NEAR(noise, 3 * sqrt(2) * 0.01 + 0.01, 1e-2);
	/* 0.8: together faster than alone beyond noise, refused (a clamp to 1 would hide it) */
	CHECK(!kvw_overlap_slowdown(0.8, 0.008, 1.0, 0.01, &sl, &noise, why, sizeof why));
	CHECK(strstr(why, "faster than alone") != NULL);
	CHECK(!kvw_overlap_slowdown(0, 0, 1.0, 0.01, &sl, &noise, why, sizeof why));
}

static int group_of(const kvw_arch *a, bool moe)
{
	for (int g = 0; g < a->n_groups; g++)
		if (a->groups[g].moe == moe && a->groups[g].window == 0)
			return g;
	return -1;
}

/* the probe's GEMM + attention FLOPs of a layer equal the model's charge
 * for that layer group, at every prompt length */
static void check_flops_match(const kvw_arch *a, bool moe)
{
	kvw_layer_shapes s;
	char why[256];
	int g = group_of(a, moe);
	CHECK(g >= 0 && kvw_layer_shapes_of(a, moe, &s, why, sizeof why));
	if (g < 0)
		return;
	for (double T = 128; T <= 131072; T *= 4) {
		CHECK_NEAR(kvw_layer_gemm_flops(&s, T), kvw_group_linear_flops(a, g, T), 1e-12);
		CHECK_NEAR(kvw_layer_attn_flops(&s, T), kvw_group_attn_flops(a, g, T, true), 1e-12);
	}
}

static bool gemm_is(const kvw_layer_gemm *g, const char *name, long n, long k, double rows)
{
	return strcmp(g->name, name) == 0 && g->n == n && g->k == k && g->rows == rows;
}

/* the prefill probe's layer shapes (probe_math.h): Llama-3-8B's four GEMMs
 * as before MLA existed; DeepSeek-V3's MLA layer as vLLM runs a prefill */
static void test_layer_shapes(void)
{
	kvw_arch l8 = load("llama-3-8b"), ds = load("deepseek-v3"), mx = load("mixtral-8x7b");
	kvw_layer_shapes s;
	char why[256];
	CHECK(kvw_layer_shapes_of(&l8, false, &s, why, sizeof why) && s.n_gemm == 4);
	CHECK(gemm_is(&s.g[0], "qkv", 4096 + 2 * 1024, 4096, 1) && gemm_is(&s.g[1], "o", 4096, 4096, 1));
	CHECK(gemm_is(&s.g[2], "up", 2 * 14336, 4096, 1) && gemm_is(&s.g[3], "down", 4096, 14336, 1));
	CHECK(s.heads == 32 && s.kv_heads == 8 && s.d_qk == 128 && s.d_v == 128);
	for (int i = 0; i < 4; i++)
		CHECK(!s.g[i].bf16);
	/* 2 T x 6.98 G params per token: 2 x (4096 x 6144 + 4096 x 4096 + 3 x 4096 x 14336) */
	CHECK_NEAR(kvw_layer_gemm_flops(&s, 1), 2.0 * 218103808, 1e-15);
	check_flops_match(&l8, false);
	CHECK(!kvw_layer_shapes_of(&l8, true, &s, why, sizeof why) && strstr(why, "no MoE layer"));

	/* DeepSeek-V3, MoE layer: h 7168, H 128, r_q 1536, r_kv 512, nope 128, rope 64, v 128,
	 * 256 experts of 2048, top-8 + 1 shared */
	CHECK(kvw_layer_shapes_of(&ds, true, &s, why, sizeof why) && s.n_gemm == 7);
	CHECK(gemm_is(&s.g[0], "q_a+kv_a", 1536 + 512 + 64, 7168, 1));
	CHECK(gemm_is(&s.g[1], "q_b", 128 * 192, 1536, 1) && gemm_is(&s.g[2], "kv_b", 128 * 256, 512, 1));
	CHECK(gemm_is(&s.g[3], "o", 7168, 128 * 128, 1));
	CHECK(gemm_is(&s.g[4], "router", 256, 7168, 1) && s.g[4].bf16);
	CHECK(gemm_is(&s.g[5], "up", 2 * 2048, 7168, 9) && gemm_is(&s.g[6], "down", 7168, 2048, 9));
	CHECK(s.heads == 128 && s.kv_heads == 128 && s.d_qk == 192 && s.d_v == 128);
	/* 187105280 attention + 1835008 router + 9 x 44040192 expert params per token */
	CHECK_NEAR(kvw_layer_gemm_flops(&s, 1), 2.0 * 585302016, 1e-15);
	CHECK_NEAR(kvw_layer_attn_flops(&s, 4096), 2.0 * 128 * 320 * 4096.0 * 4097 / 2, 1e-15);
	check_flops_match(&ds, true);
	check_flops_match(&ds, false); /* its first 3 layers: dense FFN of 18432 */
	check_flops_match(&mx, true);
	/* a full-rank query (q_lora_rank 0, DeepSeek-V2-Lite's form): q and kv_a apart */
	kvw_arch lite = ds;
	lite.q_lora_rank = 0;
	CHECK(kvw_arch_finish(&lite, why, (int)sizeof why));
	CHECK(kvw_layer_shapes_of(&lite, true, &s, why, sizeof why) && s.n_gemm == 7);
	CHECK(gemm_is(&s.g[0], "q", 128 * 192, 7168, 1) && gemm_is(&s.g[1], "kv_a", 576, 7168, 1));
	check_flops_match(&lite, true);
}

/* why attention or decode cannot run: the reasons the probes record */
static void test_probe_reasons(void)
{
	kvw_arch l8 = load("llama-3-8b"), ds = load("deepseek-v3");
	kvw_layer_shapes s;
	char why[256], b[256];
	CHECK(kvw_layer_shapes_of(&l8, false, &s, why, sizeof why));
	CHECK(kvw_prefill_attention_unrunnable(&s, "cuDNN shim not loaded: x", b, sizeof b) == NULL); /* own kernel */
	CHECK(kvw_layer_shapes_of(&ds, true, &s, why, sizeof why));
	CHECK(kvw_prefill_attention_unrunnable(&s, NULL, b, sizeof b) == NULL); /* cuDNN usable */
	const char *r = kvw_prefill_attention_unrunnable(&s, "cuDNN shim not loaded: libcudnn.so.9: no such file", b,
	                                                 sizeof b);
	CHECK(r == b && strstr(r, "d_qk 192, d_v 128") && strstr(r, "128 heads over 128 KV heads")
	      && strstr(r, "cuDNN only") && strstr(r, "libcudnn.so.9: no such file"));
	CHECK(kvw_mla_decode_reason(&l8, b, sizeof b) == NULL);
	r = kvw_mla_decode_reason(&ds, b, sizeof b);
	CHECK(r && strstr(r, "absorbed") && strstr(r, "d_qk 576, d_v 512") && strstr(r, "up to 256")
	      && strstr(r, "128 heads"));
	CHECK(r && strlen(r) <= 200); /* fits the record's reason beside the model name */
}

static void test_decode_point(void)
{
	kvw_decode_point p;
	/* 4.8 GB/s read bandwidth x 1 ms would move 4.8 MB; a layer of 3.6 MB in 1 ms */
	kvw_decode_point_fill(&p, 8, 4096, 1e-3, 32, 3.6e6, 4.8e9);
	CHECK_NEAR(p.achieved_gbps, 3.6, 1e-12);
	CHECK_NEAR(p.bound_s, 0.75e-3, 1e-12);
	CHECK_NEAR(p.fixed_s, 0.25e-3, 1e-9);
	CHECK_NEAR(p.step_s, 32e-3, 1e-12);
	/* Llama-3-8B layer: 218 M params bf16 + 8 x 4096 tokens x 4 KiB KV */
	CHECK_NEAR(kvw_decode_layer_bytes(218e6, 2, 8, 4096, 4096), 436e6 + 8.0 * 4096 * 4096, 1e-12);
}

/* profile.decode, the decode probe's curve: read when well formed, refused
 * with the field named when not */
static void test_profile_decode(void)
{
	const char *good = "{\"schema\": \"kvwall.profile/1\", \"decode\": {\"model\": \"llama-3-8b\", "
	                   "\"dtype\": \"bf16\", \"kv_dtype\": \"bf16\", \"tp\": 1, \"n_layers\": 32, "
	                   "\"block_tokens\": 16, \"backend\": \"own\", \"points\": [{\"batch\": 8, \"ctx\": 4096, "
	                   "\"layer_s\": 2e-4, \"step_s\": 6.4e-3, \"bytes\": 5.7e8, \"achieved_GBps\": 2850, "
	                   "\"bound_s\": 1.2e-4, \"fixed_s\": 8e-5}]}}";
	static kvw_profile p;
	kvw_diag d;
	json_t *j = json_loads(good, 0, NULL);
	CHECK(j && kvw_profile_parse(j, &p, &d) == KVW_OK);
	CHECK(p.has_decode && p.n_decode == 1 && p.decode_layers == 32 && p.decode_block_tokens == 16);
	CHECK(p.decode[0].batch == 8 && p.decode[0].ctx == 4096 && p.decode[0].fixed_s == 8e-5);
	CHECK(strcmp(p.decode_backend, "own") == 0 && strcmp(p.decode_model, "llama-3-8b") == 0);
	json_decref(j);
	/* each defect is refused, naming the part */
	const char *bad[][2] = {
		{ "\"layer_s\": 2e-4", "\"layer_s\": -1" },
		{ "\"backend\": \"own\"", "\"backend\": \"magic\"" },
		{ ", \"fixed_s\": 8e-5", "" },
		{ "\"batch\": 8", "\"batch\": 8.5" },
		{ "\"n_layers\": 32", "\"n_layers\": 0" },
		{ "\"points\": [", "\"points\": [], \"x\": [" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char text[1024];
		const char *at = strstr(good, bad[i][0]);
		snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, bad[i][1], at + strlen(bad[i][0]));
		j = json_loads(text, 0, NULL);
		CHECK(j && kvw_profile_parse(j, &p, &d) == KVW_EINPUT && strstr(d.msg, "decode"));
		json_decref(j);
	}
}

/* host_link binds its thread near the GPU to allocate pinned buffers; the
 * binding must be undone after, or every later probe inherits it */
static void test_unbind(void)
{
	cpu_set_t before, during, after;
	/* CPUs only: hwloc's PCI discovery (libpciaccess) leaks under LeakSanitizer */
	setenv("HWLOC_COMPONENTS", "-pci", 1);
	CHECK(sched_getaffinity(0, sizeof before, &before) == 0);
	kvw_topo_saved *s = kvw_topo_bind_cpus("0");
	if (!s) {
		printf("test_harness: hwloc binding not available here, unbind not tested\n");
		return;
	}
	CHECK(sched_getaffinity(0, sizeof during, &during) == 0);
	CHECK(CPU_COUNT(&during) == 1 && CPU_ISSET(0, &during));
	kvw_topo_unbind(s);
	CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
	CHECK(CPU_EQUAL(&before, &after));
}

static void test_registry(void)
{
	int n = 0;
	kvw_diag d;
	const kvw_probe *const *p = kvw_probes(&n, &d);
	CHECK(p != NULL && n >= 2);
	for (int i = 0; p && i < n; i++)
		CHECK(kvw_probe_find(p[i]->name) == p[i]);
	CHECK(kvw_probe_find("null") != NULL && kvw_probe_find("nope") == NULL);
	kvw_record r = kvw_record_new("x", "y");
	json_t *j = kvw_record_to_json(&r);
	kvw_record back;
	CHECK(kvw_record_from_json(j, &back, &d) == KVW_EINPUT); /* ok without a time is refused */
	r.time_s.median = 1e-3;
	r.gbps = 2.5;
	json_decref(j);
	j = kvw_record_to_json(&r);
	CHECK(kvw_record_from_json(j, &back, &d) == KVW_OK && back.gbps == 2.5);
	json_decref(j);
}

static void test_compare_rule(void)
{
	double ch, noise;
	/* higher is better: 3000 -> 2400 is a 20% drop; spreads 1% each: noise 2 * sqrt(2) % */
	kvw_metric b = { "m", 3000, 0.01, true }, c = { "m", 2400, 0.01, true };
	CHECK(kvw_compare_metric(&b, &c, 0.05, 2, &ch, &noise) == KVW_CMP_REGRESSION);
	CHECK_NEAR(ch, -0.2, 1e-12);
	CHECK_NEAR(noise, 2 * sqrt(2) * 0.01, 1e-12);
	/* 15% spreads: noise 42% explains a 20% drop */
	b.rel_spread = c.rel_spread = 0.15;
	CHECK(kvw_compare_metric(&b, &c, 0.05, 2, &ch, &noise) == KVW_CMP_NOISE);
	/* lower is better: time 1.0 -> 1.03 within 5%, -> 1.2 a regression, -> 0.8 improved */
	kvw_metric t = { "t", 1.0, 0, false }, u = { "t", 1.03, 0, false };
	CHECK(kvw_compare_metric(&t, &u, 0.05, 2, &ch, &noise) == KVW_CMP_OK);
	u.value = 1.2;
	CHECK(kvw_compare_metric(&t, &u, 0.05, 2, &ch, &noise) == KVW_CMP_REGRESSION);
	u.value = 0.8;
	CHECK(kvw_compare_metric(&t, &u, 0.05, 2, &ch, &noise) == KVW_CMP_IMPROVED);
	CHECK_NEAR(ch, 0.2, 1e-12);
}

int main(void)
{
	test_compare_rule();
	test_fit();
	test_gbench();
	test_registry();
	test_overlap_math();
	test_decode_point();
	test_layer_shapes();
	test_probe_reasons();
	test_profile_decode();
	test_unbind();
	test_tcp_staging();
	return check_done("test_harness");
}
