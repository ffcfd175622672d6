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

/* the Conductor's estimate of TTFT on instance i */
static double estimate(const kvw_cache *c, int i, const uint64_t *keys, int n, long L, double now,
                       const double *free_at)
{
	int lead, tiers[KVW_TIERS];
	long b = c->cfg.block_tokens;
	int found = kvw_cache_match(c, i, keys, n, &lead, tiers);
	double cached = (double)found * (double)b, h = (double)lead * (double)b, load = 0;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		if (!tiers[t])
			continue;
		kvw_scenario s = kvw_cache_tier_scenario(c, t, c->cfg.tier[t].link.bw);
		load = fmax(load, kvw_transfer_s(&s, (double)tiers[t] * (double)b));
	}
	double prefix = fmin(load, kvw_cache_compute_s(c, h, cached));
	double from = cached < (double)(L - 1) ? cached : (double)(L - 1);
	return fmax(now, free_at[i]) + prefix + kvw_cache_compute_s(c, from, (double)L);
}

static int pick_prefix_aware(kvw_cache *c, const uint64_t *keys, int n, long L, double now, const double *free_at,
                             long seq)
{
	(void)seq;
	int best = 0;
	double best_t = INFINITY;
	for (int i = 0; i < c->cfg.instances; i++) {
		double t = estimate(c, i, keys, n, L, now, free_at);
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
