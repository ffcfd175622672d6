/* kvw_search.h — the planner's search over deployments: enumerate every
 * configuration of a GPU budget, find for each the highest request rate at
 * which it meets the SLOs (bisection on the workload's rate scale), the
 * Pareto front of TTFT vs TPOT vs goodput per GPU, and the smallest link
 * bandwidth at which a deployment keeps its goodput.  Pure and
 * single-threaded: the CLI runs the configurations on threads, one
 * kvw_goodput_search each.
 *
 * Bisection: the rate scale starts at 1 (the trace's own rate, or the
 * synthetic rate); it doubles while the SLOs are met (or halves while they
 * are not) to bracket the edge, then bisects geometrically until the
 * bracket is within rel_tol.  Each probe is a simulation that stops as soon
 * as too many requests have missed for the SLOs to be met (the verdict is
 * the same as a full run's, and it is cheap on the overloaded side).  The
 * answer assumes attainment falls with rate; where a workload's burst
 * makes it wobble, the bracket found is one edge, not necessarily the
 * highest.  The rate a configuration sustains is its goodput: requests per
 * second offered at that scale; per GPU: divided by the GPUs it uses.
 */
#ifndef KVW_SEARCH_H
#define KVW_SEARCH_H

#include "kvw_sim.h"

#define KVW_SEARCH_MAX_TP 4
#define KVW_SEARCH_MAX_CHUNKS 4
#define KVW_SEARCH_MAX_PTS 48

typedef struct kvw_space {
	int gpus;
	int tps[KVW_SEARCH_MAX_TP], n_tps;
	long chunks[KVW_SEARCH_MAX_CHUNKS], n_chunks; /* aggregated; hybrid: P-heavy the largest, D-heavy the smallest */
	long prefill_chunk;  /* budget of a disaggregated prefill instance's pass */
	long decode_chunk;   /* budget of a decode instance's pass (local prefills, recompute) */
	bool agg, disagg, hybrid;
	bool layerwise;
	const char *route;   /* routing of the disaggregated configurations */
	long threshold;
} kvw_space;

/* Fills out[0..max) with every configuration of the space that can run
 * (kvw_deploy_check with requests of max_tokens) and returns how many
 * there are (may exceed max; only max are written).  Order: aggregated by
 * TP and chunk, disaggregated by (TP_p, TP_d, prefill instances), hybrid
 * by (TP, P-heavy instances): the same every run. */
int kvw_space_enumerate(const kvw_cluster *c, const kvw_space *sp, double max_tokens, kvw_deploy *out, int max);

typedef struct kvw_bisect {
	double start;        /* first rate scale tried; 0: 1 */
	double min_scale, max_scale; /* bracket limits; 0: 1/4096 and 4096 */
	double rel_tol;      /* 0: 0.02 */
	size_t max_requests;
	long max_waiting;
	const kvw_prefix_ops *prefix; /* every probe with this prefix cache (kvw_sim_opts), or NULL */
	const void *prefix_cfg;
} kvw_bisect;

typedef struct kvw_goodput {
	bool found;               /* some rate met the SLOs */
	double scale, rps, per_gpu;
	kvw_sim_result at;        /* a full run at `scale` (percentiles), or at min_scale when nothing met */
	kvw_sim_result fail;      /* a full run at the lowest rate found to fail */
	double fail_scale;
	const char *failed;       /* "TTFT", "TPOT" or "both": which budget failed first */
	int sims;
	int n_pts;
	double pt_scale[KVW_SEARCH_MAX_PTS], pt_attain[KVW_SEARCH_MAX_PTS]; /* every probe */
	bool pt_met[KVW_SEARCH_MAX_PTS];
} kvw_goodput;

kvw_err kvw_goodput_search(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                           const kvw_bisect *b, kvw_goodput *out, kvw_diag *d);

/* on[i] = point i is on the Pareto front: no other point has a TTFT and a
 * TPOT no larger and a goodput per GPU no smaller, one of them strictly.
 * Points with valid[i] false are never on it. */
void kvw_pareto(int n, const double *ttft, const double *tpot, const double *good, const bool *valid, bool *on);

/* The smallest bandwidth of one GPU's port on link class cls (0 intra, 1
 * inter) in [lo, hi] bytes/s at which dep's goodput stays >= target_rps,
 * by bisection in log bandwidth to rel_tol; hi when even hi does not keep
 * it, lo when lo does.  Goodput is taken to rise with bandwidth. */
kvw_err kvw_min_bandwidth(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                          const kvw_bisect *b, int cls, double target_rps, double lo, double hi, double rel_tol,
                          double *out_bw, int *sims, kvw_diag *d);

#endif
