/* cache_route.c — where a request lands (kvw_router, kvw_cache.h).  A new
 * router is a pick() function plus one line in the table.
 *
 *   single        every request on instance 0 (a one-instance deployment)
 *   round-robin   instances in turn, blind to the cache (vLLM behind a
 *                 plain load balancer)
 *   prefix-aware  Mooncake's Conductor (Qin et al., FAST'25, section 4.2,
 *                 Algorithm 1): for every instance, the TTFT it would give =
 *                 its queue (when it is free) + loading the prefix it can
 *                 find (its HBM, its node's DRAM and SSD, the remote pool;
 *                 the slowest tier's load at its link speed, or recomputing
 *                 that part when that is faster) + computing the rest; the
 *                 smallest wins, ties to the lower index.  Loads and waits
 *                 are estimated without contention, as the Conductor's
 *                 cost model does.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "cache_impl.h"

#define KVW_ROUTE_MAX 1024 /* instances the prefix-aware router considers */

static int pick_single(kvw_cache *c, const uint64_t *keys, int n, long L, double now, const double *free_at,
                       long seq)
{
	(void)c, (void)keys, (void)n, (void)L, (void)now, (void)free_at, (void)seq;
	return 0;
}

static int pick_round_robin(kvw_cache *c, const uint64_t *keys, int n, long L, double now, const double *free_at,
                            long seq)
{
	(void)keys, (void)n, (void)L, (void)now, (void)free_at;
	return (int)(seq % c->cfg.instances);
}

/* the prefix every instance finds, in one pass over the blocks: a block's
 * presence word answers for all instances at once */
typedef struct found {
	int blocks, lead, tiers[KVW_TIERS];
	bool alive;
} found;

static int tier_in(const kvw_cache *c, const uint64_t *w, int i)
{
	int node = i / c->cfg.instances_per_node;
	int bits[KVW_TIERS] = { c->bit0[0] + i, c->bit0[1] + node, c->bit0[2] + node, c->bit0[3] };
	for (int t = 0; t < KVW_TIERS; t++)
		if (c->n_stores[t] > 0 && (w[bits[t] >> 6] >> (bits[t] & 63)) & 1u)
			return t;
	return KVW_TIERS;
}

static void match_all(const kvw_cache *c, const uint64_t *keys, int n, found *f, int m)
{
	int alive = m;
	for (int i = 0; i < m; i++)
		f[i] = (found){ .alive = true };
	for (int j = 0; j < n && alive > 0; j++) {
		if (keys[j] >= c->pres.cap)
			break;
		const uint64_t *w = &c->pres.bits[keys[j] * (size_t)c->pres.words];
		for (int i = 0; i < m; i++) {
			if (!f[i].alive)
				continue;
			int t = tier_in(c, w, i);
			if (t == KVW_TIERS) {
				f[i].alive = false;
				alive--;
				continue;
			}
			f[i].tiers[t]++;
			f[i].lead += t == KVW_TIER_HBM && f[i].lead == f[i].blocks;
			f[i].blocks++;
		}
	}
}

/* the Conductor's estimate of TTFT on an instance that finds f */
static double estimate(const kvw_cache *c, const found *f, long L, double start)
{
	long b = c->cfg.block_tokens;
	double cached = (double)f->blocks * (double)b, h = (double)f->lead * (double)b, load = 0;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++)
		if (f->tiers[t])
			load = fmax(load, kvw_cache_load_s(c, t, c->cfg.tier[t].link.bw, (double)f->tiers[t] * (double)b));
	double prefix = fmin(load, kvw_cache_compute_s(c, h, cached));
	double from = cached < (double)(L - 1) ? cached : (double)(L - 1);
	return start + prefix + kvw_cache_compute_s(c, from, (double)L);
}

double kvw_cache_estimate(const kvw_cache *c, int instance, const uint64_t *keys, int n, long L)
{
	found f = { .alive = true };
	f.blocks = kvw_cache_match(c, instance, keys, n, &f.lead, f.tiers);
	return estimate(c, &f, L, 0);
}

static int pick_prefix_aware(kvw_cache *c, const uint64_t *keys, int n, long L, double now, const double *free_at,
                             long seq)
{
	(void)seq;
	found f[KVW_ROUTE_MAX];
	int m = c->cfg.instances < KVW_ROUTE_MAX ? c->cfg.instances : KVW_ROUTE_MAX;
	match_all(c, keys, n, f, m);
	int best = 0;
	double best_t = INFINITY;
	for (int i = 0; i < m; i++) {
		double t = estimate(c, &f[i], L, fmax(now, free_at[i]));
		if (t < best_t) {
			best_t = t;
			best = i;
		}
	}
	return best;
}

static const kvw_router routers[] = {
	{ "single", "every request on instance 0", pick_single },
	{ "round-robin", "instances in turn, blind to the cache", pick_round_robin },
	{ "prefix-aware", "Mooncake's Conductor: least estimated TTFT from queue, cached prefix and compute",
	  pick_prefix_aware },
};
#define N_ROUTERS ((int)(sizeof routers / sizeof routers[0]))

int kvw_router_count(void)
{
	return N_ROUTERS;
}

const kvw_router *kvw_router_at(int i)
{
	return i >= 0 && i < N_ROUTERS ? &routers[i] : NULL;
}

const kvw_router *kvw_router_find(const char *name)
{
	for (int i = 0; name && i < N_ROUTERS; i++)
		if (strcasecmp(routers[i].name, name) == 0)
			return &routers[i];
	return NULL;
}
