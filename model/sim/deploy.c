/* deploy.c — the deployments, one kvw_deploy_ops each, and their registry.
 *
 *   aggregated     every instance prefills and decodes (continuous batching,
 *                  chunked prefill: prefill chunks and decode tokens share a
 *                  pass up to the chunk budget, as vLLM's and Sarathi's
 *                  schedulers do); a request stays where it was prefilled.
 *   disaggregated  prefill instances (group 0) and decode instances
 *                  (group 1), DistServe / Splitwise style; the routing policy
 *                  (route.c) may prefill on the decode side instead, or have
 *                  it recompute part of the prefix while the rest ships.
 *   hybrid         TaiChi's idea (Wang et al., "Prefill-Decode Aggregation or
 *                  Disaggregation? Unifying Both for Goodput-Optimized LLM
 *                  Serving", arXiv 2508.01989, 2025: prefill-heavy and
 *                  decode-heavy instances, three sliders — their ratio and
 *                  each one's chunk size — with "flowing decode" and
 *                  "length-aware prefill" scheduling).  Here the ratio is
 *                  searched and the chunks are the largest and smallest of
 *                  the search's; the rules below are simpler than TaiChi's
 *                  SLO-driven latency shifting.  Every instance does both, P-heavy ones
 *                  (group 0, large chunks) and D-heavy ones (group 1, small
 *                  chunks).  Prompts go to the P-heavy instance with the least
 *                  queued prefill, short ones (at most a D-heavy chunk) to a
 *                  D-heavy one when it would start them sooner; a request
 *                  prefilled on a P-heavy instance moves its KV to the D-heavy
 *                  instance with the most room, so that P-heavy passes stay
 *                  prefill and decodes stay in short passes, and decodes where
 *                  it was prefilled only when no D-heavy instance has room (the
 *                  rule reads no SLO, so a looser budget never routes worse).
 * Ties go to the lowest instance index.
 */
#include "sim_internal.h"

#include <string.h>

int kvw_sim_least_backlog(const kvw_sim *s, int g)
{
	int best = s->group_first[g];
	double bl = kvw_sim_prefill_backlog_s(s, best);
	for (int i = best + 1; i < s->group_first[g] + s->group_count[g]; i++) {
		double b = kvw_sim_prefill_backlog_s(s, i);
		if (b < bl) {
			bl = b;
			best = i;
		}
	}
	return best;
}

int kvw_sim_least_used(const kvw_sim *s, int g)
{
	int best = s->group_first[g];
	double fb = kvw_sim_free_tokens(s, best) - (double)s->inst[best].hold.len * 1e9;
	for (int i = best + 1; i < s->group_first[g] + s->group_count[g]; i++) {
		/* held handoffs count as full: a queue there waits */
		double f = kvw_sim_free_tokens(s, i) - (double)s->inst[i].hold.len * 1e9;
		if (f > fb) {
			fb = f;
			best = i;
		}
	}
	return best;
}

/* ---- aggregated ------------------------------------------------------------- */

static int agg_prefill(kvw_sim *s, int32_t r)
{
	(void)r;
	return kvw_sim_least_backlog(s, 0);
}

static int stay(kvw_sim *s, int32_t r, int from)
{
	(void)s;
	(void)r;
	return from;
}

static const kvw_deploy_ops aggregated = {
	"aggregated", "every instance prefills and decodes; chunked prefill shares each pass with decode tokens",
	agg_prefill, stay,
};

/* ---- disaggregated ------------------------------------------------------------ */

static int dis_prefill(kvw_sim *s, int32_t r)
{
	int d;
	if (s->rops->local_prefill && s->rops->local_prefill(s, r, &d))
		return d;
	return kvw_sim_least_backlog(s, 0);
}

static int dis_decode(kvw_sim *s, int32_t r, int from)
{
	(void)r;
	(void)from;
	return kvw_sim_least_used(s, 1);
}

static const kvw_deploy_ops disaggregated = {
	"disaggregated", "prefill instances hand the KV to decode instances over the link",
	dis_prefill, dis_decode,
};

/* ---- hybrid ---------------------------------------------------------------------- */

static int hyb_prefill(kvw_sim *s, int32_t r)
{
	int p = kvw_sim_least_backlog(s, 0);
	if (s->req[r].isl <= s->dep->g[1].chunk) {
		int d = kvw_sim_least_backlog(s, 1);
		if (kvw_sim_prefill_backlog_s(s, d) < kvw_sim_prefill_backlog_s(s, p))
			return d;
	}
	return p;
}

static int hyb_decode(kvw_sim *s, int32_t r, int from)
{
	if (s->inst[from].group == 1)
		return from;
	int d = kvw_sim_least_used(s, 1);
	return kvw_sim_free_tokens(s, d) >= s->req[r].isl + s->c->block_tokens && !s->inst[d].hold.len ? d : from;
}

static const kvw_deploy_ops hybrid = {
	"hybrid", "P-heavy and D-heavy instances that both prefill and decode; decodes move off P-heavy ones "
	"when a D-heavy one has room (TaiChi)",
	hyb_prefill, hyb_decode,
};

/* ---- registry ------------------------------------------------------------------------ */

static const kvw_deploy_ops *const registry[] = { &aggregated, &disaggregated, &hybrid };
static const char *const names[] = { "aggregated", "disaggregated", "hybrid", NULL };

const kvw_deploy_ops *kvw_deploy_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof registry / sizeof registry[0]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const char *const *kvw_deploy_names(void)
{
	return names;
}
