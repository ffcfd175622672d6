/* handoff.c — what happens when a prefill is done: the request decodes
 * where it is, or its KV is handed off to a decode instance: admitted when
 * the decode side has room (else held on the prefill side, FIFO), shipped
 * over the link the two share (fixed cost first, then the bytes at a fair
 * share of both ends' ports), with any prefix the routing policy chose
 * recomputed on the decode side at the same time.  Layer-wise handoffs
 * start with the prefill.  The formulas are in kvw_sim.h.
 */
#include "sim_internal.h"

#include <math.h>

/* ---- the link ------------------------------------------------------------------ */

int kvw_sim_link_class(const kvw_sim *s, int p, int d)
{
	return s->inst[p].node == s->inst[d].node ? 0 : 1;
}

static double port_cap(const kvw_sim *s, int i, int cls)
{
	return s->inst[i].tp * kvw_sim_link_bw(s->c, cls);
}

static double rate_of(const kvw_sim *s, const sim_xfer *x)
{
	return fmin(port_cap(s, x->src, x->cls) / s->inst[x->src].n_out[x->cls],
	            port_cap(s, x->dst, x->cls) / s->inst[x->dst].n_in[x->cls]);
}

double kvw_sim_xfer_share(const kvw_sim *s, int p, int d)
{
	int cls = kvw_sim_link_class(s, p, d);
	return fmin(port_cap(s, p, cls) / (s->inst[p].n_out[cls] + 1), port_cap(s, d, cls) / (s->inst[d].n_in[cls] + 1));
}

/* brings every active transfer touching p's sending or d's receiving port
 * up to now and re-rates it; a changed rate reschedules its end */
static void rerate(kvw_sim *s, int p, int d, int cls)
{
	for (size_t k = 0; k < s->n_active; k++) {
		sim_xfer *x = &s->xf[s->active[k]];
		if (x->cls != cls || (x->src != p && x->dst != d))
			continue;
		x->left -= x->rate * (s->now - x->t_last);
		x->left = x->left > 0 ? x->left : 0;
		x->t_last = s->now;
		double r = rate_of(s, x);
		if (r != x->rate) {
			x->rate = r;
			kvw_heap_push(&s->heap, s->now + x->left / r, EV_XFER_DONE, s->active[k], ++x->ver);
		}
	}
}

static int32_t xfer_new(kvw_sim *s, int32_t r, int p, int d, double tokens, bool defer)
{
	if (!sim_grow((void **)&s->xf, &s->cap_xf, s->n_xf + 1, sizeof *s->xf, s))
		return -1;
	int32_t id = (int32_t)s->n_xf++;
	sim_xfer *x = &s->xf[id];
	bool packed;
	*x = (sim_xfer){ .r = r, .src = p, .dst = d, .cls = kvw_sim_link_class(s, p, d) };
	x->left = kvw_sim_handoff_bytes(s->c, s->inst[d].tp, tokens);
	x->fixed_s = kvw_sim_handoff_fixed_s(s->c, s->inst[p].tp, s->inst[d].tp, x->cls, tokens, &packed);
	s->res->handoff_fixed_s += x->fixed_s;
	s->res->handoffs_inter += x->cls;
	if (!defer)
		kvw_heap_push(&s->heap, s->now + x->fixed_s, EV_XFER_START, id, 0);
	s->req[r].xfer = id;
	return id;
}

void sim_xfer_start(kvw_sim *s, int32_t id)
{
	sim_xfer *x = &s->xf[id];
	x->active = true;
	x->t_last = s->now;
	s->inst[x->src].n_out[x->cls]++;
	s->inst[x->dst].n_in[x->cls]++;
	s->inst[x->src].bytes_out[x->cls] += x->left;
	if (sim_grow((void **)&s->active, &s->cap_active, s->n_active + 1, sizeof *s->active, s))
		s->active[s->n_active++] = id;
	x->rate = 0; /* so rerate schedules its end */
	rerate(s, x->src, x->dst, x->cls);
}

/* ---- handoffs ---------------------------------------------------------------- */

static void release_prefill_side(kvw_sim *s, sim_req *R)
{
	int p = R->inst;
	sim_mem(s, p, -R->mem);
	R->mem = 0;
	sim_kick(s, p); /* its prefills may have waited for room */
}

static void handoff_complete(kvw_sim *s, int32_t r)
{
	sim_req *R = &s->req[r];
	int d = R->dinst;
	s->res->handoff_mean_s += s->now - R->t_handoff;
	if (R->mem > 0)
		release_prefill_side(s, R);
	R->inst = d;
	R->generated = 1;
	sim_first_token(s, r);
	bool needless = R->needless || R->missed_ttft;
	s->res->wasted_s += needless ? R->split_s : 0;
	if (R->osl == 1) {
		sim_mem(s, d, -R->dmem);
		R->dmem = 0;
		sim_finish(s, r);
	} else {
		R->dmem = 0; /* now held as a running request: isl + a block, the same tokens */
		sim_join(s, d, r);
	}
	sim_kick(s, d);
}

static void part_done(kvw_sim *s, int32_t r)
{
	if (--s->req[r].parts == 0)
		handoff_complete(s, r);
}

/* would shipping everything meet the request's TTFT, at today's share of the link? */
static bool transfer_alone_meets(const kvw_sim *s, const sim_req *R, int p, int d)
{
	int cls = kvw_sim_link_class(s, p, d);
	double fixed = kvw_sim_handoff_fixed_s(s->c, s->inst[p].tp, s->inst[d].tp, cls, R->isl, NULL);
	double t = fixed + kvw_sim_handoff_bytes(s->c, s->inst[d].tp, R->isl) / kvw_sim_xfer_share(s, p, d);
	return s->now + t - R->arrival <= s->slo->ttft_s;
}

static void start_handoff(kvw_sim *s, int32_t r)
{
	sim_req *R = &s->req[r];
	int p = R->inst, d = R->dinst;
	long k = s->rops->recompute_prefix ? s->rops->recompute_prefix(s, r, p, d) : 0;
	k = k < 0 ? 0 : k > R->isl ? R->isl : k;
	R->state = RQ_HANDOFF;
	R->t_handoff = s->now;
	R->parts = 0;
	s->res->handoffs++;
	if (k > 0) {
		R->needless = transfer_alone_meets(s, R, p, d);
		R->job = JOB_SPLIT;
		R->job_base = 0;
		R->job_target = (int32_t)k;
		R->job_done = 0;
		R->parts++;
		s->inst[d].queued_tokens += (double)k;
		sim_ring_push(&s->inst[d].q, r, false, s);
		s->waiting++;
		s->res->handoffs_split += k < R->isl;
	}
	if (R->isl - k > 0) {
		R->parts++;
		xfer_new(s, r, p, d, (double)(R->isl - k), false);
	} else {
		release_prefill_side(s, R);
	}
	sim_kick(s, d);
}

/* admits held handoffs while instance d has room (FIFO: the head blocks) */
static void admit_held(kvw_sim *s, int d)
{
	sim_inst *D = &s->inst[d];
	while (D->hold.len && !s->stop) {
		sim_req *R = &s->req[sim_ring_at(&D->hold, 0)];
		double need = R->isl + s->c->block_tokens;
		if (need > sim_room(s, d))
			break;
		int32_t r = sim_ring_pop(&D->hold);
		sim_mem(s, d, need);
		R->dmem = need;
		start_handoff(s, r);
	}
}

void sim_admit(kvw_sim *s, int d)
{
	admit_held(s, d);
}

static void request_handoff(kvw_sim *s, int32_t r, int p, int d)
{
	sim_req *R = &s->req[r];
	R->inst = p;
	R->dinst = d;
	R->state = RQ_HOLD;
	sim_ring_push(&s->inst[d].hold, r, false, s);
	admit_held(s, d);
}

/* Layer-wise: at the first chunk of a prefill the decode side is chosen
 * and, if it has room now, the transfer starts with the prefill. */
void sim_layerwise_begin(kvw_sim *s, int p, int32_t r)
{
	sim_req *R = &s->req[r];
	int d = s->dops->route_decode(s, r, p);
	double need = R->isl + s->c->block_tokens;
	if (d == p || s->inst[d].hold.len || need > sim_room(s, d)) {
		s->res->layerwise_fallbacks += d != p;
		return; /* bulk after the prefill */
	}
	sim_mem(s, d, need);
	R->dmem = need;
	R->dinst = d;
	R->layerwise = 1;
	R->t_handoff = s->now;
	R->parts = 1;
	s->res->handoffs++;
	xfer_new(s, r, p, d, R->isl, true);
}

/* the first layer's KV exists once the pass has computed one layer */
void sim_layerwise_launch(kvw_sim *s, int32_t r, double first_layer_s)
{
	sim_xfer *x = &s->xf[s->req[r].xfer];
	kvw_heap_push(&s->heap, s->now + x->fixed_s + first_layer_s, EV_XFER_START, s->req[r].xfer, 0);
}

/* the last layer's share of the last chunk still has to cross after the
 * prefill ends */
static double last_layer_s(const kvw_sim *s, const sim_xfer *x, double chunk_tokens)
{
	const sim_req *R = &s->req[x->r];
	double bytes = kvw_sim_handoff_bytes(s->c, s->inst[x->dst].tp, chunk_tokens) / s->c->sc->arch->n_layers;
	double rate = x->active && x->rate > 0 ? x->rate : kvw_sim_xfer_share(s, x->src, x->dst);
	(void)R;
	return (x->cls ? s->c->inter.alpha_s : s->c->intra.alpha_s) + bytes / rate;
}

static void layerwise_prefill_done(kvw_sim *s, int32_t r, double last_chunk)
{
	sim_req *R = &s->req[r];
	sim_xfer *x = &s->xf[R->xfer];
	x->prefill_done = true;
	x->floor_end = s->now + last_layer_s(s, x, last_chunk);
	if (x->bytes_done)
		kvw_heap_push(&s->heap, x->floor_end, EV_HANDOFF_END, R->xfer, 0);
}

void sim_xfer_done(kvw_sim *s, int32_t id, uint32_t ver)
{
	sim_xfer *x = &s->xf[id];
	if (!x->active || ver != x->ver)
		return; /* re-rated since */
	x->active = false;
	x->left = 0;
	s->inst[x->src].n_out[x->cls]--;
	s->inst[x->dst].n_in[x->cls]--;
	for (size_t k = 0; k < s->n_active; k++)
		if (s->active[k] == id) {
			s->active[k] = s->active[--s->n_active];
			break;
		}
	rerate(s, x->src, x->dst, x->cls);
	sim_req *R = &s->req[x->r];
	if (R->layerwise && !x->prefill_done) {
		x->bytes_done = true; /* the rest goes when the prefill ends */
		return;
	}
	if (R->layerwise && x->floor_end > s->now) {
		x->bytes_done = true;
		kvw_heap_push(&s->heap, x->floor_end, EV_HANDOFF_END, id, 0);
		return;
	}
	sim_handoff_end(s, id);
}

void sim_handoff_end(kvw_sim *s, int32_t id)
{
	sim_req *R = &s->req[s->xf[id].r];
	if (R->mem > 0)
		release_prefill_side(s, R);
	part_done(s, s->xf[id].r);
}

/* ---- a prefill job is done ----------------------------------------------------- */

void sim_prefill_done(kvw_sim *s, int i, int32_t r)
{
	sim_req *R = &s->req[r];
	int last = 0;
	sim_inst *I = &s->inst[i];
	for (int k = 0; k < I->n_ch; k++)
		if (I->ch_r[k] == r)
			last = I->ch_tok[k];
	switch (R->job) {
	case JOB_SPLIT:
		part_done(s, r);
		return;
	case JOB_RESUME:
		sim_join(s, i, r);
		return;
	case JOB_LOCAL:
		R->generated = 1;
		sim_first_token(s, r);
		break;
	default:
		if (R->layerwise) {
			layerwise_prefill_done(s, r, last);
			return;
		}
		int d = s->dops->route_decode(s, r, i);
		if (d != i) {
			request_handoff(s, r, i, d);
			return;
		}
		R->generated = 1;
		sim_first_token(s, r);
	}
	if (R->osl == 1) {
		sim_mem(s, i, -R->mem);
		R->mem = 0;
		sim_finish(s, r);
	} else {
		sim_join(s, i, r);
	}
}
