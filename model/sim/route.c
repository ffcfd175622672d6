/* route.c — routing of a disaggregated request's KV, one kvw_route_ops
 * each, and their registry: the article's open question (when the transfer
 * would miss the budget, should the decode side recompute part of the
 * prefix?) as four policies.
 *
 *   transfer   every prompt is prefilled on a prefill instance and all its
 *              KV is shipped (what a plain PD deployment does).
 *   recompute  every prompt is prefilled on the decode side itself: nothing
 *              is shipped and the prefill instances stay idle (the limit).
 *   threshold  prompts of at most `threshold` uncached tokens are prefilled
 *              on the decode side, longer ones go through a prefill instance
 *              and are shipped whole (llm-d's prefix-based PD decider, and
 *              vLLM's / Dynamo's conditional disaggregation, do this).
 *   load-aware uses the queues and the link now: a prompt is prefilled on the
 *              decode side when that would finish sooner than queueing for a
 *              prefill instance and shipping, and the decode instance's
 *              passes stay within the TPOT budget with a chunk added; at a
 *              handoff whose transfer alone would miss the TTFT budget at the
 *              link's current share, the decode side recomputes the prefix k
 *              that balances its recompute time against the transfer of the
 *              rest (the split kvw_split_best solves, with the queue and the
 *              shared link in it), when that is at least 10% sooner.
 * Bulk handoffs only split; a layer-wise handoff ships everything.
 */
#include "sim_internal.h"

#include <math.h>
#include <string.h>

/* ---- transfer ----------------------------------------------------------------- */

static const kvw_route_ops transfer = {
	"transfer", "prefill on a prefill instance, ship all the KV", NULL, NULL,
};

/* ---- recompute ------------------------------------------------------------------ */

static bool always_local(kvw_sim *s, int32_t r, int *d)
{
	(void)r;
	*d = kvw_sim_least_backlog(s, 1);
	return true;
}

static const kvw_route_ops recompute = {
	"recompute", "prefill every prompt on the decode side; ship nothing", always_local, NULL,
};

/* ---- threshold ------------------------------------------------------------------ */

static bool short_local(kvw_sim *s, int32_t r, int *d)
{
	const sim_req *R = &s->req[r];
	if (R->isl - R->cached > s->dep->threshold)
		return false;
	*d = kvw_sim_least_backlog(s, 1);
	return true;
}

static const kvw_route_ops threshold = {
	"threshold", "prompts up to a token threshold prefill on the decode side, longer ones ship", short_local, NULL,
};

/* ---- load-aware --------------------------------------------------------------------- */

/* one pass of instance i with a prefill chunk of `tok` tokens besides its batch */
static double pass_with_chunk(const kvw_sim *s, int i, double tok)
{
	const sim_inst *I = &s->inst[i];
	double zero = 0;
	return kvw_sim_pass_s(s->c, I->tp, 1, &zero, &tok, I->n_run, I->sum_ctx);
}

/* seconds for decode instance d to compute k prompt tokens from now, its
 * queue first, in passes of its chunk budget shared with its batch */
static double local_prefill_s(const kvw_sim *s, int d, double k)
{
	const sim_inst *D = &s->inst[d];
	double per = D->chunk - D->n_run > 1 ? (double)(D->chunk - D->n_run) : 1;
	double passes = ceil((D->queued_tokens + k) / per);
	return passes * pass_with_chunk(s, d, fmin(per, k > 0 ? k : 1));
}

static double ship_s(const kvw_sim *s, int p, int d, double tokens)
{
	if (tokens <= 0)
		return 0;
	int cls = kvw_sim_link_class(s, p, d);
	return kvw_sim_handoff_fixed_s(s->c, s->inst[p].tp, s->inst[d].tp, cls, tokens, NULL)
		+ kvw_sim_handoff_bytes(s->c, s->inst[d].tp, tokens) / kvw_sim_xfer_share(s, p, d);
}

static bool tpot_room(const kvw_sim *s, int d)
{
	const sim_inst *D = &s->inst[d];
	return pass_with_chunk(s, d, (double)(D->chunk - D->n_run > 1 ? D->chunk - D->n_run : 1)) <= s->slo->tpot_s;
}

static bool load_local(kvw_sim *s, int32_t r, int *d)
{
	const sim_req *R = &s->req[r];
	double L = R->isl - R->cached;
	int p = kvw_sim_least_backlog(s, 0), q = kvw_sim_least_used(s, 1);
	if (!tpot_room(s, q) || kvw_sim_free_tokens(s, q) < R->isl + 2 * s->c->block_tokens)
		return false;
	double via_p = kvw_sim_prefill_backlog_s(s, p) + L * s->inst[p].tok_s + ship_s(s, p, q, R->isl);
	if (local_prefill_s(s, q, L) >= via_p)
		return false;
	*d = q;
	return true;
}

/* the k in [0, L] where recomputing k on d takes as long as shipping L - k */
static long balance_split(const kvw_sim *s, int p, int d, double L)
{
	double lo = 0, hi = L;
	for (int it = 0; it < 24 && hi - lo > 1; it++) {
		double k = 0.5 * (lo + hi);
		if (local_prefill_s(s, d, k) < ship_s(s, p, d, L - k))
			lo = k;
		else
			hi = k;
	}
	return (long)lo;
}

static long load_split(kvw_sim *s, int32_t r, int p, int d)
{
	const sim_req *R = &s->req[r];
	if (s->dep->layerwise || !tpot_room(s, d))
		return 0;
	double L = R->isl, whole = ship_s(s, p, d, L);
	if (s->now + whole - R->arrival <= s->slo->ttft_s)
		return 0; /* shipping alone meets TTFT: recomputing would be waste */
	long k = balance_split(s, p, d, L);
	double t = fmax(local_prefill_s(s, d, (double)k), ship_s(s, p, d, L - (double)k));
	return k > 0 && t < 0.9 * whole ? k : 0;
}

static const kvw_route_ops load_aware = {
	"load-aware", "decide from the queues and the link's current share: prefill locally, split, or ship",
	load_local, load_split,
};

/* ---- registry -------------------------------------------------------------------------- */

static const kvw_route_ops *const registry[] = { &transfer, &recompute, &threshold, &load_aware };
static const char *const names[] = { "transfer", "recompute", "threshold", "load-aware", NULL };

const kvw_route_ops *kvw_route_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof registry / sizeof registry[0]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *const *kvw_route_names(void)
{
	return names;
}
