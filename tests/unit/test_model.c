/* test_model.c — table-driven tests of the analytic model against values
 * worked out by hand (the arithmetic is in the comments beside each row).
 * Architectures come from the shipped catalog (KVWALL_CATALOG). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "catalog_arch.h"
#include "check.h"
#include "kvw_config.h"
#include "kvw_model.h"

/* KV bytes per token, bf16, tp 1: 2 * K * d * layers * 2 B (MLA: (r_kv + d_rope) * layers * 2 B) */
static const struct { const char *model; double per_token; } kv_rows[] = {
	{ "llama-2-7b", 524288 },      /* 2 * 32 * 128 * 32 * 2 */
	{ "llama-3-8b", 131072 },      /* 2 *  8 * 128 * 32 * 2 */
	{ "llama-3-70b", 327680 },     /* 2 *  8 * 128 * 80 * 2 (DESIGN.md quotes the same) */
	{ "llama-3.1-405b", 516096 },  /* 2 *  8 * 128 * 126 * 2 */
	{ "qwen2.5-72b", 327680 },     /* 2 *  8 * 128 * 80 * 2 */
	{ "mixtral-8x7b", 131072 },    /* 2 *  8 * 128 * 32 * 2 */
	{ "mistral-7b", 131072 },      /* 2 *  8 * 128 * 32 * 2 */
	{ "gemma-2-9b", 344064 },      /* 2 *  8 * 256 * 42 * 2 */
	{ "opt-66b", 2359296 },        /* 2 * 72 * 128 * 64 * 2 */
	{ "deepseek-v3", 70272 },      /* (512 + 64) * 61 * 2 */
};

static void test_kv_per_token(void)
{
	kvw_kvfmt bf16 = { KVW_DT_BF16, 1 };
	for (size_t i = 0; i < sizeof kv_rows / sizeof kv_rows[0]; i++) {
		kvw_arch a = load(kv_rows[i].model);
		CHECK_NEAR(kvw_kv_bytes_per_token(&a, &bf16), kv_rows[i].per_token, 0);
	}
}

static void test_kv_windows_dtypes_tp(void)
{
	kvw_kvfmt bf16 = { KVW_DT_BF16, 1 };
	kvw_arch mistral = load("mistral-7b"), gemma = load("gemma-2-9b"), qwen = load("qwen2.5-72b");
	/* Mistral: every layer slides with W = 4096, so 8192 tokens hold 4096: 131072 * 4096 */
	CHECK_NEAR(kvw_kv_bytes(&mistral, &bf16, 8192), 131072.0 * 4096, 0);
	CHECK_NEAR(kvw_kv_bytes(&mistral, &bf16, 1000), 131072.0 * 1000, 0);
	/* Gemma-2: 21 full + 21 sliding (W 4096) layers of 2*8*256*2 = 8192 B/token:
	 * 8192 * (21 * 8192 + 21 * 4096) = 2,113,929,216 */
	CHECK_NEAR(kvw_kv_bytes(&gemma, &bf16, 8192), 2113929216.0, 0);
	/* Qwen2.5: use_sliding_window false, so 200k tokens are all held */
	CHECK_NEAR(kvw_kv_bytes(&qwen, &bf16, 200000), 327680.0 * 200000, 0);

	kvw_arch l8 = load("llama-3-8b"), ds = load("deepseek-v3");
	kvw_kvfmt fp8 = { KVW_DT_FP8, 1 }, int4 = { KVW_DT_INT4, 1 };
	CHECK_NEAR(kvw_kv_bytes_per_token(&l8, &fp8), 65536, 0); /* 2*8*128*32*1 */
	/* int4: a 128-vector is 64 B + 4 fp16 scales = 72 B; 2 * 8 * 72 * 32 = 36,864 */
	CHECK_NEAR(kvw_kv_bytes_per_token(&l8, &int4), 36864, 0);
	/* MLA int4: latent 512 -> 256 + 16 * 2 = 288, rope 64 -> 32 + 2 * 2 = 36; (288 + 36) * 61 = 19,764 */
	CHECK_NEAR(kvw_kv_bytes_per_token(&ds, &int4), 19764, 0);

	kvw_arch l70 = load("llama-3-70b"), l2 = load("llama-2-7b");
	kvw_kvfmt tp8 = { KVW_DT_BF16, 8 }, tp16 = { KVW_DT_BF16, 16 }, tp4 = { KVW_DT_BF16, 4 };
	CHECK_NEAR(kvw_kv_bytes_per_token(&l70, &tp8), 40960, 0);  /* 1 head: 2*1*128*80*2 */
	CHECK_NEAR(kvw_kv_bytes_per_token(&l70, &tp16), 40960, 0); /* replicated, still 1 head */
	CHECK_NEAR(kvw_kv_bytes_per_token(&l2, &tp4), 131072, 0);  /* 8 heads: 2*8*128*32*2 */
	CHECK_NEAR(kvw_kv_bytes_per_token(&ds, &tp8), 70272, 0);   /* latent held by every rank */
	char why[256];
	kvw_kvfmt tp3 = { KVW_DT_BF16, 3 }, tp32 = { KVW_DT_BF16, 32 }, tp12 = { KVW_DT_BF16, 12 };
	CHECK(!kvw_kvfmt_check(&l70, &tp3, why, sizeof why));  /* 64 heads % 3 */
	CHECK(kvw_kvfmt_check(&l70, &tp32, why, sizeof why));  /* 32 % 8 KV heads == 0 */
	kvw_arch opt = load("opt-66b");
	kvw_kvfmt tp5 = { KVW_DT_BF16, 5 };
	CHECK(!kvw_kvfmt_check(&opt, &tp5, why, sizeof why)); /* 72 % 5 != 0 */
	CHECK(kvw_kvfmt_check(&opt, &tp12, why, sizeof why)); /* 72 % 12 == 0 */
	kvw_kvfmt fp32 = { KVW_DT_FP32, 1 };
	CHECK(!kvw_kvfmt_check(&l8, &fp32, why, sizeof why));
}

static void test_params_and_flops(void)
{
	kvw_arch l8 = load("llama-3-8b"), mx = load("mixtral-8x7b"), ds = load("deepseek-v3"), opt = load("opt-66b");
	/* Llama-3-8B layer: q 4096^2 + k,v 2*4096*1024 + o 4096^2 = 41,943,040;
	 * FFN 3*4096*14336 = 176,160,768; (41,943,040 + 176,160,768) * 32 = 6,979,321,856 */
	CHECK_NEAR(l8.active_params, 6979321856.0, 0);
	CHECK_NEAR(kvw_linear_flops(&l8, 1), 2 * 6979321856.0, 0);
	/* attention at 1024 causal: 32 layers * 2 * 32 heads * 256 * 1024*1025/2 = 275,146,342,400 */
	CHECK_NEAR(kvw_attn_flops(&l8, 1024, true), 275146342400.0, 0);
	CHECK_NEAR(kvw_attn_flops(&l8, 1024, false), 32.0 * 16384 * 1024 * 1024, 0);
	/* Mixtral layer: attention 41,943,040 + router 4096*8 + 2 experts * 3*4096*14336
	 * = 394,297,344; * 32 = 12,617,515,008 active */
	CHECK_NEAR(mx.active_params, 12617515008.0, 0);
	/* DeepSeek-V3, per layer attention: q_a 7168*1536 + q_b 1536*128*192 + kv_a 7168*576
	 * + kv_b 512*128*256 + o 128*128*7168 = 187,105,280; dense FFN 3*7168*18432 = 396,361,728 (3 layers);
	 * MoE: router 7168*256 + 9 experts * 3*7168*2048 = 398,196,736 (58 layers)
	 * 187,105,280*61 + 396,361,728*3 + 398,196,736*58 = 35,697,917,952 */
	CHECK_NEAR(ds.attn_params_per_layer, 187105280.0, 0);
	CHECK_NEAR(ds.active_params, 35697917952.0, 0);
	/* MLA attention: 2 * 128 heads * (192 + 128) = 81,920 FLOP per pair per layer */
	CHECK_NEAR(kvw_attn_flops(&ds, 100, true), 61.0 * 81920 * 5050, 0);
	/* OPT-66B (MHA, plain FFN): 4 * 9216^2 + 2 * 9216 * 36864 = 1,019,215,872 per layer * 64 */
	CHECK_NEAR(opt.active_params, 65229815808.0, 0);
	/* windows: W = 4096, L = 8192 -> 4096*4097/2 + 4096*4096 = 25,167,872 pairs */
	CHECK_NEAR(kvw_attn_pairs(4096, 8192, true), 25167872.0, 0);
	CHECK_NEAR(kvw_attn_pairs(4096, 100, true), 5050.0, 0);
	CHECK_NEAR(kvw_attn_pairs(4096, 8192, false), 8192.0 * 4096, 0);
	CHECK_NEAR(kvw_attn_pairs(0, 0, true), 0, 0);
}

static void test_pipeline(void)
{
	/* x <= c: every send hides under the next layer's compute, exposed = x */
	CHECK_NEAR(kvw_pipeline_exposed_uniform(80, 2.0, 1.0), 1.0, 1e-15);
	/* x > c: x + (n - 1)(x - c) = 3 + 79 * 1 = 82 */
	CHECK_NEAR(kvw_pipeline_exposed_uniform(80, 2.0, 3.0), 82.0, 1e-15);
	double c[80], x[80];
	for (int i = 0; i < 80; i++)
		c[i] = 2.0, x[i] = 3.0;
	CHECK_NEAR(kvw_pipeline_exposed(80, c, x), 82.0, 1e-12);
	for (int i = 0; i < 80; i++)
		x[i] = 1.0;
	CHECK_NEAR(kvw_pipeline_exposed(80, c, x), 1.0, 1e-12);
	/* mixed: c = 1,1,1; x = .5,3,.5: sends end 1.5, max(1.5,2)+3 = 5, max(5,3)+.5 = 5.5; 5.5 - 3 = 2.5 */
	double c3[] = { 1, 1, 1 }, x3[] = { 0.5, 3, 0.5 };
	CHECK_NEAR(kvw_pipeline_exposed(3, c3, x3), 2.5, 1e-15);
}

static kvw_scenario given(const kvw_arch *a, double tflops, double gbps, double alpha_s)
{
	kvw_scenario s = { .arch = a, .kv = { KVW_DT_BF16, 1 }, .causal = true,
	                   .compute_slowdown = 1, .copy_slowdown = 1 };
	s.compute.gemm.constant = s.compute.attn.constant = tflops * 1e12;
	s.link = (kvw_link){ alpha_s, gbps * 1e9 };
	return s;
}

static void test_crossover(void)
{
	kvw_arch l8 = load("llama-3-8b");
	/* R = 1e15, B = 1e9, alpha = 0.  recompute = (a L + b L (L+1)) / R with a = 13,958,643,712,
	 * b = 262,144; transfer = 131072 L / B.  Equal when L + 1 = (131072 R / B - a) / b
	 * = 500,000 - 53,248 = 446,752, so L* = 446,751, recompute winning below. */
	kvw_scenario s = given(&l8, 1000, 1, 0);
	kvw_crossover x;
	kvw_crossover_find(&s, 1, 1 << 20, &x);
	CHECK(x.regime == KVW_RECOMPUTE_BELOW);
	CHECK(x.n_roots == 1);
	CHECK_NEAR(x.roots[0], 446751.0, 1e-6);
	/* At 50 GB/s the per-token transfer (2.6 us) is cheaper than the per-token linear
	 * compute (14 us at 1 PFLOP/s): transfer always wins. */
	s = given(&l8, 1000, 50, 0);
	kvw_crossover_find(&s, 1, 1 << 20, &x);
	CHECK(x.regime == KVW_TRANSFER_ALWAYS && x.n_roots == 0);
	/* A 10 s fixed latency: recompute wins all the way to 10^4 tokens (0.17 s there). */
	s = given(&l8, 1000, 50, 10);
	kvw_crossover_find(&s, 1, 1e4, &x);
	CHECK(x.regime == KVW_RECOMPUTE_ALWAYS);
	/* Latency-bound root: B = 1e15 B/s, alpha = 1 ms: b L^2 + (a + b - K R / B) L - alpha R = 0 */
	s = given(&l8, 1000, 1e6, 1e-3);
	kvw_crossover_find(&s, 1, 1 << 20, &x);
	double qa = 262144, qb = 13958643712.0 + 262144 - 131072.0 * 1e15 / 1e15, qc = -1e-3 * 1e15;
	double root = (-qb + sqrt(qb * qb - 4 * qa * qc)) / (2 * qa);
	CHECK(x.regime == KVW_RECOMPUTE_BELOW && x.n_roots == 1);
	CHECK_NEAR(x.roots[0], root, 1e-3);
}

/* A flip under one KV block is latency-bound, not L*.  B = 1e15 B/s,
 * alpha = 100 us: the root of b L^2 + (a + b - K R / B) L - alpha R = 0 is
 * 7.16 tokens (alpha R / a = 1e11 / 1.3958e10), under a 16-token block: no
 * L*, transfer wins over [16, 2^20], latency-bound below 7.16.  With 1 ms
 * the root (71.6) is above one block and stays L*. */
static void test_handoff(void)
{
	kvw_arch l8 = load("llama-3-8b");
	kvw_scenario s = given(&l8, 1000, 1e6, 100e-6);
	kvw_crossover x;
	kvw_crossover_handoff(&s, 1, 1 << 20, 16, &x);
	double qa = 262144, qb = 13958643712.0 + 262144 - 131072.0, qc = -100e-6 * 1e15;
	double root = (-qb + sqrt(qb * qb - 4 * qa * qc)) / (2 * qa);
	CHECK(x.regime == KVW_TRANSFER_ALWAYS && x.n_roots == 0 && x.block == 16);
	CHECK_NEAR(x.latency_bound_below, root, 1e-3);
	s = given(&l8, 1000, 1e6, 1e-3);
	kvw_crossover_handoff(&s, 1, 1 << 20, 16, &x);
	CHECK(x.regime == KVW_RECOMPUTE_BELOW && x.n_roots == 1 && x.latency_bound_below == 0);
	CHECK(x.roots[0] > 16);
	/* the 446,751-token L* of test_crossover, and a window of 8192 that cuts it off */
	s = given(&l8, 1000, 1, 0);
	kvw_crossover_handoff(&s, 1, 1 << 20, 16, &x);
	CHECK(x.n_roots == 1 && fabs(x.roots[0] - 446751.0) < 1 && x.latency_bound_below == 0);
	kvw_crossover_handoff(&s, 1, 8192, 16, &x);
	CHECK(x.regime == KVW_RECOMPUTE_ALWAYS && x.n_roots == 0);
}

/* Prefill under TP pays two ring all-reduces per layer over tp_link:
 * recompute(TP 2) = recompute(TP 1) / 2 + 32 x 2 x allreduce(L x 4096 x 2 B, 2). */
static void test_tp_prefill(void)
{
	kvw_arch l8 = load("llama-3-8b");
	kvw_scenario one = given(&l8, 1000, 50, 0), two = one;
	two.kv.tp = 2;
	two.tp_link = (kvw_link){ 3e-6, 360e9 };
	double L = 4096, ar = kvw_allreduce_s(L * 4096 * 2, 2, &two.tp_link);
	CHECK_NEAR(ar, 2 * 3e-6 + 4096.0 * 4096 * 2 / 360e9, 1e-12);
	CHECK_NEAR(kvw_recompute_s(&two, L), kvw_recompute_s(&one, L) / 2 + 64 * ar, 1e-12);
	CHECK_NEAR(kvw_recompute_allreduce_s(&two, L), 64 * ar, 1e-12);
	CHECK_NEAR(kvw_recompute_allreduce_s(&one, L), 0, 0);
	/* the layer-wise pipeline sees the same per-layer compute */
	double c[32], x[32];
	kvw_layerwise_times(&two, L, c, x);
	CHECK_NEAR(c[0] * 32, kvw_recompute_s(&two, L), 1e-12);
}

/* The layer's element-wise kernels at a measured token-layer rate. */
static void test_elementwise(void)
{
	kvw_arch l8 = load("llama-3-8b");
	kvw_scenario s = given(&l8, 1000, 1, 0);
	double r0 = kvw_recompute_s(&s, 1000);
	s.compute.elementwise.constant = 1e6; /* 1 us per token per layer */
	CHECK_NEAR(kvw_recompute_s(&s, 1000) - r0, 32 * 1000 / 1e6, 1e-9);
	double c[32], x[32];
	kvw_layerwise_times(&s, 1000, c, x);
	CHECK_NEAR(c[0] * 32, kvw_recompute_s(&s, 1000), 1e-12); /* each layer carries its share */
	s.kv.tp = 2;
	CHECK_NEAR(kvw_recompute_s(&s, 1000), (r0 + 0.032) / 2, 1e-9);
	/* a measured curve: 2 us per token-layer at 128 tokens, 1 us at 2048, log-interpolated */
	s.kv.tp = 1;
	s.compute.elementwise = (kvw_curve){ .n = 2, .pt = { { 128, 5e5 }, { 2048, 1e6 } } };
	CHECK_NEAR(kvw_recompute_s(&s, 512) - kvw_recompute_s(&(kvw_scenario){ .arch = &l8, .kv = { KVW_DT_BF16, 1 },
	           .causal = true, .compute = { .gemm = s.compute.gemm, .attn = s.compute.attn } }, 512),
	           32 * 512 / 7.5e5, 1e-9);
}

/* Crossings of sampled curves (what kvwall validate measures). */
static void test_crossover_sampled(void)
{
	/* r = 2 L, t = L^1.5: log(r / t) = log 2 - 0.5 log L is linear in log L, so
	 * the interpolated root is exact: L = 4, transfer winning below. */
	double tok[] = { 1, 2, 8, 16 }, r[4], t[4];
	for (int i = 0; i < 4; i++)
		r[i] = 2 * tok[i], t[i] = pow(tok[i], 1.5);
	kvw_crossover x;
	kvw_crossover_sampled(4, tok, r, t, &x);
	CHECK(x.regime == KVW_TRANSFER_BELOW && x.n_roots == 1);
	CHECK_NEAR(x.roots[0], 4.0, 1e-12);
	/* swapped: recompute below */
	kvw_crossover_sampled(4, tok, t, r, &x);
	CHECK(x.regime == KVW_RECOMPUTE_BELOW && x.n_roots == 1);
	CHECK_NEAR(x.roots[0], 4.0, 1e-12);
	/* no crossing in range; and two */
	double far[] = { 100, 200, 300, 400 }, wave[] = { 3, 1, 1, 3 }, flat[] = { 2, 2, 2, 2 };
	kvw_crossover_sampled(4, tok, r, far, &x);
	CHECK(x.regime == KVW_RECOMPUTE_ALWAYS && x.n_roots == 0);
	kvw_crossover_sampled(4, tok, far, r, &x);
	CHECK(x.regime == KVW_TRANSFER_ALWAYS && x.n_roots == 0);
	kvw_crossover_sampled(4, tok, wave, flat, &x);
	CHECK(x.regime == KVW_MULTIPLE && x.n_roots == 2);
	/* the model sampled on the powers of two 128 .. 2^20 finds the analytic root
	 * L* = 446,751 of test_crossover within 2% (the curves are a L + b L^2 vs k L,
	 * not power laws, between 2^18 and 2^19) */
	kvw_arch l8 = load("llama-3-8b");
	kvw_scenario s = given(&l8, 1000, 1, 0);
	double L[14], rr[14], tt[14];
	for (int i = 0; i < 14; i++) {
		L[i] = 128.0 * (1 << i);
		rr[i] = kvw_recompute_s(&s, L[i]), tt[i] = kvw_transfer_s(&s, L[i]);
	}
	kvw_crossover_sampled(14, L, rr, tt, &x);
	CHECK(x.regime == KVW_RECOMPUTE_BELOW && x.n_roots == 1);
	CHECK_NEAR(x.roots[0], 446751.0, 0.02);
	CHECK(fabs(x.roots[0] - 446751.0) > 1); /* interpolation, not the bisection */
}

static void test_messages(void)
{
	kvw_arch l8 = load("llama-3-8b"), mistral = load("mistral-7b");
	kvw_scenario s = given(&l8, 1000, 10, 5e-6);
	double bytes = 131072.0 * 1024;
	/* one packed message: alpha + bytes / B */
	CHECK_NEAR(kvw_transfer_s(&s, 1024), 5e-6 + bytes / 10e9, 1e-12);
	/* 16-token blocks: 32 layers x 1024 / 16 = 2048 messages */
	s.message_tokens = 16;
	CHECK_NEAR(kvw_transfer_messages(&s, 1024), 2048, 0);
	CHECK_NEAR(kvw_transfer_s(&s, 1024), 2048 * 5e-6 + bytes / 10e9, 1e-12);
	CHECK_NEAR(kvw_transfer_messages(&s, 1000), 32 * 63, 0); /* ceil(1000 / 16) = 63 */
	/* B* with messages: V / (recompute - m alpha) */
	double r = kvw_recompute_s(&s, 1024);
	CHECK_NEAR(kvw_bandwidth_threshold(&s, 1024), bytes / (r - 2048 * 5e-6), 1e-12);
	/* a measured cost per further message (1 us) instead of alpha (5 us):
	 * alpha + 2047 x 1 us + bytes / B */
	s.message_s = 1e-6;
	CHECK_NEAR(kvw_transfer_s(&s, 1024), 5e-6 + 2047e-6 + bytes / 10e9, 1e-12);
	s.message_s = 0;
	/* sliding window: Mistral holds 4096 of 8192 tokens, so 32 x 256 messages of 16 tokens */
	kvw_scenario m = given(&mistral, 1000, 10, 5e-6);
	m.message_tokens = 16;
	CHECK_NEAR(kvw_transfer_messages(&m, 8192), 32 * 256, 0);
	/* layer-wise with blocks: each layer pays 64 alphas; with c << x the exposed time is n x */
	s.layerwise = true;
	s.compute.gemm.constant = s.compute.attn.constant = 1e21;
	double x = 64 * 5e-6 + bytes / 32 / 10e9;
	CHECK_NEAR(kvw_transfer_s(&s, 1024), x + 31 * x, 1e-6);
}

static void test_threshold_and_split(void)
{
	kvw_arch l8 = load("llama-3-8b"), l70 = load("llama-3-70b");
	kvw_scenario s = given(&l8, 400, 10, 5e-6);
	double L = 8192, r = kvw_recompute_s(&s, L);
	/* bulk: B* = KV / (recompute - alpha) */
	CHECK_NEAR(kvw_bandwidth_threshold(&s, L), 131072.0 * 8192 / (r - 5e-6), 1e-12);
	/* layer-wise: at B* the exposed time equals the recompute time */
	kvw_scenario lw = given(&l70, 400, 10, 5e-6);
	lw.layerwise = true;
	double bstar = kvw_bandwidth_threshold(&lw, L);
	lw.link.bw = bstar;
	CHECK_NEAR(kvw_transfer_s(&lw, L), kvw_recompute_s(&lw, L), 1e-6);
	/* recompute faster than alpha alone: no bandwidth helps */
	kvw_scenario slow = given(&l8, 400, 10, 100);
	CHECK(isinf(kvw_bandwidth_threshold(&slow, 128)));

	/* Split at L = 1000, R = 1e15, B = 1e9: recompute(k) = transfer(1000 - k) when
	 * b k^2 + (a + b + K R / B) k - K R 1000 / B = 0, k ~ 903.8; the best integer is the
	 * brute-force argmin, next to that root. */
	s = given(&l8, 1000, 1, 0);
	kvw_split sp;
	kvw_split_best(&s, 1000, &sp);
	double qa = 262144, qb = 13958643712.0 + 262144 + 131072.0 * 1e6, qc = -131072.0 * 1e6 * 1000;
	double k = (-qb + sqrt(qb * qb - 4 * qa * qc)) / (2 * qa);
	long brute = 0;
	double bt = INFINITY;
	for (long i = 0; i <= 1000; i++) {
		double t = kvw_split_time(&s, 1000, (double)i);
		if (t < bt)
			bt = t, brute = i;
	}
	CHECK(sp.best_prefix == brute);
	CHECK(fabs((double)sp.best_prefix - k) <= 1.0);
	CHECK_NEAR(sp.split_s, bt, 0);
	CHECK(sp.split_s < sp.recompute_s && sp.split_s < sp.transfer_s);
	/* a concurrent slowdown makes the split worse, never better */
	s.compute_slowdown = s.copy_slowdown = 1.5;
	kvw_split slowed;
	kvw_split_best(&s, 1000, &slowed);
	CHECK(slowed.split_s >= sp.split_s);
}

static void test_curve_decode(void)
{
	kvw_curve c = { .n = 2, .pt = { { 1000, 100 }, { 10000, 200 } } };
	CHECK_NEAR(kvw_curve_at(&c, sqrt(1000.0 * 10000)), 150, 1e-12); /* halfway in log(tokens) */
	CHECK_NEAR(kvw_curve_at(&c, 10), 100, 0);
	CHECK_NEAR(kvw_curve_at(&c, 1e6), 200, 0);
	CHECK_NEAR(kvw_expected_experts(8, 2, 1), 2, 1e-15);
	CHECK_NEAR(kvw_expected_experts(8, 2, 2), 3.5, 1e-15); /* 8 (1 - (6/8)^2) */
	CHECK_NEAR(kvw_expected_experts(8, 2, 10000), 8, 1e-12);
	kvw_arch l8 = load("llama-3-8b");
	kvw_kvfmt bf16 = { KVW_DT_BF16, 1 };
	/* (6,979,321,856 + LM head 128256 * 4096) * 2 B, plus 1 x 131072 B x 1000 tokens */
	CHECK_NEAR(kvw_decode_step_bytes(&l8, &bf16, 2, 1, 1000), 15009316864.0 + 131072000.0, 0);
}

/* ring all-reduce, worked by hand: 8 ranks, 1 MB, 10 us per step, 100 GB/s:
 * 14 x 10 us + 14/8 x 1e6 / 1e11 = 140 us + 17.5 us */
static void test_allreduce(void)
{
	kvw_link nv = { 10e-6, 100e9 };
	CHECK_NEAR(kvw_allreduce_s(1e6, 8, &nv), 157.5e-6, 1e-12);
	CHECK_NEAR(kvw_allreduce_s(1e6, 1, &nv), 0, 0);
	CHECK_NEAR(kvw_allreduce_s(0, 8, &nv), 0, 0);
	kvw_link lat0 = { 0, 100e9 };
	CHECK_NEAR(kvw_allreduce_s(1e9, 2, &lat0), 1e9 / 100e9, 1e-12); /* 2 steps of half */
	/* Llama-3-8B (32 layers, hidden 4096), 1024 tokens bf16 at TP 2: 64 all-reduces of 8 MiB */
	kvw_arch l8 = load("llama-3-8b");
	double one = kvw_allreduce_s(1024.0 * 4096 * 2, 2, &nv);
	CHECK_NEAR(kvw_tp_allreduce_s(&l8, 1024, 2, 2, &nv), 64 * one, 1e-12);
	CHECK_NEAR(kvw_tp_allreduce_s(&l8, 1024, 1, 2, &nv), 0, 0);
}

/* Llama-3-70B (70.55 B parameters, bf16: 141.1 GB) on 80 GB
 * GPUs at utilisation 0.9 and a 4 GB reserve: TP 1 and 2 do not fit
 * (TP 2 leaves 72 - 70.55 - 4 < 0), TP 4 leaves 72 - 35.28 - 4 = 32.7 GB */
static void test_memory(void)
{
	kvw_arch l70 = load("llama-3-70b");
	kvw_mem_budget m = { 80e9, 0.9, 4e9 };
	kvw_kvfmt f = { KVW_DT_BF16, 4 };
	CHECK_NEAR(kvw_weight_bytes_per_gpu(&l70, 2, 4), l70.total_params * 2 / 4, 1e-15);
	CHECK_NEAR(kvw_kv_capacity_per_gpu(&l70, 2, 4, &m), 72e9 - l70.total_params * 2 / 4 - 4e9, 1e-12);
	CHECK(kvw_kv_capacity_per_gpu(&l70, 2, 2, &m) < 0);
	CHECK(kvw_deployment_fits(&l70, 2, &f, &m, 8192));
	f.tp = 1;
	CHECK(!kvw_deployment_fits(&l70, 2, &f, &m, 1));
	CHECK(kvw_smallest_tp_that_fits(&l70, 2, f, &m, 8192, 8) == 4);
	CHECK(kvw_smallest_tp_that_fits(&l70, 2, f, &m, 8192, 2) == 0);
	kvw_arch l8 = load("llama-3-8b");
	CHECK(kvw_smallest_tp_that_fits(&l8, 2, f, &m, 8192, 8) == 1);
	/* a context whose KV alone exceeds what is left: 33 GB per GPU at TP 4 is ~ 400k tokens of
	 * Llama-3-70B KV (81,920 B per token per GPU at TP 4) */
	f.tp = 4;
	CHECK(!kvw_deployment_fits(&l70, 2, &f, &m, 1e6));
}

int main(void)
{
	test_allreduce();
	test_memory();
	test_kv_per_token();
	test_kv_windows_dtypes_tp();
	test_params_and_flops();
	test_pipeline();
	test_crossover();
	test_handoff();
	test_tp_prefill();
	test_crossover_sampled();
	test_elementwise();
	test_threshold_and_split();
	test_messages();
	test_curve_decode();
	return check_done("test_model");
}
