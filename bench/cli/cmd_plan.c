/* cmd_plan.c — kvwall plan: from one request's crossover to a deployment.
 * For a model, a GPU budget, a workload and TTFT/TPOT SLOs it simulates
 * every deployment (aggregated with chunked prefill, disaggregated P:D with
 * TP per phase, hybrid P-heavy/D-heavy), finds each one's goodput by rate
 * bisection, tries the decode side's routing policies on the best
 * disaggregated ones, sweeps the link, and prints the winner with why, the
 * top configurations, the Pareto front and the engines' settings.  With
 * --rate-scale it simulates every deployment once at that rate instead.
 * With --prefix-cache every simulation runs with the tiered prefix cache
 * (kvw_sim_cache.h), and the answer says what the cache changed: each
 * configuration again without it at the same rate, and the winner without
 * it.  The simulation is model/sim (kvw_sim.h); this file orchestrates it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "out.h"
#include "plan.h"

#define MAX_CONFIGS 1024
#define TOP_ROUTED 3
#define TOP_CURVES 3
#define SWEEP_POINTS 10
#define KEEP 0.95 /* "keeps its goodput": within 5% */

static const kvw_opt opts[] = {
	{ "model", KVW_OPT_STR, KVW_ARG(model), NULL, 0, 0, "model from the catalog (kvwall models)" },
	{ "config", KVW_OPT_STR, KVW_ARG(config), NULL, 0, 0, "any Hugging Face config.json instead of --model" },
	{ "kv-dtype", KVW_OPT_STR, KVW_ARG(kv_dtype), "bf16", 0, 0, "KV cache dtype: bf16, fp16, fp8, int4" },
	{ "hw", KVW_OPT_STR, KVW_ARG(hw), NULL, 0, 0, "GPU spec sheet (memory; compute and HBM unless measured)" },
	{ "profile", KVW_OPT_STR, KVW_ARG(profile), NULL, 0, 0, "measured profile.json: prefill curve, HBM, links, decode steps, kv_pack" },
	{ "link", KVW_OPT_STR, KVW_ARG(link), NULL, 0, 0, "link between nodes (a profile or catalog link) [default ib-ndr]" },
	{ "gbps", KVW_OPT_DBL, KVW_ARG(gbps), NULL, 1e-6, 1e6, "link between nodes: bandwidth per GPU, GB/s" },
	{ "alpha-us", KVW_OPT_DBL, KVW_ARG(alpha_us), NULL, 0, 1e9, "latency of that link with --gbps, us" },
	{ "intra-link", KVW_OPT_STR, KVW_ARG(intra_link), NULL, 0, 0, "link within a node (TP, same-node handoffs) [the GPU sheet's peer link]" },
	{ "tflops", KVW_OPT_DBL, KVW_ARG(tflops), NULL, 1e-3, 1e6, "compute rate of one GPU, TFLOP/s (instead of the sheet's)" },
	{ "efficiency", KVW_OPT_DBL, KVW_ARG(efficiency), NULL, 1e-3, 1, "fraction of the sheet's peak achieved [default 0.6]" },
	{ "dtype", KVW_OPT_STR, KVW_ARG(dtype), "bf16", 0, 0, "compute dtype for the sheet's peak" },
	{ "hbm-gbps", KVW_OPT_DBL, KVW_ARG(hbm_gbps), NULL, 1e-3, 1e6, "HBM bandwidth, GB/s (instead of the sheet's)" },
	{ "overhead-us", KVW_OPT_DBL, KVW_ARG(overhead_us), NULL, 0, 1e9, "fixed cost of one prefill pass, us" },
	{ "gpus", KVW_OPT_LONG, KVW_ARG(gpus), "8", 1, 4096, "GPUs in the cluster" },
	{ "gpus-per-node", KVW_OPT_LONG, KVW_ARG(gpus_per_node), "8", 1, 64, "GPUs per node (an instance stays in a node)" },
	KVW_OPTS_MEMORY,
	{ "trace", KVW_OPT_STR, KVW_ARG(trace), NULL, 0, 0, "workload trace: a bundled name (mooncake-conversation, ...) or a path" },
	{ "synthetic", KVW_OPT_LONG, KVW_ARG(synthetic), NULL, 1, 100000000, "synthetic workload of N requests" },
	{ "rate", KVW_OPT_DBL, KVW_ARG(rate), NULL, 1e-9, 1e9, "synthetic: requests per second" },
	{ "cv", KVW_OPT_DBL, KVW_ARG(cv), "1", 0, 100, "synthetic: CV of the gaps (1 Poisson, > 1 bursty gamma)" },
	{ "isl", KVW_OPT_STR, KVW_ARG(isl), "1024", 0, 0, "synthetic input length: N, uniform:MIN:MAX, lognormal:MEAN:CV" },
	{ "osl", KVW_OPT_STR, KVW_ARG(osl), "256", 0, 0, "synthetic output length, same forms" },
	{ "seed", KVW_OPT_LONG, KVW_ARG(seed), "1", 0, 1e18, "synthetic: seed" },
	{ "rate-scale", KVW_OPT_DBL, KVW_ARG(rate_scale), NULL, 1e-12, 1e12, "simulate at this multiple of the workload's rate (no search)" },
	{ "max-requests", KVW_OPT_LONG, KVW_ARG(max_requests), NULL, 1, 100000000, "use the first N requests" },
	{ "ttft-ms", KVW_OPT_DBL, KVW_ARG(ttft_ms), "2000", 1e-3, 1e9, "TTFT budget, ms" },
	{ "tpot-ms", KVW_OPT_DBL, KVW_ARG(tpot_ms), "100", 1e-3, 1e9, "TPOT budget, ms" },
	{ "percentile", KVW_OPT_DBL, KVW_ARG(percentile), "90", 0, 100, "percentile of TTFT and TPOT held to the budgets" },
	{ "attainment", KVW_OPT_DBL, KVW_ARG(attainment), "90", 0, 100, "percent of requests meeting both budgets" },
	{ "deployments", KVW_OPT_STR, KVW_ARG(deployments), "aggregated,disaggregated,hybrid", 0, 0, "kinds to search" },
	{ "tps", KVW_OPT_STR, KVW_ARG(tps), "1,2,4,8", 0, 0, "TP degrees to search" },
	{ "chunks", KVW_OPT_STR, KVW_ARG(chunks), "512,2048,8192", 0, 0, "chunked-prefill budgets (aggregated; hybrid: largest P-heavy, smallest D-heavy)" },
	{ "prefill-chunk", KVW_OPT_LONG, KVW_ARG(prefill_chunk), "8192", 16, 1L << 24, "token budget of a disaggregated prefill pass" },
	{ "decode-chunk", KVW_OPT_LONG, KVW_ARG(decode_chunk), "512", 16, 1L << 24, "token budget of a decode instance's pass" },
	{ "route", KVW_OPT_STR, KVW_ARG(route), "all", 0, 0, "decode-side routing: transfer, recompute, threshold, load-aware, all" },
	{ "threshold", KVW_OPT_LONG, KVW_ARG(threshold), "2048", 0, 1L << 30, "route threshold: prompts up to N uncached tokens prefill on the decode side" },
	{ "layerwise", KVW_OPT_FLAG, KVW_ARG(layerwise), NULL, 0, 0, "handoffs layer by layer, overlapped with the prefill" },
	{ "handshake-us", KVW_OPT_DBL, KVW_ARG(handshake_us), "1000", 0, 1e9, "fixed cost of one handoff, us (assumed)" },
	{ "desc-us", KVW_OPT_DBL, KVW_ARG(desc_us), NULL, 0, 1e6, "cost per KV descriptor of a scattered handoff, us [profile, else 2]" },
	{ "launch-us", KVW_OPT_DBL, KVW_ARG(launch_us), "30", 0, 1e6, "fixed cost per layer per pass without a decode table, us" },
	{ "jobs", KVW_OPT_LONG, KVW_ARG(jobs), NULL, 1, 1024, "threads [default: the node's cores]" },
	{ "prefix-cache", KVW_OPT_FLAG, KVW_ARG(prefix_cache), NULL, 0, 0, "a prefix cache (kvwall cache's tiers): prefills compute only the uncached suffix, after its load" },
	{ "hbm", KVW_OPT_STR, KVW_ARG(hbm), "pool", 0, 0, "prefix cache in HBM: pool (each instance's free KV, as vLLM and SGLang) or at most SIZE of it" },
	KVW_OPTS_CACHE_TIERS,
	{ "policy", KVW_OPT_STR, KVW_ARG(policy), "lru", 0, 0, "eviction policy of the cache's tiers: lru, s3fifo" },
	{ "cache-route", KVW_OPT_STR, KVW_ARG(cache_route), "prefix-aware", 0, 0, "placement with the cache: prefix-aware (Mooncake's Conductor) or least-loaded" },
	KVW_OPTS_CACHE_BLOCK,
	KVW_OPTS_CACHE_FLAGS,
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

typedef struct plan_state {
	plan_inputs in;
	plan_job *jobs;    /* searched configurations (phase 1, then routed variants) */
	int n_jobs;
	int winner, best_agg, best_dis, best_hyb;
	bool *pareto;
	plan_job *curves;  /* attainment vs rate for the top few */
	int n_curves, curve_of[TOP_CURVES], n_top;
	plan_job *sweep;
	int n_sweep, sweep_cls, sweep_of;
	double min_bw;
	int sims;
	/* --prefix-cache: the same configurations without it */
	plan_job *ref;     /* compacted: a full run without the cache at the rate of ref_of's job */
	int *ref_of;       /* per job: its ref, or -1 */
	int n_ref;
	plan_job *nc;      /* per job: its goodput search without the cache (nc_done) */
	bool *nc_done;
	int n_nc, nc_winner;
} plan_state;

/* ---- jobs ----------------------------------------------------------------------------------- */

static plan_job job(const plan_inputs *in, const kvw_deploy *dep, double scale)
{
	plan_job j;
	memset(&j, 0, sizeof j);
	j.cluster = in->cluster;
	j.dep = *dep;
	j.scale = scale;
	return j;
}

static double good(const plan_job *j)
{
	return j->g.found ? j->g.per_gpu : -1;
}

static int best_of(const plan_state *p, const char *kind)
{
	int b = -1;
	for (int i = 0; i < p->n_jobs; i++)
		if ((!kind || strcmp(p->jobs[i].dep.kind, kind) == 0) && good(&p->jobs[i]) > 0
		    && (b < 0 || good(&p->jobs[i]) > good(&p->jobs[b])))
			b = i;
	return b;
}

static kvw_err search_all(const kvw_args *a, plan_state *p, kvw_diag *d)
{
	kvw_deploy *deps = calloc(MAX_CONFIGS, sizeof *deps);
	if (!deps)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	int n = kvw_space_enumerate(&p->in.cluster, &p->in.space, p->in.max_tokens, deps, MAX_CONFIGS);
	n = n < MAX_CONFIGS ? n : MAX_CONFIGS;
	int extra = strcmp(a->route, "all") == 0 ? TOP_ROUTED * 4 : 0;
	p->jobs = calloc((size_t)(n + extra), sizeof *p->jobs);
	kvw_err err = KVW_OK;
	if (!p->jobs)
		err = kvw_fail(d, KVW_ESYS, "out of memory");
	for (int i = 0; !err && i < n; i++)
		p->jobs[p->n_jobs++] = job(&p->in, &deps[i], a->rate_scale);
	free(deps);
	if (!err && n == 0) {
		char why[200] = "no configuration to search";
		kvw_deploy one = { .kind = "aggregated", .n_groups = 1 };
		one.g[0] = (kvw_inst_group){ KVW_ROLE_MIXED, p->in.space.tps[p->in.space.n_tps - 1], 1, 2048, 0 };
		kvw_deploy_check(&p->in.cluster, &one, p->in.max_tokens, why, (int)sizeof why);
		err = kvw_fail(d, KVW_EINPUT, "no deployment of %d GPUs can run %s: %s", p->in.space.gpus,
		               p->in.setup->arch.name, why);
	}
	if (!err)
		err = plan_run_jobs(p->jobs, p->n_jobs, &p->in, p->in.jobs, "configurations", d);
	return err;
}

/* the decode side's other routing policies (and layer-wise) on the best disaggregated ones */
static kvw_err routed_variants(const kvw_args *a, plan_state *p, kvw_diag *d)
{
	if (strcmp(a->route, "all") != 0)
		return KVW_OK;
	int first = p->n_jobs, top[TOP_ROUTED], n_top = 0;
	for (int k = 0; k < TOP_ROUTED; k++) {
		int b = -1;
		for (int i = 0; i < first; i++) {
			bool taken = false;
			for (int t = 0; t < n_top; t++)
				taken |= top[t] == i;
			if (!taken && strcmp(p->jobs[i].dep.kind, "disaggregated") == 0 && good(&p->jobs[i]) > 0
			    && (b < 0 || good(&p->jobs[i]) > good(&p->jobs[b])))
				b = i;
		}
		if (b >= 0)
			top[n_top++] = b;
	}
	static const char *const routes[] = { "recompute", "threshold", "load-aware" };
	for (int t = 0; t < n_top; t++) {
		for (int r = 0; r < 3; r++) {
			kvw_deploy dep = p->jobs[top[t]].dep;
			dep.route = routes[r];
			p->jobs[p->n_jobs++] = job(&p->in, &dep, 0);
		}
		kvw_deploy lw = p->jobs[top[t]].dep;
		lw.layerwise = !lw.layerwise;
		p->jobs[p->n_jobs++] = job(&p->in, &lw, 0);
	}
	return plan_run_jobs(p->jobs + first, p->n_jobs - first, &p->in, p->in.jobs, "routing policies", d);
}

/* attainment vs rate around the goodput of the top few */
static kvw_err curves(plan_state *p, kvw_diag *d)
{
	static const double f[] = { 0.5, 0.7, 0.85, 1, 1.1, 1.25, 1.5, 2 };
	int nf = (int)(sizeof f / sizeof f[0]);
	bool used[MAX_CONFIGS + TOP_ROUTED * 4] = { false };
	for (p->n_top = 0; p->n_top < TOP_CURVES; p->n_top++) {
		int b = -1;
		for (int i = 0; i < p->n_jobs; i++)
			if (!used[i] && good(&p->jobs[i]) > 0 && (b < 0 || good(&p->jobs[i]) > good(&p->jobs[b])))
				b = i;
		if (b < 0)
			break;
		used[b] = true;
		p->curve_of[p->n_top] = b;
	}
	p->curves = calloc((size_t)(p->n_top * nf) + 1, sizeof *p->curves);
	if (!p->curves)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	for (int t = 0; t < p->n_top; t++)
		for (int k = 0; k < nf; k++)
			p->curves[p->n_curves++] = job(&p->in, &p->jobs[p->curve_of[t]].dep, p->jobs[p->curve_of[t]].g.scale * f[k]);
	return plan_run_jobs(p->curves, p->n_curves, &p->in, p->in.jobs, "attainment curves", d);
}

/* goodput vs link bandwidth for the best disaggregated deployment, and the smallest that keeps it */
static kvw_err link_sweep(plan_state *p, kvw_diag *d)
{
	p->sweep_of = p->best_dis;
	if (p->best_dis < 0)
		return KVW_OK;
	const plan_job *b = &p->jobs[p->best_dis];
	p->sweep_cls = p->in.cluster.gpus > p->in.cluster.gpus_per_node ? 1 : 0;
	double bw = kvw_sim_link_bw(&p->in.cluster, p->sweep_cls), lo = 0.5e9, hi = fmax(4 * bw, 1e12);
	p->sweep = calloc(SWEEP_POINTS, sizeof *p->sweep);
	if (!p->sweep)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	for (int k = 0; k < SWEEP_POINTS; k++) {
		p->sweep[k] = job(&p->in, &b->dep, 0);
		kvw_link *l = p->sweep_cls ? &p->sweep[k].cluster.inter : &p->sweep[k].cluster.intra;
		l->bw = lo * pow(hi / lo, (double)k / (SWEEP_POINTS - 1));
	}
	p->n_sweep = SWEEP_POINTS;
	kvw_err err = plan_run_jobs(p->sweep, p->n_sweep, &p->in, p->in.jobs, "link sweep", d);
	if (err)
		return err;
	double target = KEEP * b->g.rps, below = lo, above = -1;
	for (int k = 0; k < SWEEP_POINTS && above < 0; k++) {
		const kvw_link *l = p->sweep_cls ? &p->sweep[k].cluster.inter : &p->sweep[k].cluster.intra;
		if (p->sweep[k].g.found && p->sweep[k].g.rps >= target)
			above = l->bw;
		else
			below = l->bw;
	}
	p->min_bw = above;
	if (above > below) {
		int sims;
		err = kvw_min_bandwidth(&p->in.cluster, &b->dep, &p->in.w, &p->in.slo, &p->in.bisect, p->sweep_cls, target,
		                        below, above, 0.25, &p->min_bw, &sims, d);
		p->sims += sims;
	}
	return err;
}

/* ---- the cache against no cache ---------------------------------------------------------- */

static double good_nc(const plan_state *p, int i)
{
	return p->nc_done[i] && p->nc[i].g.found ? p->nc[i].g.per_gpu : -1;
}

/* every configuration once without the cache at the rate it was simulated or found at */
static kvw_err cache_refs(plan_state *p, kvw_diag *d)
{
	p->ref = calloc((size_t)p->n_jobs + 1, sizeof *p->ref);
	p->ref_of = calloc((size_t)p->n_jobs + 1, sizeof *p->ref_of);
	if (!p->ref || !p->ref_of)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	for (int i = 0; i < p->n_jobs; i++) {
		const plan_job *j = &p->jobs[i];
		double scale = j->scale > 0 ? j->scale : j->g.found ? j->g.scale : 0;
		p->ref_of[i] = scale > 0 ? p->n_ref : -1;
		if (scale > 0) {
			p->ref[p->n_ref] = job(&p->in, &j->dep, scale);
			p->ref[p->n_ref++].nocache = true;
		}
	}
	p->sims += p->n_ref;
	return plan_run_jobs(p->ref, p->n_ref, &p->in, p->in.jobs, "the same without the cache", d);
}

/* goodput without the cache, for every configuration: a cache can lower a configuration's goodput
 * (a slow tier, loads queued on one store, waits a recompute would not have had), so no bound from
 * the goodput with the cache may stop this search early; searched a thread's worth at a time, the
 * answer does not depend on the threads */
static kvw_err cache_winner(plan_state *p, kvw_diag *d)
{
	int n = p->n_jobs;
	p->nc = calloc((size_t)n + 1, sizeof *p->nc);
	p->nc_done = calloc((size_t)n + 1, sizeof *p->nc_done);
	p->nc_winner = -1;
	if (!p->nc || !p->nc_done)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	for (int i = 0; i < n; i++) {
		p->nc[i] = job(&p->in, &p->jobs[i].dep, 0);
		p->nc[i].nocache = true;
	}
	kvw_err err = plan_run_jobs(p->nc, n, &p->in, p->in.jobs, "without the cache", d);
	for (int i = 0; !err && i < n; i++) {
		p->nc_done[i] = true;
		p->n_nc++;
		p->sims += p->nc[i].g.sims;
		if (good_nc(p, i) > 0 && (p->nc_winner < 0 || good_nc(p, i) > good_nc(p, p->nc_winner)))
			p->nc_winner = i;
	}
	return err;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

/* mean load time of the requests that loaded a prefix from below HBM (alone or beside a split) */
static double load_ms(const kvw_sim_result *r)
{
	long loads = r->prefix_choice[KVW_CHOICE_LOAD] + r->prefix_choice[KVW_CHOICE_SPLIT];
	return loads > 0 ? 1e3 * r->prefix_load_s / (double)loads : 0;
}

/* ---- the answer in words ------------------------------------------------------------------ */

static void name_of(const plan_job *j, char *buf, size_t len)
{
	kvw_deploy_name(&j->dep, buf, len);
}

static void bottleneck(const plan_job *w, char *buf, size_t len)
{
	const kvw_sim_result *f = &w->g.fail, *r = &w->g.at;
	const char *failed = w->g.failed ? w->g.failed : "TTFT";
	const char *phase = strcmp(failed, "TPOT") == 0 ? "decode" : strcmp(failed, "both") == 0 ? "both phases"
		: "prefill";
	snprintf(buf, len, "%s is the bottleneck: just above its goodput the %s budget fails first (attainment %.0f%% "
	         "TTFT, %.0f%% TPOT), with %.0f%% of prefill-side and %.0f%% of decode-side GPU time busy at goodput",
	         phase, failed, 100 * f->attain_ttft, 100 * f->attain_tpot, 100 * r->util_prefill, 100 * r->util_decode);
}

/* what a faster link adds: each goodput is a bisection to rel_tol, so a
 * difference under two of those is the search's resolution, not a gain */
static void faster_words(const plan_state *p, double top, double here, char *buf, size_t len)
{
	double tol = p->in.bisect.rel_tol > 0 ? p->in.bisect.rel_tol : 0.02;
	double gain = here > 0 ? top / here - 1 : 0;
	if (fabs(gain) < 2 * tol)
		snprintf(buf, len, "a faster one would add nothing beyond the search's %.0f%% resolution", 100 * tol);
	else
		snprintf(buf, len, "a faster one would add %+.0f%%", 100 * gain);
}

static void link_words(const plan_state *p, char *buf, size_t len)
{
	if (p->best_dis < 0) {
		snprintf(buf, len, "no disaggregated deployment met the SLOs, so the link does not enter");
		return;
	}
	double bw = kvw_sim_link_bw(&p->in.cluster, p->sweep_cls);
	double top = p->sweep[p->n_sweep - 1].g.rps, here = p->jobs[p->best_dis].g.rps;
	const char *cls = p->sweep_cls ? "network" : "intra-node";
	char faster[96];
	faster_words(p, top, here, faster, sizeof faster);
	if (p->min_bw < 0)
		snprintf(buf, len, "the %s link matters: no bandwidth swept up to %.0f GB/s keeps the best disaggregated "
		         "goodput", cls, kvw_sim_link_bw(&p->sweep[p->n_sweep - 1].cluster, p->sweep_cls) / 1e9);
	else if (p->min_bw <= 0.5 * bw)
		snprintf(buf, len, "the %s link does not limit it: the best disaggregated deployment keeps %.0f%% of its "
		         "goodput down to %.3g GB/s per GPU (this one has %.3g; %s)", cls, 100 * KEEP, p->min_bw / 1e9,
		         bw / 1e9, faster);
	else
		snprintf(buf, len, "the %s link matters: the best disaggregated deployment needs %.3g GB/s per GPU to keep "
		         "%.0f%% of its goodput (this one has %.3g; %s)", cls, p->min_bw / 1e9, 100 * KEEP, bw / 1e9, faster);
}

/* what the cache did to the winner, and whether it chose it */
static void cache_sentence(const plan_state *p, char *buf, size_t len)
{
	const plan_job *w = &p->jobs[p->winner];
	const kvw_sim_result *r = &w->g.at;
	int ref = p->ref_of[p->winner];
	char ttft[200] = "";
	if (ref >= 0)
		snprintf(ttft, sizeof ttft, " (TTFT p90 %.3g s against %.3g s without it at the same rate)", r->ttft[1],
		         p->ref[ref].r.ttft[1]);
	double saved = ratio(r->prefix_tokens, r->tokens_in), own = good_nc(p, p->winner);
	char alone[120] = "it meets the SLOs at no rate";
	if (own > 0)
		snprintf(alone, sizeof alone, "%.3g req/s per GPU", own);
	if (p->nc_winner < 0) {
		snprintf(buf, len, " The prefix cache makes the SLOs reachable: %.0f%% of prompt tokens come from it%s; "
		         "without it no deployment searched meets them.", 100 * saved, ttft);
	} else if (p->nc_winner == p->winner) {
		double gain = good(w) / own - 1, tol = p->in.bisect.rel_tol > 0 ? p->in.bisect.rel_tol : 0.02;
		const char *does = fabs(gain) < 2 * tol ? "which leaves this deployment's goodput where it is"
		                   : gain > 0 ? "which raises this deployment's goodput" : "which LOWERS this deployment's goodput";
		snprintf(buf, len, " With the prefix cache %.0f%% of prompt tokens come from it%s, %s (%s without the "
		         "cache, %+.0f%%); without the cache the same deployment wins.", 100 * saved, ttft, does, alone,
		         100 * gain);
	} else {
		char other[160];
		name_of(&p->jobs[p->nc_winner], other, sizeof other);
		double best_nc = good_nc(p, p->nc_winner), tol = p->in.bisect.rel_tol > 0 ? p->in.bisect.rel_tol : 0.02;
		char worse[200] = "";
		if (good(w) < best_nc * (1 - 2 * tol))
			snprintf(worse, sizeof worse, " The cache LOWERS the best goodput (%.3g req/s per GPU with it, %.3g "
			         "without): as configured it costs more than it saves.", good(w), best_nc);
		snprintf(buf, len, " The prefix cache changes the winner: %.0f%% of prompt tokens come from it%s, and "
		         "without the cache %s would win at %.3g req/s per GPU (this deployment: %s without it).%s",
		         100 * saved, ttft, other, best_nc, alone, worse);
	}
}

static void sentence(const plan_state *p, char *buf, size_t len)
{
	const plan_job *w = &p->jobs[p->winner];
	char name[160], other[160] = "", why[400], link[400];
	name_of(w, name, sizeof name);
	int rival = -1;
	for (int i = 0; i < p->n_jobs; i++)
		if (strcmp(p->jobs[i].dep.kind, w->dep.kind) != 0 && good(&p->jobs[i]) > 0
		    && (rival < 0 || good(&p->jobs[i]) > good(&p->jobs[rival])))
			rival = i;
	char cmp[300] = "";
	if (rival >= 0) {
		name_of(&p->jobs[rival], other, sizeof other);
		snprintf(cmp, sizeof cmp, ", %.2fx the best other kind (%s, %.3g req/s per GPU)", good(w) / good(&p->jobs[rival]),
		         other, good(&p->jobs[rival]));
	}
	bottleneck(w, why, sizeof why);
	link_words(p, link, sizeof link);
	int n = snprintf(buf, len, "%s wins with %.3g req/s per GPU (%.4g req/s on %d GPUs)%s; %s; %s.", name, good(w),
	                 w->g.rps, kvw_deploy_gpus(&w->dep), cmp, why, link);
	if (p->in.cache_on && n > 0 && (size_t)n < len)
		cache_sentence(p, buf + n, len - (size_t)n);
}

/* ---- output ------------------------------------------------------------------------------------ */

static void columns(kvw_out *o, bool all, bool cache)
{
	kvw_out_col(o, "config", "configuration", NULL);
	if (all) {
		kvw_out_col(o, "kind", "kind", NULL);
		kvw_out_col(o, "route", "route", NULL);
		kvw_out_col(o, "transfer", "transfer", NULL);
		kvw_out_col(o, "gpus", "GPUs", NULL);
		kvw_out_col(o, "p_instances", "P", NULL);
		kvw_out_col(o, "p_tp", "TP_p", NULL);
		kvw_out_col(o, "d_instances", "D", NULL);
		kvw_out_col(o, "d_tp", "TP_d", NULL);
		kvw_out_col(o, "chunk_p", "chunk P", NULL);
		kvw_out_col(o, "chunk_d", "chunk D", NULL);
		kvw_out_col(o, "rate_scale", "rate scale", "%.4g");
	}
	kvw_out_col(o, "goodput_rps", "goodput req/s", "%.4g");
	kvw_out_col(o, "goodput_per_gpu", "per GPU", "%.4g");
	if (all) {
		kvw_out_col(o, "ttft_p50_s", "TTFT p50", "%.4g");
		kvw_out_col(o, "ttft_p90_s", "TTFT p90", "%.4g");
		kvw_out_col(o, "ttft_p99_s", "TTFT p99", "%.4g");
		kvw_out_col(o, "tpot_p50_s", "TPOT p50", "%.4g");
		kvw_out_col(o, "tpot_p90_s", "TPOT p90", "%.4g");
		kvw_out_col(o, "tpot_p99_s", "TPOT p99", "%.4g");
		kvw_out_col(o, "e2e_p50_s", "E2E p50", "%.4g");
		kvw_out_col(o, "e2e_p90_s", "E2E p90", "%.4g");
		kvw_out_col(o, "e2e_p99_s", "E2E p99", "%.4g");
	} else {
		kvw_out_col(o, "ttft_p90_s", "TTFT p90 s", "%.4g");
		kvw_out_col(o, "tpot_p90_s", "TPOT p90 s", "%.4g");
	}
	kvw_out_col(o, "attainment", "attain", "%.3f");
	if (all) {
		kvw_out_col(o, "attain_ttft", "attain TTFT", "%.3f");
		kvw_out_col(o, "attain_tpot", "attain TPOT", "%.3f");
	}
	kvw_out_col(o, "util_prefill", "util P", "%.2f");
	kvw_out_col(o, "util_decode", "util D", "%.2f");
	kvw_out_col(o, "link_util", "link util", "%.3f");
	kvw_out_col(o, "kv_peak", "KV peak", "%.2f");
	if (all) {
		kvw_out_col(o, "preemptions", "preemptions", NULL);
		kvw_out_col(o, "recompute_gpu_s", "recompute GPU s", "%.4g");
		kvw_out_col(o, "wasted_gpu_s", "wasted GPU s", "%.4g");
		kvw_out_col(o, "handoffs", "handoffs", NULL);
		kvw_out_col(o, "handoff_fixed_ms", "handoff fixed ms", "%.4g");
		kvw_out_col(o, "handoff_ms", "handoff ms", "%.4g");
		kvw_out_col(o, "local_prefills", "local prefills", NULL);
		kvw_out_col(o, "failed_slo", "fails first", NULL);
		kvw_out_col(o, "sims", "sims", NULL);
		kvw_out_col(o, "pareto", "Pareto", NULL);
	} else {
		kvw_out_col(o, "wasted_gpu_s", "wasted GPU s", "%.4g");
	}
	if (cache && all) {
		kvw_out_col(o, "prefix_hit", "prefix hit", "%.4f");
		kvw_out_col(o, "prefill_saved", "prefill saved", "%.4f");
		kvw_out_col(o, "load_ms", "load ms", "%.4g");
		kvw_out_col(o, "load_wait_ms", "load wait ms", "%.4g");
		kvw_out_col(o, "load_hidden", "load hidden", "%.3f");
		kvw_out_col(o, "prefix_decisions", "load/recompute/split", NULL);
	} else if (cache) {
		kvw_out_col(o, "prefix_hit", "tok hit", "%.3f");
		kvw_out_col(o, "prefill_saved", "saved", "%.3f");
		kvw_out_col(o, "load_ms", "load ms", "%.3g");
	}
	if (cache) {
		kvw_out_col(o, "ttft_p90_nocache_s", all ? "TTFT p90 no cache" : "TTFT p90 no cache s", "%.4g");
		if (all)
			kvw_out_col(o, "goodput_per_gpu_nocache", "per GPU no cache", "%.4g");
	}
}

static json_t *num_or_null(bool ok, double x)
{
	return ok ? kvw_num(x) : json_null();
}

static int cache_cells(const plan_state *p, int i, const kvw_sim_result *r, bool ok, bool all, json_t **v)
{
	int n = 0;
	v[n++] = kvw_num(ratio(r->prefix_hit_tokens, r->tokens_in));
	v[n++] = kvw_num(ratio(r->prefix_tokens, r->tokens_in));
	v[n++] = kvw_num(load_ms(r));
	if (all) {
		char dec[64];
		snprintf(dec, sizeof dec, "%ld/%ld/%ld", r->prefix_choice[KVW_CHOICE_LOAD], r->prefix_choice[KVW_CHOICE_RECOMPUTE],
		         r->prefix_choice[KVW_CHOICE_SPLIT]);
		v[n++] = kvw_num(r->n ? 1e3 * r->prefix_wait_s / (double)r->n : NAN);
		v[n++] = kvw_num(r->prefix_load_s > 0 ? r->prefix_hidden_s / r->prefix_load_s : NAN);
		v[n++] = json_string(dec);
	}
	int ref = p->ref_of ? p->ref_of[i] : -1;
	v[n++] = num_or_null(ok && ref >= 0 && p->ref[ref].r.status == KVW_SIM_DONE, ref >= 0 ? p->ref[ref].r.ttft[1] : 0);
	if (all)
		v[n++] = p->nc_done && p->nc_done[i] ? num_or_null(p->nc[i].g.found, p->nc[i].g.per_gpu) : json_null();
	return n;
}

static void row(kvw_out *o, const plan_state *p, const plan_job *j, bool pareto, bool all)
{
	const kvw_sim_result *r = j->scale > 0 ? &j->r : &j->g.at;
	bool ok = j->scale > 0 ? r->status == KVW_SIM_DONE : j->g.found;
	char name[160];
	name_of(j, name, sizeof name);
	const kvw_deploy *d = &j->dep;
	bool two = d->n_groups > 1;
	json_t *v[KVW_OUT_MAX_COLS];
	int n = 0;
	v[n++] = json_string(name);
	if (all) {
		v[n++] = json_string(d->kind);
		v[n++] = strcmp(d->kind, "disaggregated") == 0 ? json_string(d->route ? d->route : "transfer") : json_null();
		v[n++] = strcmp(d->kind, "aggregated") == 0 ? json_null() : json_string(d->layerwise ? "layerwise" : "bulk");
		v[n++] = json_integer(kvw_deploy_gpus(d));
		v[n++] = json_integer(d->g[0].count);
		v[n++] = json_integer(d->g[0].tp);
		v[n++] = two ? json_integer(d->g[1].count) : json_null();
		v[n++] = two ? json_integer(d->g[1].tp) : json_null();
		v[n++] = json_integer(d->g[0].chunk);
		v[n++] = two ? json_integer(d->g[1].chunk) : json_null();
		v[n++] = kvw_num(j->scale > 0 ? j->scale : j->g.found ? j->g.scale : NAN);
	}
	v[n++] = num_or_null(j->scale == 0 && ok, j->g.rps);
	v[n++] = num_or_null(j->scale == 0 && ok, j->g.per_gpu);
	if (all)
		for (int k = 0; k < 3; k++) {
			const double *m = k == 0 ? r->ttft : k == 1 ? r->tpot : r->e2e;
			for (int q = 0; q < 3; q++)
				v[n++] = num_or_null(ok, m[q]);
		}
	else {
		v[n++] = num_or_null(ok, r->ttft[1]);
		v[n++] = num_or_null(ok, r->tpot[1]);
	}
	v[n++] = kvw_num(r->attain);
	if (all) {
		v[n++] = kvw_num(r->attain_ttft);
		v[n++] = kvw_num(r->attain_tpot);
	}
	v[n++] = kvw_num(r->util_prefill);
	v[n++] = kvw_num(r->util_decode);
	v[n++] = kvw_num(r->link_util);
	v[n++] = kvw_num(r->kv_peak);
	if (all) {
		v[n++] = json_integer(r->preemptions);
		v[n++] = kvw_num(r->recompute_s);
		v[n++] = kvw_num(r->wasted_s);
		v[n++] = json_integer(r->handoffs);
		v[n++] = kvw_num(r->handoff_fixed_s * 1e3);
		v[n++] = kvw_num(r->handoff_mean_s * 1e3);
		v[n++] = json_integer(r->local_prefills);
		v[n++] = j->scale == 0 && j->g.failed ? json_string(j->g.failed) : json_null();
		v[n++] = json_integer(j->scale > 0 ? 1 : j->g.sims);
		v[n++] = json_boolean(pareto);
	} else {
		v[n++] = kvw_num(r->wasted_s);
	}
	if (p->in.cache_on)
		n += cache_cells(p, (int)(j - p->jobs), r, ok, all, v + n);
	kvw_out_row(o, v);
}

static int cmp_good(const void *a, const void *b)
{
	const plan_job *x = *(plan_job *const *)a, *y = *(plan_job *const *)b;
	double gx = good(x), gy = good(y);
	if (gx != gy)
		return gx < gy ? 1 : -1;
	return x < y ? -1 : x > y;
}

static void table(kvw_out *o, const plan_state *p, bool all)
{
	kvw_out_table(o, "configurations");
	columns(o, all, p->in.cache_on);
	plan_job **order = malloc((size_t)p->n_jobs * sizeof *order);
	if (!order)
		return;
	for (int i = 0; i < p->n_jobs; i++)
		order[i] = &p->jobs[i];
	if (!all)
		qsort(order, (size_t)p->n_jobs, sizeof *order, cmp_good);
	int n = all ? p->n_jobs : p->n_jobs < 10 ? p->n_jobs : 10;
	for (int i = 0; i < n; i++)
		row(o, p, order[i], p->pareto && p->pareto[order[i] - p->jobs], all);
	free(order);
}

static json_t *curves_json(const plan_state *p)
{
	json_t *arr = json_array();
	int nf = p->n_top ? p->n_curves / p->n_top : 0;
	for (int t = 0; t < p->n_top; t++) {
		char name[160];
		name_of(&p->jobs[p->curve_of[t]], name, sizeof name);
		json_t *pts = json_array(), *c = json_object();
		for (int k = 0; k < nf; k++) {
			const plan_job *j = &p->curves[t * nf + k];
			json_t *pt = json_object();
			json_object_set_new(pt, "rate_rps", kvw_num(j->r.offered_rps));
			json_object_set_new(pt, "rate_scale", kvw_num(j->scale));
			json_object_set_new(pt, "attainment", kvw_num(j->r.attain));
			json_object_set_new(pt, "ttft_p90_s", kvw_num(j->r.ttft[1]));
			json_object_set_new(pt, "tpot_p90_s", kvw_num(j->r.tpot[1]));
			json_object_set_new(pt, "status", json_integer(j->r.status));
			json_array_append_new(pts, pt);
		}
		json_object_set_new(c, "config", json_string(name));
		json_object_set_new(c, "points", pts);
		json_array_append_new(arr, c);
	}
	return arr;
}

static json_t *sweep_json(const plan_state *p)
{
	if (p->sweep_of < 0 || !p->sweep)
		return json_null();
	json_t *o = json_object(), *pts = json_array();
	char name[160];
	name_of(&p->jobs[p->sweep_of], name, sizeof name);
	for (int k = 0; k < p->n_sweep; k++) {
		const plan_job *j = &p->sweep[k];
		json_t *pt = json_object();
		json_object_set_new(pt, "gbps", kvw_num((p->sweep_cls ? j->cluster.inter.bw : j->cluster.intra.bw) / 1e9));
		json_object_set_new(pt, "goodput_rps", num_or_null(j->g.found, j->g.rps));
		json_object_set_new(pt, "goodput_per_gpu", num_or_null(j->g.found, j->g.per_gpu));
		json_array_append_new(pts, pt);
	}
	json_object_set_new(o, "config", json_string(name));
	json_object_set_new(o, "link_class", json_string(p->sweep_cls ? "inter-node" : "intra-node"));
	json_object_set_new(o, "link_gbps", kvw_num(kvw_sim_link_bw(&p->in.cluster, p->sweep_cls) / 1e9));
	json_object_set_new(o, "min_gbps_keeping_goodput", p->min_bw > 0 ? kvw_num(p->min_bw / 1e9) : json_null());
	json_object_set_new(o, "keep_fraction", kvw_num(KEEP));
	json_object_set_new(o, "points", pts);
	return o;
}

static json_t *pareto_json(const plan_state *p)
{
	json_t *arr = json_array();
	for (int i = 0; i < p->n_jobs; i++)
		if (p->pareto && p->pareto[i]) {
			char name[160];
			name_of(&p->jobs[i], name, sizeof name);
			json_t *o = json_object();
			json_object_set_new(o, "config", json_string(name));
			json_object_set_new(o, "ttft_p90_s", kvw_num(p->jobs[i].g.at.ttft[1]));
			json_object_set_new(o, "tpot_p90_s", kvw_num(p->jobs[i].g.at.tpot[1]));
			json_object_set_new(o, "goodput_per_gpu", kvw_num(p->jobs[i].g.per_gpu));
			json_array_append_new(arr, o);
		}
	return arr;
}

static void inputs_fields(kvw_out *o, const plan_state *p, const kvw_args *a)
{
	const plan_inputs *in = &p->in;
	kvw_out_field(o, "model", "model", NULL, json_string(in->setup->arch.name));
	kvw_out_field(o, "gpu", "GPU", NULL, json_string(in->gpu_name));
	kvw_out_field(o, "gpus", "GPUs", NULL, json_integer(in->cluster.gpus));
	kvw_out_field(o, "gpus_per_node", "GPUs per node", NULL, json_integer(in->cluster.gpus_per_node));
	kvw_out_field(o, "workload", "workload", NULL, json_string(in->workload_source));
	char slo[200];
	snprintf(slo, sizeof slo, "TTFT <= %g ms and TPOT <= %g ms at p%g, for %g%% of requests", a->ttft_ms, a->tpot_ms,
	         a->percentile, a->attainment);
	kvw_out_field(o, "slo", "SLOs", NULL, json_string(slo));
	kvw_out_field(o, "compute_source", "prefill compute", NULL, json_string(in->setup->compute_source));
	kvw_out_field(o, "decode_source", "decode steps", NULL, json_string(in->decode_source));
	kvw_out_field(o, "inter_link", "link between nodes", NULL, json_string(in->inter_source));
	kvw_out_field(o, "intra_link", "link within a node", NULL, json_string(in->intra_source));
	kvw_out_field(o, "handoff_costs", "handoff fixed costs", NULL, json_string(in->costs_source));
	kvw_out_field(o, "ttft_slo_s", NULL, NULL, kvw_num(in->slo.ttft_s));
	kvw_out_field(o, "tpot_slo_s", NULL, NULL, kvw_num(in->slo.tpot_s));
	kvw_out_field(o, "percentile", NULL, NULL, kvw_num(in->slo.percentile));
	kvw_out_field(o, "attainment_target", NULL, NULL, kvw_num(in->slo.attainment));
}

/* kvw_out keeps the key pointer until it emits: keys that outlive this call */
static const char *engine_key(const char *name)
{
	static const char *const keys[][2] = {
		{ "vllm", "engine_vllm" }, { "sglang", "engine_sglang" }, { "llm-d", "engine_llm-d" }, { "dynamo", "engine_dynamo" },
	};
	for (size_t i = 0; name && i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i][0], name) == 0)
			return keys[i][1];
	return "engine_other";
}

static void engine_fields(kvw_out *o, json_t *eng)
{
	size_t i;
	json_t *e;
	json_array_foreach(eng, i, e) {
		const char *name = json_string_value(json_object_get(e, "engine"));
		const char *note = json_string_value(json_object_get(e, "note"));
		char text[1200];
		snprintf(text, sizeof text, "%s%s%s", json_string_value(json_object_get(e, "settings")), note ? "  [" : "",
		         note ? note : "");
		if (note)
			strncat(text, "]", sizeof text - strlen(text) - 1);
		kvw_out_field(o, engine_key(name), name, NULL, json_string(text));
	}
	kvw_out_field(o, "engines", NULL, NULL, json_incref(eng));
}

/* the cache and its effect on the winner (search) or on the best run (fixed rate) */
static void cache_fields(kvw_out *o, const plan_state *p, int best, bool search)
{
	const plan_inputs *in = &p->in;
	const plan_job *j = &p->jobs[best];
	const kvw_sim_result *r = search ? &j->g.at : &j->r;
	int ref = p->ref_of[best];
	kvw_out_field(o, "prefix_cache", "prefix cache", NULL, json_string(in->cache_words));
	kvw_out_field(o, "cache_prefix_hit", "its prompt tokens found cached", "%.4f", kvw_num(ratio(r->prefix_hit_tokens, r->tokens_in)));
	kvw_out_field(o, "cache_prefill_saved", "prompt tokens not computed", "%.4f", kvw_num(ratio(r->prefix_tokens, r->tokens_in)));
	kvw_out_field(o, "cache_load_ms", "mean load of a prefix below HBM", "%.4g ms", kvw_num(load_ms(r)));
	kvw_out_field(o, "cache_ttft_p90_s", "its TTFT p90 with the cache", "%.4g s", kvw_num(r->ttft[1]));
	kvw_out_field(o, "cache_ttft_p90_nocache_s", "the same without the cache, same rate", "%.4g s",
	              ref >= 0 && p->ref[ref].r.status == KVW_SIM_DONE ? kvw_num(p->ref[ref].r.ttft[1]) : json_null());
	if (!search)
		return;
	char name[160] = "";
	if (p->nc_winner >= 0)
		name_of(&p->jobs[p->nc_winner], name, sizeof name);
	kvw_out_field(o, "winner_goodput_per_gpu_nocache", "the winner's goodput per GPU without the cache", "%.4g req/s",
	              p->nc_done[best] && p->nc[best].g.found ? kvw_num(p->nc[best].g.per_gpu) : json_null());
	kvw_out_field(o, "nocache_winner", "winner without the cache", NULL,
	              p->nc_winner >= 0 ? json_string(name) : json_null());
	kvw_out_field(o, "nocache_winner_goodput_per_gpu", "its goodput per GPU", "%.4g req/s",
	              p->nc_winner >= 0 ? kvw_num(good_nc(p, p->nc_winner)) : json_null());
	kvw_out_field(o, "cache_changes_winner", "the cache changes the winner", NULL, json_boolean(p->nc_winner != best));
	kvw_out_field(o, "nocache_searched", "configurations searched without the cache", NULL, json_integer(p->n_nc));
}

static void notes(kvw_out *o, const plan_state *p)
{
	kvw_out_note(o, "goodput: the highest multiple of the workload's rate at which the SLOs hold, by rate bisection "
	             "(relative bracket 2%%); per GPU: over the GPUs a deployment uses");
	kvw_out_note(o, "percentiles: nearest rank on the sorted sample; attainment: fraction of requests meeting both "
	             "budgets (DistServe); TTFT ends when the decode side holds all the KV");
	kvw_out_note(o, "wasted GPU s: KV computed twice that a policy knowing the future would not (prefixes recomputed "
	             "on the decode side that shipping alone would have delivered in time, or that missed anyway; "
	             "prefills redone after a preemption)");
	kvw_out_note(o, "%d simulations; admission FCFS with head-of-line blocking, LIFO preemption (recompute), "
	             "see README \"kvwall plan\"", p->sims);
	if (p->in.cache_on)
		kvw_out_note(o, "prefix cache (model/sim/kvw_sim_cache.h): a prompt is looked up where it is placed, priced "
		             "(load, recompute or split, each tier's bandwidth shared by its loads) when its instance could "
		             "start it, waits for the load's exposed part and computes only the tokens not taken from the "
		             "cache; its blocks are cached when its prefill ends; decode instances keep no cache (a local "
		             "prefill computes everything, a handoff ships the whole prompt's KV); the HBM cache is what no "
		             "request holds, and a request that hits still holds its whole context, so hits are a lower "
		             "bound; without the cache: the same configuration at the same rate (TTFT), and every "
		             "configuration's goodput searched again (a cache can cost goodput: a slow tier, queued loads)");
	if (p->in.cache_on && p->winner >= 0)
		kvw_out_note(o, "the engines' settings for the cache itself (vLLM's --enable-prefix-caching and "
		             "--block-size, LMCache's chunk_size, tier sizes and min_retrieve_tokens, llm-d's prefix "
		             "scorer) for the winner's prefill instances: kvwall cache with this model, --tp %d and the "
		             "same tier options", p->jobs[p->winner].dep.g[0].tp);
}

static kvw_err emit(const kvw_args *a, int argc, char **argv, plan_state *p, kvw_diag *d)
{
	kvw_out o;
	kvw_out_init(&o, "kvwall.plan/1");
	snprintf(o.title, sizeof o.title, "Deployment plan: %s on %d x %s", p->in.setup->arch.name, p->in.cluster.gpus,
	         p->in.gpu_name);
	char words[2400];
	const plan_job *w = &p->jobs[p->winner];
	char name[160];
	name_of(w, name, sizeof name);
	sentence(p, words, sizeof words);
	kvw_out_field(&o, "winner", "winner", NULL, json_string(name));
	kvw_out_field(&o, "winner_kind", "kind", NULL, json_string(w->dep.kind));
	kvw_out_field(&o, "winner_goodput_rps", "goodput", "%.4g req/s", kvw_num(w->g.rps));
	kvw_out_field(&o, "winner_goodput_per_gpu", "goodput per GPU", "%.4g req/s", kvw_num(w->g.per_gpu));
	kvw_out_field(&o, "answer", "why", NULL, json_string(words));
	inputs_fields(&o, p, a);
	if (p->in.cache_on)
		cache_fields(&o, p, p->winner, true);
	json_t *eng = plan_engine_settings(&w->dep, p->in.setup->arch.name, p->in.setup->arch.attn == KVW_ATTN_MLA);
	engine_fields(&o, eng);
	json_decref(eng);
	kvw_out_field(&o, "pareto", NULL, NULL, pareto_json(p));
	kvw_out_field(&o, "curves", NULL, NULL, curves_json(p));
	kvw_out_field(&o, "link_sweep", NULL, NULL, sweep_json(p));
	notes(&o, p);
	table(&o, p, a->json || a->csv);
	kvw_err err = kvw_out_emit(&o, a, argc, argv, d);
	kvw_out_free(&o);
	return err;
}

/* ---- the modes ------------------------------------------------------------------------------------- */

static void pareto(plan_state *p)
{
	int n = p->n_jobs;
	double *t = calloc((size_t)n * 3, sizeof *t);
	bool *valid = calloc((size_t)n, sizeof *valid);
	p->pareto = calloc((size_t)n, sizeof *p->pareto);
	if (!t || !valid || !p->pareto) {
		free(t);
		free(valid);
		return;
	}
	for (int i = 0; i < n; i++) {
		valid[i] = p->jobs[i].g.found;
		t[i] = p->jobs[i].g.at.ttft[1];
		t[n + i] = p->jobs[i].g.at.tpot[1];
		t[2 * n + i] = p->jobs[i].g.per_gpu;
	}
	kvw_pareto(n, t, t + n, t + 2 * n, valid, p->pareto);
	free(t);
	free(valid);
}

/* which budget a run missed, in words */
static const char *failed_words(const kvw_sim_result *r, const kvw_slo *slo)
{
	bool ttft = r->attain_ttft < slo->attainment, tpot = r->attain_tpot < slo->attainment;
	if (ttft && tpot)
		return "both the TTFT and the TPOT budget failed";
	if (tpot || (!ttft && r->attain_tpot < r->attain_ttft))
		return "the TPOT budget failed";
	return "the TTFT budget failed";
}

static kvw_err nothing_meets(plan_state *p, kvw_diag *d)
{
	int b = 0;
	for (int i = 1; i < p->n_jobs; i++)
		if (p->jobs[i].g.at.attain > p->jobs[b].g.at.attain)
			b = i;
	const plan_job *j = &p->jobs[b];
	char name[160];
	name_of(j, name, sizeof name);
	const kvw_sim_result *r = &j->g.at;
	return kvw_fail(d, KVW_EREGRESSION, "no deployment meets the SLOs at any rate down to 1/4096 of the workload's: "
	                "best attainment %.1f%% (%s; TTFT %.1f%%, TPOT %.1f%% of requests within budget): %s; loosen "
	                "--ttft-ms / --tpot-ms or add GPUs", 100 * r->attain, name, 100 * r->attain_ttft,
	                100 * r->attain_tpot, failed_words(r, &p->in.slo));
}

static kvw_err fixed_rate(const kvw_args *a, int argc, char **argv, plan_state *p, kvw_diag *d)
{
	int best = -1, overloaded = 0;
	for (int i = 0; i < p->n_jobs; i++) {
		const kvw_sim_result *r = &p->jobs[i].r;
		overloaded += r->status == KVW_SIM_OVERLOADED;
		if (r->status == KVW_SIM_DONE && (best < 0 || r->attain > p->jobs[best].r.attain))
			best = i;
	}
	if (best < 0 && overloaded)
		return kvw_fail(d, KVW_EREGRESSION, "at rate scale %g (%.4g req/s) every deployment's queue grows without "
		                "bound (%s); lower --rate-scale", a->rate_scale, p->jobs[0].r.offered_rps, p->jobs[0].r.why);
	if (best < 0)
		return kvw_fail(d, KVW_EREGRESSION, "no deployment finished the workload at rate scale %g", a->rate_scale);
	kvw_err err;
	if (p->in.cache_on && (err = cache_refs(p, d)))
		return err;
	kvw_out o;
	kvw_out_init(&o, "kvwall.plan/1");
	char name[160];
	name_of(&p->jobs[best], name, sizeof name);
	snprintf(o.title, sizeof o.title, "Deployments at rate scale %g: %s on %d x %s", a->rate_scale,
	         p->in.setup->arch.name, p->in.cluster.gpus, p->in.gpu_name);
	kvw_out_field(&o, "best", "best attainment", NULL, json_string(name));
	kvw_out_field(&o, "best_attainment", "its attainment", "%.3f", kvw_num(p->jobs[best].r.attain));
	kvw_out_field(&o, "slo_met", "SLOs met", NULL, json_boolean(p->jobs[best].r.slo_met));
	kvw_out_field(&o, "rate_rps", "offered rate", "%.4g req/s", kvw_num(p->jobs[best].r.offered_rps));
	inputs_fields(&o, p, a);
	if (p->in.cache_on)
		cache_fields(&o, p, best, false);
	notes(&o, p);
	p->sims += p->n_jobs;
	table(&o, p, a->json || a->csv);
	err = kvw_out_emit(&o, a, argc, argv, d);
	kvw_out_free(&o);
	if (!err && !p->jobs[best].r.slo_met)
		err = kvw_fail(d, KVW_EREGRESSION, "at rate scale %g no deployment meets the SLOs: best attainment %.1f%% "
		               "(%s): %s", a->rate_scale, 100 * p->jobs[best].r.attain, name,
		               failed_words(&p->jobs[best].r, &p->in.slo));
	return err;
}

static kvw_err search(const kvw_args *a, int argc, char **argv, plan_state *p, kvw_diag *d)
{
	kvw_err err;
	if ((err = routed_variants(a, p, d)))
		return err;
	for (int i = 0; i < p->n_jobs; i++)
		p->sims += p->jobs[i].g.sims;
	p->winner = best_of(p, NULL);
	if (p->winner < 0)
		return nothing_meets(p, d);
	p->best_agg = best_of(p, "aggregated");
	p->best_dis = best_of(p, "disaggregated");
	p->best_hyb = best_of(p, "hybrid");
	pareto(p);
	if (p->in.cache_on && ((err = cache_refs(p, d)) || (err = cache_winner(p, d))))
		return err;
	if ((err = curves(p, d)) || (err = link_sweep(p, d)))
		return err;
	p->sims += p->n_curves;
	for (int k = 0; k < p->n_sweep; k++)
		p->sims += p->sweep[k].g.sims;
	return emit(a, argc, argv, p, d);
}

static kvw_err run(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->json && a->csv)
		return kvw_fail(d, KVW_EUSAGE, "choose one of --json and --csv");
	plan_state *p = calloc(1, sizeof *p);
	if (!p)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	p->sweep_of = p->best_dis = -1;
	kvw_err err = plan_inputs_read(a, &p->in, d);
	if (!err)
		err = search_all(a, p, d);
	if (!err)
		err = a->rate_scale > 0 ? fixed_rate(a, argc, argv, p, d) : search(a, argc, argv, p, d);
	plan_inputs_free(&p->in);
	free(p->jobs);
	free(p->pareto);
	free(p->curves);
	free(p->sweep);
	free(p->ref);
	free(p->ref_of);
	free(p->nc);
	free(p->nc_done);
	free(p);
	return err;
}

const kvw_cmd kvw_cmd_plan = {
	"plan", "--model M --hw NAME [--profile FILE] (--trace NAME|PATH | --synthetic N --rate R) [--gpus N] "
	"[--ttft-ms T --tpot-ms T]",
	"the deployment (aggregated, disaggregated P:D with TP per phase, hybrid) with the most goodput per GPU",
	opts, 0, run,
};
