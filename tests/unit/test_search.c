/* test_search.c — the planner's search (model/sim/search.c):
 *   enumeration   every split of a 16-GPU budget, counted by hand;
 *   bisection     the goodput found meets the SLOs and 1 + tolerance above
 *                 it does not;
 *   monotonic     more link bandwidth never lowers disaggregated goodput,
 *                 a longer TPOT budget never lowers any goodput (each within
 *                 the bisection's 2% bracket);
 *   Pareto        the front of a hand-made set of points.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sim_cluster.h"
#include "kvw_config.h"
#include "kvw_search.h"
#include "kvw_synth.h"

static kvw_arch arch;
static kvw_scenario sc;

/* sim_cluster.h's, with this file's per-node count and fixed costs */
static kvw_cluster cluster(int gpus, int per_node)
{
	kvw_cluster c = test_cluster(&sc, gpus);
	c.gpus_per_node = per_node;
	c.intra_desc_s = c.inter_desc_s = 2e-6;
	c.pack_bw = 1.6e12;
	c.layer_fixed_s = 30e-6;
	return c;
}

static void test_enumerate(void)
{
	kvw_cluster c = cluster(16, 8);
	kvw_space sp = { .gpus = 16, .tps = { 1, 2, 4, 8 }, .n_tps = 4, .chunks = { 512, 2048, 8192 }, .n_chunks = 3,
	                 .prefill_chunk = 8192, .decode_chunk = 512, .agg = true, .disagg = true, .hybrid = true };
	static kvw_deploy out[256];
	/* aggregated 4 TPs x 3 chunks; disaggregated: n_p TP_p + n_d TP_d = 16 over the 16 (TP_p, TP_d)
	 * pairs: 15 7 3 1 / 7 7 3 1 / 3 3 3 1 / 1 1 1 1 = 58; hybrid: 15 + 7 + 3 + 1 */
	int n = kvw_space_enumerate(&c, &sp, 8192, out, 256);
	CHECK(n == 12 + 58 + 26);
	int agg = 0, dis = 0, hyb = 0;
	for (int i = 0; i < n && i < 256; i++) {
		agg += strcmp(out[i].kind, "aggregated") == 0;
		dis += strcmp(out[i].kind, "disaggregated") == 0;
		hyb += strcmp(out[i].kind, "hybrid") == 0;
		CHECK(kvw_deploy_gpus(&out[i]) == 16);
	}
	CHECK(agg == 12 && dis == 58 && hyb == 26);
	CHECK(kvw_space_enumerate(&c, &sp, 8192, out, 10) == n); /* counts past max */
	/* a request longer than any instance's KV rules everything out */
	CHECK(kvw_space_enumerate(&c, &sp, 1e8, out, 256) == 0);
}

static kvw_workload synth(size_t n, double rate, uint64_t seed)
{
	kvw_synth s = { .n = n, .rate = rate, .cv = 1, .isl = { KVW_LEN_LOGNORMAL, 3000, 1 },
	                .osl = { KVW_LEN_LOGNORMAL, 200, 1 }, .seed = seed };
	kvw_workload w;
	kvw_diag d = { "" };
	CHECK(kvw_synth_make(&s, &w, &d) == KVW_OK);
	return w;
}

static kvw_goodput goodput(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo)
{
	kvw_bisect b = { .rel_tol = 0.02 };
	kvw_goodput g;
	kvw_diag d = { "" };
	CHECK(kvw_goodput_search(c, dep, w, slo, &b, &g, &d) == KVW_OK);
	return g;
}

static void test_bisection(void)
{
	kvw_cluster c = cluster(4, 4);
	kvw_workload w = synth(1500, 5, 3);
	kvw_slo slo = { 1.0, 0.05, 90, 0.9 };
	kvw_deploy dep = { .kind = "disaggregated", .route = "transfer", .n_groups = 2 };
	dep.g[0] = (kvw_inst_group){ KVW_ROLE_PREFILL, 1, 2, 8192, 0 };
	dep.g[1] = (kvw_inst_group){ KVW_ROLE_DECODE, 1, 2, 512, 0 };
	kvw_goodput g = goodput(&c, &dep, &w, &slo);
	CHECK(g.found && g.at.slo_met && g.at.status == KVW_SIM_DONE);
	CHECK(!g.fail.slo_met && g.fail_scale / g.scale <= 1.02 + 1e-9);
	CHECK_NEAR(g.rps, g.scale * 1500 / w.req[w.n - 1].arrival_s, 1e-9); /* offered rate at that scale */
	CHECK_NEAR(g.per_gpu, g.rps / 4, 1e-12);
	CHECK(g.n_pts >= 5 && g.sims >= g.n_pts);
	kvw_workload_free(&w);
}

static void test_monotonic(void)
{
	kvw_workload w = synth(1500, 5, 5);
	kvw_slo slo = { 1.0, 0.05, 90, 0.9 };
	kvw_deploy dis = { .kind = "disaggregated", .route = "transfer", .n_groups = 2 };
	dis.g[0] = (kvw_inst_group){ KVW_ROLE_PREFILL, 1, 2, 8192, 0 };
	dis.g[1] = (kvw_inst_group){ KVW_ROLE_DECODE, 1, 2, 512, 0 };
	/* nodes of two GPUs: prefill and decode instances talk over the network */
	double prev = 0, bws[] = { 0.2e9, 1e9, 5e9, 25e9, 125e9 };
	for (int k = 0; k < 5; k++) {
		kvw_cluster c = cluster(4, 2);
		c.inter.bw = bws[k];
		kvw_goodput g = goodput(&c, &dis, &w, &slo);
		double r = g.found ? g.rps : 0;
		CHECK(r >= prev * 0.98);
		prev = r;
	}
	CHECK(prev > 0);
	kvw_cluster c = cluster(4, 4);
	kvw_deploy deps[4] = { dis, { .kind = "aggregated", .n_groups = 1 }, { .kind = "hybrid", .n_groups = 2 }, dis };
	deps[3].route = "load-aware";
	deps[1].g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, 4, 2048, 0 };
	deps[2].g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, 2, 8192, 0 };
	deps[2].g[1] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, 2, 512, 0 };
	for (int k = 0; k < 4; k++) {
		double last = 0, tpots[] = { 0.02, 0.04, 0.08, 0.16 };
		for (int t = 0; t < 4; t++) {
			kvw_slo s = slo;
			s.tpot_s = tpots[t];
			kvw_goodput g = goodput(&c, &deps[k], &w, &s);
			double r = g.found ? g.rps : 0;
			if (r < last * 0.98)
				fprintf(stderr, "%s: TPOT %.3f goodput %.4g < %.4g\n", deps[k].kind, tpots[t], r, last);
			CHECK(r >= last * 0.98);
			last = r;
		}
	}
	kvw_workload_free(&w);
}

static void test_min_bandwidth(void)
{
	kvw_workload w = synth(1500, 5, 5);
	kvw_slo slo = { 1.0, 0.05, 90, 0.9 };
	kvw_deploy dis = { .kind = "disaggregated", .route = "transfer", .n_groups = 2 };
	dis.g[0] = (kvw_inst_group){ KVW_ROLE_PREFILL, 1, 2, 8192, 0 };
	dis.g[1] = (kvw_inst_group){ KVW_ROLE_DECODE, 1, 2, 512, 0 };
	kvw_cluster c = cluster(4, 2);
	kvw_goodput ref = goodput(&c, &dis, &w, &slo);
	double bw;
	int sims;
	kvw_diag d = { "" };
	CHECK(kvw_min_bandwidth(&c, &dis, &w, &slo, &(kvw_bisect){ .rel_tol = 0.02 }, 1, 0.95 * ref.rps, 0.1e9, 100e9,
	                        0.1, &bw, &sims, &d) == KVW_OK);
	CHECK(bw > 0.1e9 && bw < 100e9 && sims > 0);
	/* at that bandwidth the goodput holds, at a third of it it does not */
	c.inter.bw = bw;
	CHECK(goodput(&c, &dis, &w, &slo).rps >= 0.95 * ref.rps);
	c.inter.bw = bw / 3;
	kvw_goodput lo = goodput(&c, &dis, &w, &slo);
	CHECK(!lo.found || lo.rps < 0.95 * ref.rps);
	kvw_workload_free(&w);
}

static void test_pareto(void)
{
	double ttft[] = { 1, 2, 1, 3, 1 }, tpot[] = { 1, 1, 2, 3, 1 }, good[] = { 5, 6, 5, 1, 4 };
	bool valid[] = { true, true, true, true, false }, on[5];
	kvw_pareto(5, ttft, tpot, good, valid, on);
	/* 0: best TTFT and TPOT; 1: best goodput; 2 is dominated by 0; 3 by all; 4 invalid */
	CHECK(on[0] && on[1] && !on[2] && !on[3] && !on[4]);
}

int main(void)
{
	kvw_diag d = { "" };
	if (kvw_catalog_model("llama-3-8b", &arch, &d)) {
		fprintf(stderr, "%s\n", d.msg);
		return 1;
	}
	sc.arch = &arch;
	sc.kv = (kvw_kvfmt){ KVW_DT_BF16, 1 };
	sc.causal = true;
	sc.compute.gemm.constant = sc.compute.attn.constant = 989.5e12 * 0.6;
	test_enumerate();
	test_bisection();
	test_monotonic();
	test_min_bandwidth();
	test_pareto();
	return check_done("test_search");
}
