/* bench_plan.c — benchmark, not a test: how fast the planner simulates.
 *   1. one simulation of the bundled 12,031-request Mooncake conversation
 *      trace on one configuration, single-threaded, for an aggregated, a
 *      disaggregated and a hybrid deployment of Llama-3-8B on 16 H100s, at
 *      the trace's rate and at 5x it: CPU ms, simulated requests/s, events/s,
 *      and the ratio to the goal (100 ms, one core);
 *   2. the full search `kvwall plan` runs for a 16-GPU cluster (every split,
 *      TP 1/2/4/8, rate bisection, routing variants, link sweep, curves) on
 *      this machine's cores: wall and CPU seconds against the goal (30 s
 *      on a 2-core machine), with the load average beside it (other work on
 *      the machine slows the wall clock, not the CPU time).
 * With --prefix-cache both parts run again with the tiered prefix cache
 * (kvw_sim_cache.h; HBM the free KV pool of each instance, 512 GB of DRAM
 * per node over PCIe Gen5 at 55 GB/s, prefix-aware placement, prefetch;
 * the block ids built once, as kvwall plan does), and part 2 as `kvwall
 * plan --prefix-cache --dram 512GB`: the same goals hold with the cache on.
 * Vidur's search takes about a CPU-hour per model (its README); the goal is
 * two orders of magnitude less.  Nothing here fails on speed.
 * usage: bench_plan [--prefix-cache] [KVWALL]   (without KVWALL only part 1 runs)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <math.h>
#include <string.h>

#include "kvw_config.h"
#include "kvw_sim.h"
#include "kvw_sim_cache.h"
#include "kvw_trace.h"

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double wall_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void one(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, double scale,
                const kvw_sim_cache_cfg *cache)
{
	kvw_slo slo = { 2.0, 0.1, 90, 0.9 };
	kvw_sim_opts o = { .rate_scale = scale, .percentiles = true, .prefix = cache ? &kvw_prefix_tiered : NULL,
	                   .prefix_cfg = cache };
	kvw_sim_result r;
	kvw_diag d = { "" };
	int reps = 3;
	double best = 1e9;
	for (int k = 0; k < reps; k++) {
		double t0 = cpu_now();
		if (kvw_sim_run(c, dep, w, &slo, &o, &r, &d)) {
			fprintf(stderr, "bench_plan: %s\n", d.msg);
			return;
		}
		double t = cpu_now() - t0;
		best = t < best ? t : best;
	}
	char name[160];
	kvw_deploy_name(dep, name, sizeof name);
	printf("  %-58s x%-3g %-5s %7.1f ms  %9.0f req/s  %9.0f events/s  %.2f of the 100 ms goal", name, scale,
	       cache ? "cache" : "", best * 1e3, (double)w->n / best, r.events / best, best / 0.1);
	if (cache)
		printf("  (%.3f of prompt tokens from the cache)", r.prefix_tokens / r.tokens_in);
	printf("\n");
}

static void search(const char *kvwall, bool cache)
{
	double load[1] = { 0 };
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &load[0]) != 1)
			load[0] = 0;
		fclose(f);
	}
	fflush(stdout);
	double t0 = wall_now();
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		if (cache)
			execl(kvwall, kvwall, "plan", "--model", "llama-3-8b", "--hw", "h100-sxm", "--trace",
			      "mooncake-conversation", "--gpus", "16", "--prefix-cache", "--dram", "512GB", "--csv", (char *)NULL);
		else
			execl(kvwall, kvwall, "plan", "--model", "llama-3-8b", "--hw", "h100-sxm", "--trace",
			      "mooncake-conversation", "--gpus", "16", "--csv", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	double wall = wall_now() - t0;
	static double cpu_before = 0; /* RUSAGE_CHILDREN adds up every child waited for */
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec - cpu_before;
	cpu_before += cpu;
	printf("full search, 16 GPUs, conversation trace%s: %.1f s wall, %.1f s CPU on %ld cores (load %.1f): "
	       "%.2f of the 30 s goal (wall), exit %d\n", cache ? ", prefix cache (HBM pool + 512 GB DRAM)" : "", wall,
	       cpu, sysconf(_SC_NPROCESSORS_ONLN), load[0], wall / 30, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* the cache kvwall plan --prefix-cache --dram 512GB builds (its defaults) */
static kvw_sim_cache_cfg cache_cfg(const kvw_scenario *sc, const kvw_workload *w, kvw_cache_ids *ids)
{
	kvw_sim_cache_cfg g = { .prefetch = true, .prefix_aware = true, .ids = ids };
	g.cache.block_tokens = g.cache.trace_block = w->hash_block;
	g.cache.instances = g.cache.instances_per_node = 1;
	g.cache.tier[KVW_TIER_HBM].capacity_bytes = INFINITY;
	g.cache.tier[KVW_TIER_DRAM].capacity_bytes = 512e9;
	g.cache.tier[KVW_TIER_DRAM].link = (kvw_link){ 5e-6, 63e9 * 0.88 };
	kvw_diag d = { "" };
	if (kvw_cache_ids_build(&g.cache, sc, w, ids, &d))
		fprintf(stderr, "bench_plan: %s\n", d.msg);
	return g;
}

int main(int argc, char **argv)
{
	kvw_arch a;
	kvw_workload w;
	kvw_diag d = { "" };
	if (kvw_catalog_model("llama-3-8b", &a, &d) || kvw_trace_open("mooncake-conversation", &w, &d)) {
		fprintf(stderr, "bench_plan: %s\n", d.msg);
		return 1;
	}
	kvw_scenario sc = { .arch = &a, .kv = { KVW_DT_BF16, 1 }, .causal = true, .compute_slowdown = 1, .copy_slowdown = 1 };
	sc.compute.gemm.constant = sc.compute.attn.constant = 989.5e12 * 0.6;
	kvw_cluster c = { .sc = &sc, .weight_bytes = 2, .hbm_bw = 3.35e12, .mem = { 80e9, 0.9, 2e9 }, .gpus = 16,
	                  .gpus_per_node = 8, .intra = { 3e-6, 450e9 }, .inter = { 2e-6, 50e9 }, .intra_desc_s = 2e-6,
	                  .inter_desc_s = 2e-6, .handshake_s = 1e-3, .pack_bw = 1.6e12, .layer_fixed_s = 30e-6,
	                  .block_tokens = 16, .act_bytes = 2 };
	kvw_deploy agg = { .kind = "aggregated", .n_groups = 1 }, dis = { .kind = "disaggregated", .route = "load-aware",
	                                                                  .n_groups = 2 },
		   hyb = { .kind = "hybrid", .n_groups = 2 };
	agg.g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, 2, 8, 2048, 0 };
	dis.g[0] = (kvw_inst_group){ KVW_ROLE_PREFILL, 2, 5, 8192, 0 };
	dis.g[1] = (kvw_inst_group){ KVW_ROLE_DECODE, 2, 3, 512, 0 };
	hyb.g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, 12, 8192, 0 };
	hyb.g[1] = (kvw_inst_group){ KVW_ROLE_MIXED, 1, 4, 512, 0 };
	bool cache = argc > 1 && strcmp(argv[1], "--prefix-cache") == 0;
	const char *kvwall = argc > 1 + cache ? argv[1 + cache] : NULL;
	kvw_cache_ids ids = { 0 };
	double t0 = cpu_now();
	kvw_sim_cache_cfg g = cache ? cache_cfg(&sc, &w, &ids) : (kvw_sim_cache_cfg){ 0 };
	printf("one simulation of %s (%zu requests), Llama-3-8B on 16 x H100, one core:\n", w.name, w.n);
	if (cache)
		printf("  (the block ids once for every simulation: %.1f ms)\n", (cpu_now() - t0) * 1e3);
	const kvw_deploy *deps[] = { &agg, &dis, &hyb };
	for (int i = 0; i < 3; i++)
		for (double s = 1; s <= 5; s += 4) {
			one(&c, deps[i], &w, s, NULL);
			if (cache)
				one(&c, deps[i], &w, s, &g);
		}
	if (kvwall) {
		search(kvwall, false);
		if (cache)
			search(kvwall, true);
	}
	kvw_cache_ids_free(&ids);
	kvw_workload_free(&w);
	return 0;
}
