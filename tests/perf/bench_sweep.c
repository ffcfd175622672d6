/* bench_sweep.c — benchmark, not a test: how fast the model evaluates a
 * context x bandwidth grid.  1000 contexts x 1000 bandwidths = 1,000,000
 * (recompute, transfer) points for each catalog model given, bulk and
 * layer-wise; prints points/s.  The goal is "well under a second" per
 * million points; nothing here fails on speed. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "kvw_config.h"
#include "kvw_model.h"

#define N_CTX 1000
#define N_BW 1000

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sweep(const kvw_arch *a, bool layerwise)
{
	kvw_scenario s = { .arch = a, .kv = { KVW_DT_BF16, 1 }, .causal = true, .layerwise = layerwise,
	                   .compute_slowdown = 1, .copy_slowdown = 1 };
	s.compute.gemm.constant = s.compute.attn.constant = 600e12;
	s.link.alpha_s = 5e-6;
	double t0 = now(), wins = 0;
	for (int i = 0; i < N_CTX; i++) {
		double L = 128 * pow(1024.0, (double)i / (N_CTX - 1)); /* 128 .. 131072 */
		for (int j = 0; j < N_BW; j++) {
			s.link.bw = 1e9 * pow(1000.0, (double)j / (N_BW - 1)); /* 1 .. 1000 GB/s */
			wins += kvw_recompute_s(&s, L) < kvw_transfer_s(&s, L);
		}
	}
	double dt = now() - t0;
	printf("%-16s %-9s %9d points  %7.3f s  %12.0f points/s  (recompute wins %.0f)\n", a->name,
	       layerwise ? "layerwise" : "bulk", N_CTX * N_BW, dt, N_CTX * N_BW / dt, wins);
}

int main(int argc, char **argv)
{
	const char *defaults[] = { "llama-3-8b", "llama-3-70b", "deepseek-v3", "gemma-2-9b" };
	int n = argc > 1 ? argc - 1 : 4;
	for (int i = 0; i < n; i++) {
		const char *name = argc > 1 ? argv[i + 1] : defaults[i];
		kvw_arch a;
		kvw_diag d;
		if (kvw_catalog_model(name, &a, &d)) {
			fprintf(stderr, "bench_sweep: %s\n", d.msg);
			return 1;
		}
		sweep(&a, false);
		sweep(&a, true);
	}
	return 0;
}
