/* sim.c — the event loop of one simulation (kvw_sim.h): set up the
 * instances of a deployment on the cluster's nodes, replay the workload's
 * arrivals, pop the earliest event and dispatch it to its handler (a pass
 * ended, a transfer started or ended, a handoff ended, a cached prefix was
 * loaded), and account for every request's TTFT, TPOT and end.  One kind
 * of event per handler, as vidur's events/ are; all state in one kvw_sim.
 */
#include "sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deployments: names, checks, placement ------------------------------------ */

int kvw_deploy_gpus(const kvw_deploy *dep)
{
	int n = 0;
	for (int g = 0; g < dep->n_groups; g++)
		n += dep->g[g].count * dep->g[g].tp;
	return n;
}

void kvw_deploy_name(const kvw_deploy *dep, char *buf, size_t len)
{
	const kvw_inst_group *a = &dep->g[0], *b = &dep->g[1];
	if (strcmp(dep->kind, "aggregated") == 0)
		snprintf(buf, len, "agg %dx tp%d chunk %ld", a->count, a->tp, a->chunk);
	else if (strcmp(dep->kind, "hybrid") == 0)
		snprintf(buf, len, "hybrid %dxP-heavy(tp%d, chunk %ld) + %dxD-heavy(tp%d, chunk %ld)", a->count, a->tp,
		         a->chunk, b->count, b->tp, b->chunk);
	else if (dep->route && strcmp(dep->route, "threshold") == 0)
		snprintf(buf, len, "disagg %dP(tp%d) + %dD(tp%d) threshold %ld%s", a->count, a->tp, b->count, b->tp,
		         dep->threshold, dep->layerwise ? " layerwise" : "");
	else
		snprintf(buf, len, "disagg %dP(tp%d) + %dD(tp%d) %s%s", a->count, a->tp, b->count, b->tp,
		         dep->route ? dep->route : "transfer", dep->layerwise ? " layerwise" : "");
}

static bool roles_ok(const kvw_deploy *dep, char *why, int whylen)
{
	bool agg = strcmp(dep->kind, "aggregated") == 0, dis = strcmp(dep->kind, "disaggregated") == 0;
	int want = agg ? 1 : 2;
	if (dep->n_groups != want) {
		snprintf(why, (size_t)whylen, "%s takes %d instance group%s, not %d", dep->kind, want, want > 1 ? "s" : "",
		         dep->n_groups);
		return false;
	}
	for (int g = 0; g < dep->n_groups; g++) {
		int role = dis ? (g == 0 ? KVW_ROLE_PREFILL : KVW_ROLE_DECODE) : KVW_ROLE_MIXED;
		if ((int)dep->g[g].role != role) {
			snprintf(why, (size_t)whylen, "%s: group %d has the wrong role", dep->kind, g);
			return false;
		}
	}
	return true;
}

static bool group_ok(const kvw_cluster *c, const kvw_inst_group *g, double max_tokens, char *why, int whylen)
{
	kvw_kvfmt f = c->sc->kv;
	f.tp = g->tp;
	char w[160];
	if (g->count < 1 || g->tp < 1 || g->chunk < 1)
		return snprintf(why, (size_t)whylen, "an instance group needs count, TP and chunk >= 1"), false;
	if (g->tp > c->gpus_per_node)
		return snprintf(why, (size_t)whylen, "TP %d is more than the %d GPUs of a node", g->tp, c->gpus_per_node),
		       false;
	if (!kvw_kvfmt_check(c->sc->arch, &f, w, (int)sizeof w))
		return snprintf(why, (size_t)whylen, "TP %d: %s", g->tp, w), false;
	double cap = kvw_sim_kv_tokens(c, g->tp);
	if (cap <= 0) {
		snprintf(why, (size_t)whylen, "%s weights need %.1f GB per GPU at TP %d; a GPU has %.1f GB usable "
		         "(%.2f x %.1f GB - %.1f GB reserve)", c->sc->arch->name,
		         kvw_weight_bytes_per_gpu(c->sc->arch, c->weight_bytes, g->tp) / 1e9, g->tp,
		         c->mem.utilization * c->mem.gpu_bytes / 1e9 - c->mem.reserve_bytes / 1e9, c->mem.utilization,
		         c->mem.gpu_bytes / 1e9, c->mem.reserve_bytes / 1e9);
		return false;
	}
	if (cap < max_tokens + c->block_tokens) {
		snprintf(why, (size_t)whylen, "an instance at TP %d holds %.0f tokens of KV, less than the workload's "
		         "longest request (%.0f tokens)", g->tp, cap, max_tokens);
		return false;
	}
	return true;
}

/* nodes: each instance on one node, instances packed in order */
static bool place(const kvw_cluster *c, const kvw_deploy *dep, int *node, char *why, int whylen)
{
	int cursor = 0, k = 0, gpn = c->gpus_per_node;
	for (int g = 0; g < dep->n_groups; g++)
		for (int i = 0; i < dep->g[g].count; i++) {
			int tp = dep->g[g].tp, off = cursor % gpn;
			if (off + tp > gpn)
				cursor += gpn - off;
			if (cursor + tp > c->gpus) {
				snprintf(why, (size_t)whylen, "%d GPUs in nodes of %d do not hold these instances", c->gpus, gpn);
				return false;
			}
			if (node)
				node[k] = cursor / gpn;
			k++;
			cursor += tp;
		}
	return true;
}

bool kvw_deploy_check(const kvw_cluster *c, const kvw_deploy *dep, double max_tokens, char *why, int whylen)
{
	if (!kvw_deploy_find(dep->kind))
		return snprintf(why, (size_t)whylen, "unknown deployment '%s'", dep->kind), false;
	if (!roles_ok(dep, why, whylen))
		return false;
	for (int g = 0; g < dep->n_groups; g++)
		if (!group_ok(c, &dep->g[g], max_tokens, why, whylen))
			return false;
	int n = 0;
	for (int g = 0; g < dep->n_groups; g++)
		n += dep->g[g].count;
	if (n > KVW_SIM_MAX_INST)
		return snprintf(why, (size_t)whylen, "more than %d instances", KVW_SIM_MAX_INST), false;
	return place(c, dep, NULL, why, whylen);
}

/* ---- requests: first token, finish ------------------------------------------------ */

static void account_area(kvw_sim *s)
{
	s->area += s->in_system * (s->now - s->t_area);
	s->t_area = s->now;
}

static void check_stop(kvw_sim *s)
{
	if (!s->o->early_stop || s->stop)
		return;
	if (s->miss > s->allowed_miss || s->miss_ttft > s->miss_ttft_allowed || s->miss_tpot > s->miss_tpot_allowed) {
		s->res->status = KVW_SIM_STOPPED;
		snprintf(s->res->why, sizeof s->res->why, "stopped at t = %.4g s: the SLOs can no longer be met", s->now);
		s->stop = true;
	}
}

void sim_first_token(kvw_sim *s, int32_t r)
{
	sim_req *R = &s->req[r];
	R->t_first = s->now;
	double ttft = s->now - R->arrival;
	s->ttft_sum += ttft;
	s->res->tokens_out += 1;
	if (s->ttft_v)
		s->ttft_v[s->n_first] = ttft;
	s->n_first++;
	if (ttft > s->ttft_thr) {
		R->missed_ttft = 1;
		s->miss_ttft++;
		s->miss++;
		check_stop(s);
	}
}

void sim_finish(kvw_sim *s, int32_t r)
{
	sim_req *R = &s->req[r];
	R->state = RQ_DONE;
	R->t_finish = s->now;
	account_area(s);
	s->in_system--;
	s->res->done++;
	double e2e = s->now - R->arrival;
	s->sojourn_sum += e2e;
	bool tpot_ok = true;
	if (R->osl > 1) {
		double tpot = (s->now - R->t_first) / (R->osl - 1);
		s->tpot_sum += tpot;
		s->tpot_n++;
		if (s->tpot_v)
			s->tpot_v[s->n_tpot_v++] = tpot;
		tpot_ok = tpot <= s->tpot_thr;
	}
	if (s->e2e_v)
		s->e2e_v[s->res->done - 1] = e2e;
	s->met_tpot += tpot_ok;
	s->met_ttft += !R->missed_ttft;
	s->met += tpot_ok && !R->missed_ttft;
	if (!tpot_ok) {
		s->miss_tpot++;
		s->miss += !R->missed_ttft;
		check_stop(s);
	}
}

/* ---- arrivals ------------------------------------------------------------------ */

/* ---- the prefix cache ----------------------------------------------------------- */

/* at arrival: where the prefill goes (the cache may move it within its
 * group) and the cached prefix found there, counted as cached until priced */
static int prefix_place(kvw_sim *s, int32_t r, int i)
{
	sim_req *R = &s->req[r];
	const sim_inst *I = &s->inst[i];
	if (!s->pops || I->role == KVW_ROLE_DECODE)
		return i;
	int g = I->group, first = s->group_first[g], count = s->group_count[g];
	if (s->pops->place) {
		for (int k = first; k < first + count; k++)
			s->backlog[k] = kvw_sim_prefill_backlog_s(s, k);
		i = s->pops->place(s->pfx, (size_t)r, i, first, count, s->backlog);
	}
	long hit = s->pops->lookup(s->pfx, (size_t)r, i, s->now, sim_room(s, i));
	R->cached = (int32_t)(hit < 0 ? 0 : hit > R->isl - 1 ? R->isl - 1 : hit);
	R->hooked = 1;
	return i;
}

void sim_prefix_price(kvw_sim *s, int i, int32_t r)
{
	sim_req *R = &s->req[r];
	kvw_prefix_use u;
	memset(&u, 0, sizeof u);
	s->pops->price(s->pfx, (size_t)r, i, R->arrival, s->now, sim_room(s, i), &u);
	long used = u.used_tokens < 0 ? 0 : u.used_tokens > R->isl - 1 ? R->isl - 1 : u.used_tokens;
	int32_t target = R->isl - (int32_t)used;
	s->inst[i].queued_tokens += target - R->job_target;
	R->cached = R->job_base = (int32_t)used;
	R->job_target = target;
	R->ready = s->now + (u.wait_s > 0 ? u.wait_s : 0);
	R->hooked = 2;
	kvw_sim_result *res = s->res;
	res->prefix_tokens += (double)used;
	res->prefix_hit_tokens += (double)u.hit_tokens;
	res->prefix_requests += u.hit_tokens > 0;
	res->prefix_load_s += u.load_s;
	res->prefix_hidden_s += u.hidden_s;
	res->prefix_wait_s += R->ready - s->now;
	res->prefix_choice[u.choice >= 0 && u.choice < 4 ? u.choice : 0]++;
}

void sim_prefix_insert(kvw_sim *s, int i, int32_t r)
{
	if (s->req[r].hooked == 2)
		s->pops->insert(s->pfx, (size_t)r, i, s->now, sim_room(s, i));
}

/* ---- arrivals ------------------------------------------------------------------ */

static void arrive(kvw_sim *s, int32_t r)
{
	sim_req *R = &s->req[r];
	account_area(s);
	s->in_system++;
	int i = prefix_place(s, r, s->dops->route_prefill(s, r));
	sim_inst *I = &s->inst[i];
	R->job = I->role == KVW_ROLE_DECODE ? JOB_LOCAL : JOB_PREFILL;
	s->res->local_prefills += R->job == JOB_LOCAL;
	R->inst = i;
	R->ready = s->now;
	R->job_base = R->cached;
	R->job_target = R->isl - R->cached;
	R->job_done = 0;
	R->state = RQ_QUEUED;
	I->queued_tokens += R->job_target;
	sim_ring_push(&I->q, r, false, s);
	if (++s->waiting > s->o->max_waiting && !s->stop) {
		s->res->status = KVW_SIM_OVERLOADED;
		snprintf(s->res->why, sizeof s->res->why, "more than %ld requests waiting for a prefill at t = %.4g s",
		         s->o->max_waiting, s->now);
		s->stop = true;
	}
	sim_kick(s, i);
}

/* ---- setup ------------------------------------------------------------------------ */

static kvw_err setup(kvw_sim *s, kvw_diag *d)
{
	const kvw_deploy *dep = s->dep;
	s->req = calloc(s->n, sizeof *s->req);
	s->n_inst = 0;
	for (int g = 0; g < dep->n_groups; g++)
		s->n_inst += dep->g[g].count;
	s->inst = calloc((size_t)s->n_inst, sizeof *s->inst);
	int *node = calloc((size_t)s->n_inst, sizeof *node);
	if (s->o->percentiles) {
		s->ttft_v = malloc(s->n * sizeof *s->ttft_v);
		s->tpot_v = malloc(s->n * sizeof *s->tpot_v);
		s->e2e_v = malloc(s->n * sizeof *s->e2e_v);
	}
	if (!s->req || !s->inst || !node || (s->o->percentiles && (!s->ttft_v || !s->tpot_v || !s->e2e_v))) {
		free(node);
		return kvw_fail(d, KVW_ESYS, "out of memory for a simulation of %zu requests", s->n);
	}
	char why[8];
	place(s->c, dep, node, why, (int)sizeof why);
	for (int g = 0, k = 0; g < dep->n_groups; g++) {
		s->group_first[g] = k;
		s->group_count[g] = dep->g[g].count;
		for (int i = 0; i < dep->g[g].count; i++, k++) {
			sim_inst *I = &s->inst[k];
			const kvw_inst_group *G = &dep->g[g];
			I->role = G->role;
			I->tp = G->tp;
			I->node = node[k];
			I->group = g;
			I->chunk = G->chunk;
			I->max_reqs = G->max_prefill_reqs > 0 ? G->max_prefill_reqs : SIM_MAX_CHUNKS;
			I->cap = kvw_sim_kv_tokens(s->c, G->tp);
			double chunk = (double)G->chunk, zero = 0;
			I->tok_s = kvw_sim_pass_s(s->c, G->tp, 1, &zero, &chunk, 0, 0) / chunk;
		}
	}
	free(node);
	if (s->pops && !(s->backlog = calloc((size_t)s->n_inst, sizeof *s->backlog)))
		return kvw_fail(d, KVW_ESYS, "out of memory for a simulation of %zu requests", s->n);
	const kvw_workload *w = s->w;
	double scale = s->o->rate_scale;
	for (size_t r = 0; r < s->n; r++) {
		sim_req *R = &s->req[r];
		R->arrival = w->req[r].arrival_s / scale;
		R->isl = (int32_t)w->req[r].input_tokens;
		R->osl = (int32_t)w->req[r].output_tokens;
		R->dinst = R->xfer = -1;
		s->res->tokens_in += R->isl;
	}
	return KVW_OK;
}

static void thresholds(kvw_sim *s)
{
	double n = (double)s->n;
	long need_all = (long)ceil(s->slo->attainment * n - 1e-9), need_p = (long)ceil(s->slo->percentile / 100 * n - 1e-9);
	s->allowed_miss = (long)n - need_all;
	s->miss_ttft_allowed = s->miss_tpot_allowed = (long)n - need_p;
	s->ttft_thr = s->slo->ttft_s;
	s->tpot_thr = s->slo->tpot_s;
}

/* ---- the loop ------------------------------------------------------------------------ */

static void dispatch(kvw_sim *s, const kvw_event *e)
{
	switch (e->type) {
	case EV_ITER_END:
		if (e->ver != s->inst[e->a].ver)
			return;
		sim_pass_end(s, e->a);
		sim_admit(s, e->a);
		sim_kick(s, e->a);
		return;
	case EV_XFER_START:
		sim_xfer_start(s, e->a);
		return;
	case EV_XFER_DONE:
		sim_xfer_done(s, e->a, e->ver);
		return;
	case EV_HANDOFF_END:
		sim_handoff_end(s, e->a);
		return;
	case EV_READY:
		sim_kick(s, e->a);
		return;
	}
}

static void run_loop(kvw_sim *s)
{
	while (!s->stop) {
		const kvw_event *top = kvw_heap_top(&s->heap);
		bool arrival = s->next_arrival < s->n && (!top || s->req[s->next_arrival].arrival <= top->t);
		if (arrival) {
			s->now = s->req[s->next_arrival].arrival;
			arrive(s, (int32_t)s->next_arrival++);
		} else if (top) {
			kvw_event e;
			kvw_heap_pop(&s->heap, &e);
			s->now = e.t;
			dispatch(s, &e);
		} else {
			break;
		}
		s->res->events++;
	}
}

/* ---- results ------------------------------------------------------------------------- */

static void percentiles(kvw_sim *s, kvw_sim_result *r)
{
	static const double ps[3] = { 50, 90, 99 };
	kvw_sort_doubles(s->ttft_v, s->n_first);
	kvw_sort_doubles(s->tpot_v, s->n_tpot_v);
	kvw_sort_doubles(s->e2e_v, r->done);
	for (int k = 0; k < 3; k++) {
		r->ttft[k] = kvw_percentile_sorted(s->ttft_v, s->n_first, ps[k]);
		r->tpot[k] = s->n_tpot_v ? kvw_percentile_sorted(s->tpot_v, s->n_tpot_v, ps[k]) : 0;
		r->e2e[k] = kvw_percentile_sorted(s->e2e_v, r->done, ps[k]);
	}
	r->ttft_pct = kvw_percentile_sorted(s->ttft_v, s->n_first, s->slo->percentile);
	r->tpot_pct = s->n_tpot_v ? kvw_percentile_sorted(s->tpot_v, s->n_tpot_v, s->slo->percentile) : 0;
}

static void utilisation(kvw_sim *s, kvw_sim_result *r)
{
	double busy[2] = { 0, 0 }, gpus[2] = { 0, 0 }, bytes[2] = { 0, 0 }, ports[2] = { 0, 0 };
	bool agg = s->dep->n_groups == 1;
	for (int i = 0; i < s->n_inst; i++) {
		const sim_inst *I = &s->inst[i];
		int side = I->role == KVW_ROLE_PREFILL ? 0 : I->role == KVW_ROLE_DECODE ? 1 : I->group;
		for (int k = 0; k < 2; k++)
			if (side == k || agg) {
				busy[k] += I->busy_s;
				gpus[k] += I->tp;
			}
		for (int cls = 0; cls < 2; cls++)
			if (I->bytes_out[cls] > 0) {
				bytes[cls] += I->bytes_out[cls];
				ports[cls] += I->tp * kvw_sim_link_bw(s->c, cls);
			}
		r->kv_peak = fmax(r->kv_peak, I->cap > 0 ? I->peak / I->cap : 0);
		r->recompute_s += I->split_s;
		r->wasted_s += I->waste_s;
	}
	double T = r->makespan_s > 0 ? r->makespan_s : 1;
	r->util_prefill = gpus[0] > 0 ? busy[0] / (gpus[0] * T) : 0;
	r->util_decode = gpus[1] > 0 ? busy[1] / (gpus[1] * T) : 0;
	for (int cls = 0; cls < 2; cls++)
		if (ports[cls] > 0)
			r->link_util = fmax(r->link_util, bytes[cls] / (ports[cls] * T));
}

static void results(kvw_sim *s, kvw_sim_result *r)
{
	double n = (double)s->n;
	if (!s->stop && r->done < s->n) {
		r->status = KVW_SIM_INVALID;
		snprintf(r->why, sizeof r->why, "stalled at t = %.4g s with %zu requests unfinished", s->now, s->n - r->done);
	}
	r->n = s->n;
	r->makespan_s = s->now;
	double span = s->req[s->n - 1].arrival;
	r->offered_rps = span > 0 ? n / span : INFINITY;
	r->throughput_rps = s->now > 0 ? (double)r->done / s->now : 0;
	r->mean_ttft = s->n_first ? s->ttft_sum / (double)s->n_first : NAN;
	r->mean_tpot = s->tpot_n ? s->tpot_sum / s->tpot_n : 0;
	r->mean_e2e = r->done ? s->sojourn_sum / (double)r->done : NAN;
	r->attain = (double)s->met / n;
	r->attain_ttft = (double)s->met_ttft / n;
	r->attain_tpot = (double)s->met_tpot / n;
	r->slo_met = r->status == KVW_SIM_DONE && s->met >= (long)n - s->allowed_miss
		&& s->met_ttft >= (long)n - s->miss_ttft_allowed && s->met_tpot >= (long)n - s->miss_tpot_allowed;
	account_area(s);
	r->little_l = s->now > 0 ? s->area / s->now : 0;
	r->little_lw = s->now > 0 ? s->sojourn_sum / s->now : 0;
	if (r->handoffs) {
		r->handoff_fixed_s /= (double)r->handoffs;
		r->handoff_mean_s /= (double)r->handoffs;
	}
	utilisation(s, r);
	if (s->pops && s->pops->finish)
		s->pops->finish(s->pfx, r);
	if (s->o->percentiles && r->status == KVW_SIM_DONE)
		percentiles(s, r);
}

static void teardown(kvw_sim *s)
{
	for (int i = 0; s->inst && i < s->n_inst; i++) {
		sim_inst *I = &s->inst[i];
		free(I->q.v);
		free(I->hold.v);
		free(I->fin);
		free(I->stack);
		free(I->joining);
	}
	free(s->inst);
	free(s->req);
	free(s->xf);
	free(s->active);
	free(s->ttft_v);
	free(s->tpot_v);
	free(s->e2e_v);
	free(s->backlog);
	if (s->pops && s->pfx)
		s->pops->close(s->pfx);
	kvw_heap_free(&s->heap);
	free(s);
}

static kvw_err check_inputs(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w,
                            const kvw_slo *slo, const kvw_sim_opts *o, kvw_diag *d)
{
	if (!c || !c->sc || !c->sc->arch || !dep || !w || !slo || !o)
		return kvw_fail(d, KVW_EUSAGE, "simulation inputs missing");
	if (!kvw_deploy_find(dep->kind))
		return kvw_fail(d, KVW_EUSAGE, "unknown deployment '%s'", dep->kind);
	if (!kvw_route_find(dep->route ? dep->route : "transfer"))
		return kvw_fail(d, KVW_EUSAGE, "unknown routing policy '%s'", dep->route);
	if (!(o->rate_scale > 0) || !isfinite(o->rate_scale))
		return kvw_fail(d, KVW_EUSAGE, "rate scale %g is not a positive number", o->rate_scale);
	if (w->n == 0)
		return kvw_fail(d, KVW_EUSAGE, "the workload has no requests");
	if (!(c->hbm_bw > 0) || c->gpus < 1 || c->gpus_per_node < 1 || c->block_tokens < 1 || !(c->intra.bw > 0)
	    || !(c->inter.bw > 0))
		return kvw_fail(d, KVW_EUSAGE, "cluster needs HBM bandwidth, GPUs, a block size and both links");
	if (o->prefix && (!o->prefix->open || !o->prefix->close || !o->prefix->lookup || !o->prefix->price
	                  || !o->prefix->insert))
		return kvw_fail(d, KVW_EUSAGE, "prefix cache '%s' lacks an operation", o->prefix->name);
	return KVW_OK;
}

kvw_err kvw_sim_run(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                    const kvw_sim_opts *o, kvw_sim_result *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	kvw_err err = check_inputs(c, dep, w, slo, o, d);
	if (err)
		return err;
	size_t n = o->max_requests && o->max_requests < w->n ? o->max_requests : w->n;
	double max_tokens = 0;
	for (size_t r = 0; r < n; r++)
		max_tokens = fmax(max_tokens, (double)(w->req[r].input_tokens + w->req[r].output_tokens));
	if (!kvw_deploy_check(c, dep, max_tokens, out->why, (int)sizeof out->why)) {
		out->status = KVW_SIM_INVALID;
		return KVW_OK;
	}
	kvw_sim *s = calloc(1, sizeof *s);
	kvw_sim_opts oo = *o;
	if (oo.max_waiting <= 0)
		oo.max_waiting = 100000;
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	*s = (kvw_sim){ .c = c, .dep = dep, .w = w, .slo = slo, .o = &oo, .res = out, .n = n };
	s->dops = kvw_deploy_find(dep->kind);
	s->rops = kvw_route_find(dep->route ? dep->route : "transfer");
	s->pops = o->prefix;
	if (s->pops && (err = s->pops->open(o->prefix_cfg, c, dep, w, n, &s->pfx, d))) {
		teardown(s);
		return err;
	}
	if (!(err = setup(s, d))) {
		thresholds(s);
		run_loop(s);
		if (s->oom)
			err = kvw_fail(d, KVW_ESYS, "out of memory during a simulation");
		else
			results(s, out);
	}
	teardown(s);
	return err;
}
