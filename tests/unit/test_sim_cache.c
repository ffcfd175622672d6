/* test_sim_cache.c — the tiered prefix cache inside the planner's
 * simulation (model/sim/kvw_sim_cache.h) against what must hold:
 *   off            a cache whose every tier has capacity 0 gives results
 *                  identical, field for field, to no cache at all;
 *   the replay     an unbounded cache with free loads, requests far apart
 *                  (no two overlap) on one instance: the prompt tokens found
 *                  cached are exactly kvw_cache_replay's token hit rate
 *                  (0.3734 on the bundled conversation trace at 512-token
 *                  blocks, the figure `kvwall cache` prints), and the tokens
 *                  prefills compute exactly the replay's;
 *   the books      with the cache on: every request finishes once, tokens
 *                  computed + tokens taken from the cache = prompt tokens,
 *                  KV never over capacity, the HBM cache never more than the
 *                  free KV, Little's law, the same bytes twice;
 *   monotonic      a slower DRAM tier never lowers TTFT; a bigger DRAM tier
 *                  at zero load cost never lowers goodput;
 *   placement      prefix-aware placement finds more than the deployment's
 *                  own least-loaded one on several instances;
 *   refusals       requests without hash_ids, prefilling groups of two TPs.
 * The trace is the bundled Mooncake conversation trace (its first requests
 * where stated, to keep the test quick).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sim_cluster.h"
#include "kvw_config.h"
#include "kvw_search.h"
#include "kvw_sim.h"
#include "kvw_sim_cache.h"
#include "kvw_synth.h"
#include "kvw_trace.h"

static kvw_arch arch8b;
static kvw_scenario sc;
static kvw_workload conv;
static const kvw_slo loose = { 1e9, 1e9, 90, 0.9 };

/* an H100-like GPU (sim_cluster.h) */
static kvw_cluster cluster(int gpus)
{
	return test_cluster(&sc, gpus);
}

static kvw_deploy agg(int n, int tp)
{
	kvw_deploy d = { .kind = "aggregated", .route = "transfer", .n_groups = 1 };
	d.g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, tp, n, 2048, 0 };
	return d;
}

static kvw_deploy disagg(int np, int nd)
{
	kvw_deploy d = { .kind = "disaggregated", .route = "load-aware", .n_groups = 2 };
	d.g[0] = (kvw_inst_group){ KVW_ROLE_PREFILL, 1, np, 8192, 0 };
	d.g[1] = (kvw_inst_group){ KVW_ROLE_DECODE, 1, nd, 512, 0 };
	return d;
}

static kvw_deploy hybrid(int np, int nd)
{
	kvw_deploy d = { .kind = "hybrid", .route = "transfer", .n_groups = 2 };
	d.g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, np, 8192, 0 };
	d.g[1] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, nd, 512, 0 };
	return d;
}

/* HBM = the free pool; DRAM of `dram` bytes per node over a link of bw bytes/s (alpha 5 us unless free) */
static kvw_sim_cache_cfg cache_cfg(double dram, double bw)
{
	kvw_sim_cache_cfg g = { .prefetch = true, .prefix_aware = true };
	g.cache.block_tokens = g.cache.trace_block = 512;
	g.cache.tier[KVW_TIER_HBM].capacity_bytes = INFINITY;
	g.cache.tier[KVW_TIER_DRAM].capacity_bytes = dram;
	g.cache.tier[KVW_TIER_DRAM].link = (kvw_link){ isinf(bw) ? 0 : 5e-6, isinf(bw) ? 1e30 : bw };
	return g;
}

static kvw_sim_result sim(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, double scale,
                          size_t n, const kvw_sim_cache_cfg *g)
{
	kvw_sim_opts o = { .rate_scale = scale, .max_requests = n, .percentiles = true, .prefix = g ? &kvw_prefix_tiered : NULL,
	                   .prefix_cfg = g };
	kvw_sim_result r;
	kvw_diag d = { "" };
	kvw_err err = kvw_sim_run(c, dep, w, &loose, &o, &r, &d);
	if (err)
		fprintf(stderr, "sim: %s\n", d.msg);
	CHECK(err == KVW_OK);
	return r;
}

/* what every finished run with the cache must satisfy */
static void books(const kvw_sim_result *r, const kvw_workload *w, size_t n)
{
	double out = 0;
	for (size_t i = 0; i < n; i++)
		out += (double)w->req[i].output_tokens;
	CHECK(r->status == KVW_SIM_DONE);
	CHECK(r->done == n);
	CHECK_NEAR(r->tokens_out, out, 1e-12);
	CHECK_NEAR(r->prefill_tokens + r->prefix_tokens, r->tokens_in, 1e-12);
	CHECK(r->kv_overflows == 0 && r->kv_peak <= 1.0);
	CHECK(r->prefix_mem_peak <= 1.0 + 1e-12);
	CHECK_NEAR(r->little_l, r->little_lw, 1e-9);
}

/* ---- off ----------------------------------------------------------------------------------- */

static void test_off(void)
{
	kvw_cluster c = cluster(8);
	kvw_sim_cache_cfg zero = cache_cfg(0, 64e9);
	zero.cache.tier[KVW_TIER_HBM].capacity_bytes = 0;
	kvw_deploy deps[3] = { agg(4, 2), disagg(5, 3), hybrid(6, 2) };
	for (int k = 0; k < 3; k++) {
		kvw_sim_result a = sim(&c, &deps[k], &conv, 1.5, 3000, NULL);
		kvw_sim_result b = sim(&c, &deps[k], &conv, 1.5, 3000, &zero);
		CHECK(b.prefix_tokens == 0 && b.prefix_hit_tokens == 0 && b.prefix_requests == 0);
		b.prefix_mem_peak = 0; /* the only field a cache with nothing in it fills */
		b.prefix_choice[0] = 0;
		CHECK(memcmp(&a, &b, sizeof a) == 0);
	}
}

/* a copy of the conversation trace's requests for a test to change (free its req) */
static bool copy_conv(kvw_workload *w)
{
	*w = conv;
	w->req = malloc(conv.n * sizeof *w->req);
	CHECK(w->req != NULL);
	if (w->req)
		memcpy(w->req, conv.req, conv.n * sizeof *w->req);
	return w->req != NULL;
}

/* ---- against the replay ----------------------------------------------------------------------- */

static void test_replay(void)
{
	kvw_cluster c = cluster(1);
	kvw_deploy one = agg(1, 1);
	kvw_sim_cache_cfg g = cache_cfg(INFINITY, INFINITY);
	/* the trace's requests in its order, 1000 s apart: each prefill ends before the next arrives
	 * (the trace itself stamps many requests with the same second, and those overlap at any rate) */
	kvw_workload apart;
	if (!copy_conv(&apart))
		return;
	for (size_t i = 0; i < conv.n; i++)
		apart.req[i].arrival_s = 1000.0 * (double)i;
	kvw_sim_result r = sim(&c, &one, &apart, 1, 0, &g);
	books(&r, &apart, apart.n);
	kvw_cache_cfg rg = g.cache;
	rg.instances = rg.instances_per_node = 1;
	rg.tier[KVW_TIER_DRAM].capacity_bytes = 0; /* the replay's unbounded HBM on one instance */
	kvw_scenario s1 = sc;
	s1.kv.tp = 1;
	kvw_replay_cfg rc = { .route = "single", .prefetch = true };
	kvw_cache_stats st;
	kvw_diag d = { "" };
	CHECK(kvw_cache_replay(&rg, &rc, &s1, &apart, &st, &d) == KVW_OK);
	free(apart.req);
	double hit = kvw_cache_token_hit_rate(&st, -1);
	CHECK(fabs(hit - 0.3734) < 5e-5); /* kvwall cache --route single --hbm unbounded */
	CHECK_NEAR(r.prefix_hit_tokens / r.tokens_in, hit, 1e-12);
	CHECK_NEAR(r.prefill_tokens, st.computed_tokens, 1e-12);
	CHECK(r.prefix_wait_s == 0 && r.prefix_choice[2] == 0 && r.prefix_choice[3] == 0); /* free loads: no recompute */
	printf("  unbounded, free loads, one instance: %.4f of prompt tokens cached (replay %.4f), %.0f computed "
	       "(replay %.0f); HBM evicted %ld blocks to DRAM\n", r.prefix_hit_tokens / r.tokens_in, hit,
	       r.prefill_tokens, st.computed_tokens, r.prefix_evictions[0]);
	/* on the trace's own timeline prefills overlap: a request whose prefix is still being computed
	 * (or arrived in the same second) misses it */
	kvw_sim_result busy = sim(&c, &one, &conv, 0.1, 0, &g);
	books(&busy, &conv, conv.n);
	CHECK(busy.prefill_tokens >= r.prefill_tokens && busy.prefill_tokens < 1.05 * r.prefill_tokens);
	printf("  the same on the trace's timeline at 0.1x its rate: %.4f cached\n", busy.prefix_hit_tokens / busy.tokens_in);
}

/* ---- the books with the cache on ------------------------------------------------------------- */

static void test_books(void)
{
	kvw_cluster c = cluster(8);
	kvw_sim_cache_cfg g = cache_cfg(200e9, 55e9);
	g.cache.tier[KVW_TIER_SSD].capacity_bytes = 2e12;
	g.cache.tier[KVW_TIER_SSD].link = (kvw_link){ 100e-6, 6.5e9 };
	g.cache.tier[KVW_TIER_SSD].shared_bw = 6.5e9;
	kvw_deploy deps[3] = { agg(4, 2), disagg(5, 3), hybrid(6, 2) };
	for (int k = 0; k < 3; k++)
		for (double scale = 1; scale <= 3; scale += 2) {
			kvw_sim_result a = sim(&c, &deps[k], &conv, scale, 3000, &g);
			books(&a, &conv, 3000);
			/* the trace reuses ~37% of its tokens; load-aware prefills some prompts on the decode side,
			 * which keeps no cache */
			CHECK(a.prefix_tokens > 0.12 * a.tokens_in);
			kvw_sim_result b = sim(&c, &deps[k], &conv, scale, 3000, &g);
			CHECK(memcmp(&a, &b, sizeof a) == 0);
			kvw_sim_result none = sim(&c, &deps[k], &conv, scale, 3000, NULL);
			CHECK(a.mean_ttft < none.mean_ttft);
		}
	/* a small pool under load: the HBM cache shrinks as requests take the memory */
	kvw_sim_result tight = sim(&c, &deps[0], &conv, 4, 3000, &g);
	books(&tight, &conv, 3000);
	CHECK(tight.prefix_evictions[0] > 0);
}

/* ---- monotonic -------------------------------------------------------------------------------- */

/* TTFT (mean, p90) over DRAM bandwidths, fastest first */
static void ttft_by_bandwidth(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, double hbm,
                              bool aware, double scale, double mean[6], double p90[6])
{
	static const double bws[] = { INFINITY, 200e9, 55e9, 16e9, 4e9, 1e9 };
	for (int k = 0; k < 6; k++) {
		kvw_sim_cache_cfg g = cache_cfg(INFINITY, bws[k]);
		g.cache.tier[KVW_TIER_HBM].capacity_bytes = hbm;
		g.prefix_aware = aware;
		kvw_sim_result r = sim(c, dep, w, scale, 3000, &g);
		books(&r, w, 3000);
		mean[k] = r.mean_ttft;
		p90[k] = r.ttft[1];
	}
}

static void test_slower_tier(void)
{
	/* a single FCFS prefill server (one prompt per pass, one output token: Lindley's recursion), every
	 * hit read from an unbounded DRAM (no HBM tier, LMCache-style): a slower link can only delay a
	 * load, hence a prefill's end, hence what later prompts find cached, and with the split among the
	 * choices fewer blocks cached never price below more; so every TTFT, and so the mean and p90,
	 * never fall */
	kvw_workload w;
	if (!copy_conv(&w))
		return;
	for (size_t i = 0; i < conv.n; i++)
		w.req[i].output_tokens = 1;
	kvw_cluster one = cluster(1);
	kvw_deploy dep1 = agg(1, 1);
	dep1.g[0].chunk = 1L << 20;
	dep1.g[0].max_prefill_reqs = 1;
	double mean[6], p90[6];
	ttft_by_bandwidth(&one, &dep1, &w, 0, false, 0.3, mean, p90);
	for (int k = 1; k < 6; k++)
		CHECK(mean[k] >= mean[k - 1] && p90[k] >= p90[k - 1]);
	CHECK(mean[5] > 1.2 * mean[0]);
	printf("  slower DRAM, one FCFS prefill server: mean TTFT %.3f s with free loads, %.3f, %.3f, %.3f, %.3f, "
	       "%.3f s at 1 GB/s\n", mean[0], mean[1], mean[2], mean[3], mean[4], mean[5]);
	free(w.req);
	/* four aggregated instances with decode batches, HBM the free pool, prefix-aware placement: each
	 * bandwidth is its own trajectory (what the pool holds, where requests go and which passes batch
	 * together depend on when prefills end), so the mean within 0.5% step to step, and clearly up
	 * from free loads to 1 GB/s */
	kvw_cluster eight = cluster(8);
	kvw_deploy dep4 = agg(4, 2);
	ttft_by_bandwidth(&eight, &dep4, &conv, INFINITY, true, 2, mean, p90);
	for (int k = 1; k < 6; k++)
		CHECK(mean[k] >= mean[k - 1] * (1 - 5e-3));
	CHECK(mean[5] > 1.2 * mean[0] && p90[5] > 1.2 * p90[0]);
	printf("  slower DRAM, 4 instances: mean TTFT %.3f s with free loads, %.3f s at 1 GB/s\n", mean[0], mean[5]);
}

static void test_bigger_tier(void)
{
	kvw_cluster c = cluster(8);
	kvw_deploy dep = agg(8, 1);
	kvw_bisect b = { .max_requests = 2000, .max_waiting = 500, .rel_tol = 0.02, .prefix = &kvw_prefix_tiered };
	kvw_slo slo = { 2.0, 0.1, 90, 0.9 };
	double caps[] = { 0, 20e9, 200e9, INFINITY }, last = 0;
	for (int k = 0; k < 4; k++) {
		kvw_sim_cache_cfg g = cache_cfg(caps[k], INFINITY);
		b.prefix_cfg = &g;
		kvw_goodput gp;
		kvw_diag d = { "" };
		CHECK(kvw_goodput_search(&c, &dep, &conv, &slo, &b, &gp, &d) == KVW_OK);
		CHECK(gp.found && gp.rps >= last);
		printf("  DRAM %.3g GB per node, free loads: goodput %.4g req/s\n", caps[k] / 1e9, gp.rps);
		last = gp.rps;
	}
}

/* ---- placement ----------------------------------------------------------------------------- */

static void test_placement(void)
{
	kvw_cluster c = cluster(8);
	kvw_deploy dep = agg(8, 1);
	kvw_sim_cache_cfg aware = cache_cfg(0, 64e9), blind = aware;
	blind.prefix_aware = false;
	kvw_sim_result a = sim(&c, &dep, &conv, 1, 3000, &aware), b = sim(&c, &dep, &conv, 1, 3000, &blind);
	books(&a, &conv, 3000);
	books(&b, &conv, 3000);
	CHECK(a.prefix_hit_tokens > 1.2 * b.prefix_hit_tokens);
	printf("  8 instances, HBM only: prefix-aware placement finds %.3f of prompt tokens, least-loaded %.3f\n",
	       a.prefix_hit_tokens / a.tokens_in, b.prefix_hit_tokens / b.tokens_in);
}

/* ---- refusals ---------------------------------------------------------------------------------- */

static void test_refusals(void)
{
	kvw_cluster c = cluster(4);
	kvw_deploy dep = agg(2, 1);
	kvw_synth s = { .n = 50, .rate = 1, .cv = 1, .isl = { KVW_LEN_FIXED, 1000, 0 }, .osl = { KVW_LEN_FIXED, 10, 0 },
	                .seed = 1 };
	kvw_workload w;
	kvw_diag d = { "" };
	CHECK(kvw_synth_make(&s, &w, &d) == KVW_OK);
	kvw_sim_cache_cfg g = cache_cfg(0, 64e9);
	kvw_sim_opts o = { .rate_scale = 1, .prefix = &kvw_prefix_tiered, .prefix_cfg = &g };
	kvw_sim_result r;
	CHECK(kvw_sim_run(&c, &dep, &w, &loose, &o, &r, &d) == KVW_EINPUT && strstr(d.msg, "no hash_ids"));
	g.cache.unique_without_hashes = true;
	CHECK(kvw_sim_run(&c, &dep, &w, &loose, &o, &r, &d) == KVW_OK && r.prefix_tokens == 0 && r.done == 50);
	kvw_deploy two = hybrid(1, 1);
	two.g[1].tp = 2;
	CHECK(kvw_sim_run(&c, &two, &w, &loose, &o, &r, &d) == KVW_EUSAGE && strstr(d.msg, "one TP"));
	kvw_workload_free(&w);
}

int main(void)
{
	kvw_diag d = { "" };
	if (kvw_catalog_model("llama-3-8b", &arch8b, &d) || kvw_trace_open("mooncake-conversation", &conv, &d)) {
		fprintf(stderr, "test_sim_cache: %s\n", d.msg);
		return 1;
	}
	sc = (kvw_scenario){ .arch = &arch8b, .kv = { KVW_DT_BF16, 1 }, .causal = true, .compute_slowdown = 1,
	                     .copy_slowdown = 1 };
	sc.compute.gemm.constant = sc.compute.attn.constant = 989.5e12 * 0.6;
	test_off();
	test_replay();
	test_books();
	test_slower_tier();
	test_bigger_tier();
	test_placement();
	test_refusals();
	kvw_workload_free(&conv);
	return check_done("test_sim_cache");
}
