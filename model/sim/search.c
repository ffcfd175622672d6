/* search.c — configurations, goodput by rate bisection, the Pareto front
 * and the smallest link bandwidth (kvw_search.h). */
#include "kvw_search.h"

#include <math.h>
#include <string.h>

/* ---- enumeration ------------------------------------------------------------- */

static bool add(const kvw_cluster *c, const kvw_deploy *dep, double max_tokens, kvw_deploy *out, int max, int *n)
{
	char why[200];
	if (kvw_deploy_gpus(dep) != c->gpus || !kvw_deploy_check(c, dep, max_tokens, why, (int)sizeof why))
		return false;
	if (*n < max)
		out[*n] = *dep;
	(*n)++;
	return true;
}

static kvw_inst_group group(kvw_role role, int tp, int count, long chunk)
{
	return (kvw_inst_group){ .role = role, .tp = tp, .count = count, .chunk = chunk };
}

static void aggregated(const kvw_cluster *c, const kvw_space *sp, double mt, kvw_deploy *out, int max, int *n)
{
	for (int t = 0; t < sp->n_tps; t++)
		for (int k = 0; k < sp->n_chunks; k++) {
			int tp = sp->tps[t];
			kvw_deploy d = { .kind = "aggregated", .route = "transfer", .n_groups = 1 };
			d.g[0] = group(KVW_ROLE_MIXED, tp, sp->gpus / tp, sp->chunks[k]);
			add(c, &d, mt, out, max, n);
		}
}

static void disaggregated(const kvw_cluster *c, const kvw_space *sp, double mt, kvw_deploy *out, int max, int *n)
{
	for (int a = 0; a < sp->n_tps; a++)
		for (int b = 0; b < sp->n_tps; b++) {
			int tp_p = sp->tps[a], tp_d = sp->tps[b];
			for (int np = 1; np * tp_p < sp->gpus; np++) {
				int rest = sp->gpus - np * tp_p;
				if (rest % tp_d)
					continue;
				kvw_deploy d = { .kind = "disaggregated", .route = sp->route ? sp->route : "transfer",
				                 .n_groups = 2, .layerwise = sp->layerwise, .threshold = sp->threshold };
				d.g[0] = group(KVW_ROLE_PREFILL, tp_p, np, sp->prefill_chunk);
				d.g[1] = group(KVW_ROLE_DECODE, tp_d, rest / tp_d, sp->decode_chunk);
				add(c, &d, mt, out, max, n);
			}
		}
}

static void hybrid(const kvw_cluster *c, const kvw_space *sp, double mt, kvw_deploy *out, int max, int *n)
{
	long big = sp->chunks[0], small = sp->chunks[0];
	for (int k = 1; k < sp->n_chunks; k++) {
		big = sp->chunks[k] > big ? sp->chunks[k] : big;
		small = sp->chunks[k] < small ? sp->chunks[k] : small;
	}
	if (big == small)
		return;
	for (int t = 0; t < sp->n_tps; t++) {
		int tp = sp->tps[t], inst = sp->gpus / tp;
		for (int np = 1; np < inst; np++) {
			kvw_deploy d = { .kind = "hybrid", .route = "transfer", .n_groups = 2 };
			d.g[0] = group(KVW_ROLE_MIXED, tp, np, big);
			d.g[1] = group(KVW_ROLE_MIXED, tp, inst - np, small);
			add(c, &d, mt, out, max, n);
		}
	}
}

int kvw_space_enumerate(const kvw_cluster *c, const kvw_space *sp, double max_tokens, kvw_deploy *out, int max)
{
	int n = 0;
	if (sp->agg)
		aggregated(c, sp, max_tokens, out, max, &n);
	if (sp->disagg)
		disaggregated(c, sp, max_tokens, out, max, &n);
	if (sp->hybrid && sp->n_chunks > 0)
		hybrid(c, sp, max_tokens, out, max, &n);
	return n;
}

/* ---- goodput -------------------------------------------------------------------- */

typedef struct probe_ctx {
	const kvw_cluster *c;
	const kvw_deploy *dep;
	const kvw_workload *w;
	const kvw_slo *slo;
	const kvw_bisect *b;
	kvw_goodput *out;
} probe_ctx;

static kvw_err simulate(const probe_ctx *p, double scale, bool full, kvw_sim_result *r, kvw_diag *d)
{
	kvw_sim_opts o = { .rate_scale = scale, .max_requests = p->b->max_requests, .early_stop = !full,
	                   .percentiles = full, .max_waiting = p->b->max_waiting, .prefix = p->b->prefix,
	                   .prefix_cfg = p->b->prefix_cfg };
	p->out->sims++;
	return kvw_sim_run(p->c, p->dep, p->w, p->slo, &o, r, d);
}

/* one probe of the bisection: are the SLOs met at this scale? */
static kvw_err probe(const probe_ctx *p, double scale, bool *met, kvw_diag *d)
{
	kvw_sim_result r;
	kvw_err err = simulate(p, scale, false, &r, d);
	if (err)
		return err;
	*met = r.slo_met;
	kvw_goodput *g = p->out;
	if (g->n_pts < KVW_SEARCH_MAX_PTS) {
		g->pt_scale[g->n_pts] = scale;
		g->pt_attain[g->n_pts] = r.attain;
		g->pt_met[g->n_pts++] = r.slo_met;
	}
	return KVW_OK;
}

static const char *which_failed(const kvw_sim_result *r, const kvw_slo *slo)
{
	bool ttft = r->attain_ttft < slo->attainment, tpot = r->attain_tpot < slo->attainment;
	if (ttft && tpot)
		return "both";
	if (tpot || (!ttft && r->attain_tpot < r->attain_ttft))
		return "TPOT";
	return "TTFT";
}

/* brackets the edge: lo met (or 0 when nothing did down to min), hi failed */
static kvw_err bracket(const probe_ctx *p, double *lo, double *hi, kvw_diag *d)
{
	double s = p->b->start > 0 ? p->b->start : 1, mn = p->b->min_scale > 0 ? p->b->min_scale : 1.0 / 4096;
	double mx = p->b->max_scale > 0 ? p->b->max_scale : 4096;
	bool met;
	kvw_err err = probe(p, s, &met, d);
	if (err)
		return err;
	if (met) {
		for (*lo = s; *lo * 2 <= mx; *lo *= 2) {
			if ((err = probe(p, *lo * 2, &met, d)))
				return err;
			if (!met)
				break;
		}
		*hi = *lo * 2;
		return KVW_OK;
	}
	for (*hi = s; *hi / 2 >= mn; *hi /= 2) {
		if ((err = probe(p, *hi / 2, &met, d)))
			return err;
		if (met)
			break;
	}
	*lo = *hi / 2 >= mn ? *hi / 2 : 0;
	return KVW_OK;
}

kvw_err kvw_goodput_search(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                           const kvw_bisect *b, kvw_goodput *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	probe_ctx p = { c, dep, w, slo, b, out };
	double lo, hi, tol = b->rel_tol > 0 ? b->rel_tol : 0.02;
	kvw_err err = bracket(&p, &lo, &hi, d);
	while (!err && lo > 0 && hi / lo > 1 + tol) {
		double m = sqrt(lo * hi);
		bool met;
		if (!(err = probe(&p, m, &met, d)))
			*(met ? &lo : &hi) = m;
	}
	if (err)
		return err;
	out->found = lo > 0;
	out->scale = lo;
	out->fail_scale = hi;
	if ((err = simulate(&p, out->found ? lo : hi, true, &out->at, d))
	    || (err = simulate(&p, hi, true, &out->fail, d)))
		return err;
	if (out->found && out->at.status == KVW_SIM_DONE) {
		out->rps = out->at.offered_rps;
		out->per_gpu = out->rps / kvw_deploy_gpus(dep);
	}
	out->failed = which_failed(&out->fail, slo);
	return KVW_OK;
}

/* ---- Pareto front ------------------------------------------------------------------- */

void kvw_pareto(int n, const double *ttft, const double *tpot, const double *good, const bool *valid, bool *on)
{
	for (int i = 0; i < n; i++) {
		on[i] = valid[i];
		for (int j = 0; j < n && on[i]; j++) {
			if (j == i || !valid[j])
				continue;
			bool no_worse = ttft[j] <= ttft[i] && tpot[j] <= tpot[i] && good[j] >= good[i];
			bool better = ttft[j] < ttft[i] || tpot[j] < tpot[i] || good[j] > good[i];
			if (no_worse && better)
				on[i] = false;
		}
	}
}

/* ---- smallest bandwidth -------------------------------------------------------------- */

static kvw_err goodput_at(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                          const kvw_bisect *b, int cls, double bw, double *rps, int *sims, kvw_diag *d)
{
	kvw_cluster cc = *c;
	(cls ? &cc.inter : &cc.intra)->bw = bw;
	kvw_goodput g;
	kvw_err err = kvw_goodput_search(&cc, dep, w, slo, b, &g, d);
	*sims += g.sims;
	*rps = g.found ? g.rps : 0;
	return err;
}

kvw_err kvw_min_bandwidth(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                          const kvw_bisect *b, int cls, double target_rps, double lo, double hi, double rel_tol,
                          double *out_bw, int *sims, kvw_diag *d)
{
	double r;
	*sims = 0;
	kvw_err err = goodput_at(c, dep, w, slo, b, cls, lo, &r, sims, d);
	if (err || r >= target_rps) {
		*out_bw = lo;
		return err;
	}
	if ((err = goodput_at(c, dep, w, slo, b, cls, hi, &r, sims, d)) || r < target_rps) {
		*out_bw = hi;
		return err;
	}
	while (hi / lo > 1 + rel_tol) {
		double m = sqrt(lo * hi);
		if ((err = goodput_at(c, dep, w, slo, b, cls, m, &r, sims, d)))
			return err;
		*(r >= target_rps ? &hi : &lo) = m;
	}
	*out_bw = hi;
	return KVW_OK;
}
