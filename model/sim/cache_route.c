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

/* f[k] for instance first + k, k < m.  Each block's presence word answers
 * for every instance; DRAM, SSD and remote are per node (or one), so per
 * block the first of them holding it is found once per node, and each
 * instance then only tests its own HBM bit. */
static void match_range(const kvw_cache *c, const uint64_t *keys, int n, found *f, int first, int m)
{
	int lower[KVW_TIERS], nl = 0, ipn = c->cfg.instances_per_node;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++)
		if (c->n_stores[t] > 0)
			lower[nl++] = t;
	bool hbm = c->n_stores[KVW_TIER_HBM] > 0;
	int node0 = first / ipn, nodes = (first + m - 1) / ipn - node0 + 1, alive = m;
	uint8_t below[KVW_ROUTE_MAX]; /* per node: the first lower tier holding the block */
	for (int i = 0; i < m; i++)
		f[i] = (found){ .alive = true };
	for (int j = 0; j < n && alive > 0; j++) {
		if (keys[j] >= c->pres.cap)
			break;
		const uint64_t *w = &c->pres.bits[keys[j] * (size_t)c->pres.words];
		for (int k = 0; k < nodes; k++) {
			int t = KVW_TIERS;
			for (int l = 0; l < nl && t == KVW_TIERS; l++) {
				int bit = lower[l] == KVW_TIER_REMOTE ? c->bit0[KVW_TIER_REMOTE] : c->bit0[lower[l]] + node0 + k;
				if ((w[bit >> 6] >> (bit & 63)) & 1u)
					t = lower[l];
			}
			below[k] = (uint8_t)t;
		}
		for (int i = 0; i < m; i++) {
			if (!f[i].alive)
				continue;
			int inst = first + i, bit = c->bit0[KVW_TIER_HBM] + inst;
			int t = hbm && (w[bit >> 6] >> (bit & 63)) & 1u ? KVW_TIER_HBM : below[inst / ipn - node0];
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

/* the estimates of instances that found the same are the same: remembered for a few */
typedef struct memo {
	int n;
	found f[8];
	double prefix[8], suffix[8];
} memo;

static bool same_found(const found *a, const found *b)
{
	return a->blocks == b->blocks && a->lead == b->lead && memcmp(a->tiers, b->tiers, sizeof a->tiers) == 0;
}

static int memo_find(const memo *mm, const found *f)
{
	for (int k = 0; k < mm->n; k++)
		if (same_found(&mm->f[k], f))
			return k;
	return -1;
}

static void match_all(const kvw_cache *c, const uint64_t *keys, int n, found *f, int m)
{
	match_range(c, keys, n, f, 0, m);
}

/* the Conductor's estimate without the suffix: the prefix's load or recompute */
static double prefix_estimate(const kvw_cache *c, const found *f)
{
	long b = c->cfg.block_tokens;
	double cached = (double)f->blocks * (double)b, h = (double)f->lead * (double)b, load = 0;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++)
		if (f->tiers[t])
			load = fmax(load, kvw_cache_load_s(c, t, c->cfg.tier[t].link.bw, (double)f->tiers[t] * (double)b));
	return fmin(load, kvw_cache_compute_s(c, h, cached));
}

static double suffix_estimate(const kvw_cache *c, const found *f, long L)
{
	double cached = (double)f->blocks * (double)c->cfg.block_tokens;
	double from = cached < (double)(L - 1) ? cached : (double)(L - 1);
	return kvw_cache_compute_s(c, from, (double)L);
}

/* the Conductor's estimate of TTFT on an instance that finds f */
static double estimate(const kvw_cache *c, const found *f, long L, double start)
{
	return start + prefix_estimate(c, f) + suffix_estimate(c, f, L);
}

/* the same with the prefix and suffix parts taken from mm when f was seen before */
static double estimate_memo(const kvw_cache *c, memo *mm, const found *f, long L, double start)
{
	int k = memo_find(mm, f);
	if (k < 0) {
		k = mm->n < 8 ? mm->n++ : 7;
		mm->f[k] = *f;
		mm->prefix[k] = prefix_estimate(c, f);
		mm->suffix[k] = suffix_estimate(c, f, L);
	}
	return start + mm->prefix[k] + mm->suffix[k];
}

double kvw_cache_estimate(const kvw_cache *c, int instance, const uint64_t *keys, int n, long L)
{
	found f = { .alive = true };
	f.blocks = kvw_cache_match(c, instance, keys, n, &f.lead, f.tiers);
	return estimate(c, &f, L, 0);
}

int kvw_cache_estimate_range(const kvw_cache *c, int first, int count, const uint64_t *keys, int n, long L,
                             double *out)
{
	found f[KVW_ROUTE_MAX];
	int m = first + count <= c->cfg.instances ? count : c->cfg.instances - first, most = 0;
	m = m < KVW_ROUTE_MAX ? m : KVW_ROUTE_MAX;
	if (m <= 0)
		return 0;
	match_range(c, keys, n, f, first, m);
	memo mm = { 0 };
	for (int i = 0; i < m; i++) {
		out[i] = estimate_memo(c, &mm, &f[i], L, 0);
		most = f[i].blocks > most ? f[i].blocks : most;
	}
	return most;
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
	memo mm = { 0 };
	for (int i = 0; i < m; i++) {
		double t = estimate_memo(c, &mm, &f[i], L, fmax(now, free_at[i]));
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
