/* cache_replay.c — a workload through the tiered cache on prefill-only
 * instances serving FCFS (kvw_cache_replay; the timing model is stated in
 * kvw_cache.h).  Requests are taken in arrival order; because each
 * instance serves its queue in order and a prefill's length is known when
 * the request is routed, its start and end follow at once (no event queue
 * is needed for this model: start = max(arrival, instance free)).  TTFT
 * percentiles come from the sorted sample of every request, linearly
 * interpolated.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache_impl.h"

double kvw_cache_token_hit_rate(const kvw_cache_stats *s, int tier)
{
	double hit = 0;
	for (int t = 0; t < KVW_TIERS; t++)
		if (tier < 0 || tier == t)
			hit += s->hit_tokens[t];
	return s->input_tokens > 0 ? hit / s->input_tokens : 0;
}

double kvw_cache_block_hit_rate(const kvw_cache_stats *s, int tier)
{
	double hit = 0;
	for (int t = 0; t < KVW_TIERS; t++)
		if (tier < 0 || tier == t)
			hit += s->hit_blocks[t];
	return s->blocks > 0 ? hit / s->blocks : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double quantile(const double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

typedef struct replay {
	kvw_cache *c;
	const kvw_router *router;
	const kvw_cache_ids *ids;
	bool prefetch;
	double *free_at, *ttft;
	uint64_t *keys;
	kvw_cache_stats *st;
} replay;

static void count_hit(replay *rp, const kvw_cache_hit *hit, const kvw_cache_price_t *p)
{
	kvw_cache_stats *st = rp->st;
	double b = (double)rp->c->cfg.block_tokens;
	for (int t = 0; t < KVW_TIERS; t++) {
		st->hit_blocks[t] += hit->tier_blocks[t];
		st->hit_tokens[t] += hit->tier_blocks[t] * b;
		st->used_tokens[t] += p->used_tier_tokens[t];
		if (hit->tier_blocks[t] > 0 && t > KVW_TIER_HBM)
			st->tier_choice[t][p->choice]++;
	}
	st->choice[p->choice]++;
	st->computed_tokens += (double)p->compute_tokens;
	if (p->choice != KVW_CHOICE_RECOMPUTE) { /* a prefetch whose blocks were not used is no load */
		st->load_s += p->load_s;
		st->hidden_s += p->hidden_s;
	}
	st->hit_requests += hit->prefix_blocks > 0;
	st->exposed_load_s += p->choice == KVW_CHOICE_LOAD ? p->prefix_s : 0;
	st->suffix_s += p->suffix_s;
}

static kvw_err one(replay *rp, const kvw_workload *w, size_t r, kvw_diag *d)
{
	kvw_cache *c = rp->c;
	const kvw_request *q = &w->req[r];
	const uint64_t *keys = rp->keys;
	int n;
	if (rp->ids) {
		n = rp->ids->n[r];
		keys = rp->ids->id + rp->ids->off[r];
	} else {
		n = kvw_cache_keys(c, w, r, rp->keys, KVW_CACHE_MAX_BLOCKS, NULL);
	}
	if (n == -2)
		return kvw_fail(d, KVW_ESYS, "out of memory for the block ids of request %zu", r + 1);
	if (n < 0)
		return kvw_fail(d, KVW_EINPUT, "%s: request %zu has no hash_ids: the prefix cache needs the trace's block "
		                "hashes (Mooncake traces carry them); --unique-without-hashes treats such requests as "
		                "never shared", w->name, r + 1);
	double a = q->arrival_s;
	kvw_cache_advance(c, a);
	int inst = rp->router->pick(c, keys, n, q->input_tokens, a, rp->free_at, (long)r);
	kvw_cache_hit hit;
	kvw_cache_lookup(c, inst, keys, n, &hit);
	double start = fmax(a, rp->free_at[inst]);
	kvw_cache_price_t p;
	kvw_cache_price(c, &hit, q->input_tokens, rp->prefetch ? a : start, start, &p);
	kvw_cache_commit(c, &hit, &p);
	count_hit(rp, &hit, &p);
	double end = start + p.prefill_s;
	rp->free_at[inst] = end;
	rp->ttft[r] = end - a;
	rp->st->gpu_s += p.prefill_s * c->tp;
	rp->st->nocache_gpu_s += (kvw_cache_compute_s(c, 0, (double)q->input_tokens) + kvw_cache_overhead_s(c)) * c->tp;
	rp->st->makespan_s = fmax(rp->st->makespan_s, end);
	rp->st->input_tokens += (double)q->input_tokens;
	rp->st->blocks += n;
	kvw_cache_insert(c, inst, keys, n, &hit);
	return KVW_OK;
}

static void finish(replay *rp, size_t n)
{
	kvw_cache_stats *st = rp->st;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += rp->ttft[i];
	qsort(rp->ttft, n, sizeof *rp->ttft, cmp_double);
	st->ttft_p50 = quantile(rp->ttft, n, 0.50);
	st->ttft_p90 = quantile(rp->ttft, n, 0.90);
	st->ttft_p99 = quantile(rp->ttft, n, 0.99);
	st->ttft_mean = n ? sum / (double)n : NAN;
	for (int t = 0; t < KVW_TIERS; t++)
		st->evictions[t] = kvw_cache_evictions(rp->c, t);
}

static long total_blocks(const kvw_workload *w, long block_tokens)
{
	long n = 0;
	for (size_t i = 0; i < w->n; i++)
		n += w->req[i].input_tokens / block_tokens + 1;
	return n;
}

kvw_err kvw_cache_replay(const kvw_cache_cfg *cfg, const kvw_replay_cfg *rc, const kvw_scenario *sc,
                         const kvw_workload *w, kvw_cache_stats *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	const char *rname = rc && rc->route ? rc->route : "round-robin";
	replay rp = { .router = kvw_router_find(rname), .prefetch = rc && rc->prefetch, .st = out,
	              .ids = rc ? rc->ids : NULL };
	if (!rp.router)
		return kvw_fail(d, KVW_EUSAGE, "unknown router '%s' (single, round-robin, prefix-aware)", rname);
	if (w->n == 0)
		return kvw_fail(d, KVW_EINPUT, "%s: no requests", w->name);
	if (rp.ids && (rp.ids->n_req != w->n || rp.ids->block_tokens != cfg->block_tokens))
		return kvw_fail(d, KVW_EUSAGE, "the block ids given are for another workload or block size");
	long bound = rp.ids ? (long)(rp.ids->n_ids > 0 ? rp.ids->n_ids : 1) : total_blocks(w, cfg->block_tokens);
	kvw_err err = kvw_cache_new(cfg, sc, bound, &rp.c, d);
	if (err)
		return err;
	if (rp.ids && !kvw_cache_adopt_ids(rp.c, rp.ids->n_ids))
		err = kvw_fail(d, KVW_ESYS, "out of memory");
	rp.free_at = calloc((size_t)cfg->instances, sizeof *rp.free_at);
	rp.ttft = malloc(w->n * sizeof *rp.ttft);
	rp.keys = malloc(KVW_CACHE_MAX_BLOCKS * sizeof *rp.keys);
	if (!err && (!rp.free_at || !rp.ttft || !rp.keys))
		err = kvw_fail(d, KVW_ESYS, "out of memory");
	for (size_t r = 0; r < w->n && !err; r++)
		err = one(&rp, w, r, d);
	out->requests = (long)w->n;
	if (!err)
		finish(&rp, w->n);
	free(rp.free_at);
	free(rp.ttft);
	free(rp.keys);
	kvw_cache_free(rp.c);
	if (err)
		memset(out, 0, sizeof *out);
	return err;
}
