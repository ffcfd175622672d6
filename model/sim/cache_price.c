/* cache_price.c — what a cache hit costs: load it, recompute it, or split
 * (kvw_cache_price, kvw_cache.h).
 *
 * A prompt of L tokens has a cached prefix of c tokens: its first h in the
 * instance's HBM (free: the KV is where attention reads it), the other
 * m = c - h partly in DRAM, SSD and the remote pool (and perhaps more HBM
 * blocks after a lower-tier one, free too).  Tier t's n_t tokens load over
 * the tier's link at the GPU's share of its bandwidth when the load starts
 * (kvw_cache_gpu_bw): alpha_t + KV_bytes(n_t) / bw_t per GPU (each GPU
 * loads its shard), the physics' bulk kvw_transfer_s; the tiers load in
 * parallel, so the part below HBM is ready after the slowest.
 *
 * At `now` (the prefill can start) three ways are priced:
 *   load       wait for the loads started at load_start (prefetch: at
 *              arrival, so the queue hid part of them): max(0, end - now);
 *   recompute  compute tokens [h, c) after the h in HBM;
 *   split      compute the front k tokens of [h, c) while the back m - k
 *              load (Cake, Jin et al. 2024): max(cs x compute(h, h + k),
 *              xs x load(m - k)) with the scenario's compute and copy
 *              slowdowns, as the physics' kvw_split_time; the loads of the
 *              back start at `now`.
 * The back's load uses one link for the whole part below HBM: the largest
 * alpha of its tiers and the bandwidth that moves all of it in the time of
 * the slowest tier (exact for one tier, the tiers' blend for several).
 * compute(h, h + k) = recompute(h + k) - recompute(h) without the fixed
 * overhead: the FLOPs of the new tokens attending to all before them.
 * Since compute(k) grows and load(m - k) shrinks with k, the best split is
 * where they cross: a bisection over block boundaries finds it (a split
 * falls on a block, the unit the engine loads).  Then the suffix [c, L) is
 * computed; a prompt that is all cached still computes its last token (as
 * vLLM does), so compute_tokens >= 1; the fixed prefill overhead is paid
 * once.
 */
#include <math.h>
#include <string.h>

#include "cache_impl.h"

double kvw_cache_overhead_s(const kvw_cache *c)
{
	return c->sc.compute.overhead_s;
}

/* recompute of tokens [0, x) without the overhead; whole blocks remembered */
static double compute_to(const kvw_cache *c, double x)
{
	if (x <= 0)
		return 0;
	double j = x / (double)c->cfg.block_tokens;
	if (j == floor(j) && j < KVW_CACHE_MEMO) {
		double *m = (double *)&c->memo[(int)j]; /* a cache of a pure function: logically const */
		if (*m < 0)
			*m = kvw_recompute_s(&c->sc, x) - c->sc.compute.overhead_s;
		return *m;
	}
	return kvw_recompute_s(&c->sc, x) - c->sc.compute.overhead_s;
}

double kvw_cache_compute_s(const kvw_cache *c, double a, double b)
{
	double t = compute_to(c, b) - compute_to(c, a);
	return t > 0 ? t : 0;
}

double kvw_cache_load_s(const kvw_cache *c, int tier, double bw, double tokens)
{
	if (tokens <= 0)
		return 0;
	return c->cfg.tier[tier].link.alpha_s + kvw_kv_bytes(c->sc.arch, &c->sc.kv, tokens) / bw;
}

kvw_scenario kvw_cache_tier_scenario(const kvw_cache *c, int tier, double bw)
{
	kvw_scenario s = c->sc;
	s.layerwise = false;
	s.message_tokens = 0;
	s.message_s = 0;
	s.link = (kvw_link){ .alpha_s = c->cfg.tier[tier].link.alpha_s, .bw = bw };
	return s;
}

/* the part below HBM: tokens per tier, and the blended link for the split */
typedef struct lower_part {
	long tokens[KVW_TIERS];
	long any;
	double alpha, bw; /* the blended link */
	double fresh_s[KVW_TIERS]; /* each tier's load started now */
} lower_part;

static void lower_tokens(const kvw_cache *c, const kvw_cache_hit *hit, lower_part *lp)
{
	memset(lp, 0, sizeof *lp);
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		lp->tokens[t] = (long)hit->tier_blocks[t] * c->cfg.block_tokens;
		lp->any += lp->tokens[t];
	}
}

static void blend_link(kvw_cache *c, const kvw_cache_hit *hit, long m, double now, lower_part *lp)
{
	double alpha = 0, slowest = 0;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		if (lp->tokens[t] == 0)
			continue;
		double bw = kvw_cache_gpu_bw(c, t, hit->instance, now);
		lp->fresh_s[t] = kvw_cache_load_s(c, t, bw, (double)lp->tokens[t]);
		alpha = fmax(alpha, c->cfg.tier[t].link.alpha_s);
		slowest = fmax(slowest, lp->fresh_s[t] - c->cfg.tier[t].link.alpha_s);
	}
	lp->alpha = alpha;
	lp->bw = kvw_kv_bytes(c->sc.arch, &c->sc.kv, (double)m) / fmax(slowest, 1e-300);
}

/* the blended link's bulk transfer: kvw_transfer_s with message_tokens 0 */
static double blend_s(const kvw_cache *c, const lower_part *lp, double tokens)
{
	return tokens > 0 ? lp->alpha + kvw_kv_bytes(c->sc.arch, &c->sc.kv, tokens) / lp->bw : 0;
}

/* the split of [h, h + m): front k recomputed, back loaded; k = 0 and k = m
 * are plain load and plain recompute (no slowdowns: nothing runs beside) */
static double split_at(const kvw_cache *c, const lower_part *lp, long h, long m, long k)
{
	if (k <= 0)
		return blend_s(c, lp, (double)m);
	if (k >= m)
		return kvw_cache_compute_s(c, (double)h, (double)(h + m));
	return fmax(kvw_cache_compute_s(c, (double)h, (double)(h + k)) * c->sc.compute_slowdown,
	            blend_s(c, lp, (double)(m - k)) * c->sc.copy_slowdown);
}

/* the best k (a multiple of the block) and its time */
static double split_best(const kvw_cache *c, const lower_part *lp, long h, long m, long *best_k)
{
	long b = c->cfg.block_tokens, blocks = m / b;
	long lo = 1, hi = blocks - 1, cross = blocks; /* first block index where compute >= load */
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		double f = kvw_cache_compute_s(c, (double)h, (double)(h + mid * b)) * c->sc.compute_slowdown;
		double g = blend_s(c, lp, (double)(m - mid * b)) * c->sc.copy_slowdown;
		if (f >= g) {
			cross = mid;
			hi = mid - 1;
		} else {
			lo = mid + 1;
		}
	}
	long cand[4] = { 0, blocks, cross - 1, cross };
	*best_k = 0;
	double best = split_at(c, lp, h, m, 0);
	for (int i = 1; i < 4; i++) {
		if (cand[i] < 0 || cand[i] > blocks)
			continue;
		double t = split_at(c, lp, h, m, cand[i] * b);
		if (t < best) {
			best = t;
			*best_k = cand[i] * b;
		}
	}
	return best;
}

/* tokens kept (not recomputed) by tier: HBM lead, then blocks from first_kept on */
static void used_by_tier(const kvw_cache *c, const kvw_cache_hit *hit, int first_kept, kvw_cache_price_t *p)
{
	double b = (double)c->cfg.block_tokens;
	p->used_tier_tokens[KVW_TIER_HBM] += hit->hbm_lead * b;
	for (int j = first_kept > hit->hbm_lead ? first_kept : hit->hbm_lead; j < hit->prefix_blocks; j++)
		p->used_tier_tokens[hit->where[j]] += b;
}

/* the loads started at load_start, and the choice at now */
static void price_lower(kvw_cache *c, const kvw_cache_hit *hit, long h, long m, lower_part *lp, double load_start,
                        double now, kvw_cache_price_t *p)
{
	double end = load_start;
	p->reg_start = load_start;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		if (lp->tokens[t] == 0)
			continue;
		p->reg_end[t] = load_start + kvw_cache_load_s(c, t, kvw_cache_gpu_bw(c, t, hit->instance, load_start),
		                                              (double)lp->tokens[t]);
		end = fmax(end, p->reg_end[t]);
	}
	p->load_s = end - load_start;
	double wait = fmax(0, end - now);
	blend_link(c, hit, m, now, lp);
	long k;
	double split = split_best(c, lp, h, m, &k);
	if (wait <= split) {
		p->choice = KVW_CHOICE_LOAD;
		p->prefix_s = wait;
		p->hidden_s = fmin(p->load_s, fmax(0, now - load_start));
		p->used_tokens = p->cached_tokens;
		used_by_tier(c, hit, 0, p);
		return;
	}
	p->prefix_s = split;
	p->split_tokens = k;
	p->choice = k >= m ? KVW_CHOICE_RECOMPUTE : k == 0 ? KVW_CHOICE_LOAD : KVW_CHOICE_SPLIT;
	p->used_tokens = p->cached_tokens - k;
	used_by_tier(c, hit, k >= m ? hit->prefix_blocks : hit->hbm_lead + (int)(k / c->cfg.block_tokens), p);
	if (load_start < now) { /* the prefetch ran anyway; it is what took bandwidth */
		p->hidden_s = fmin(p->load_s, now - load_start);
		return;
	}
	p->load_s = 0;
	p->reg_start = now; /* only the back is loaded, from now */
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		p->reg_end[t] = lp->tokens[t] && k < m ? now + lp->fresh_s[t] * (double)(m - k) / (double)m : 0;
		p->load_s = fmax(p->load_s, p->reg_end[t] - now);
	}
}

void kvw_cache_price(kvw_cache *c, const kvw_cache_hit *hit, long input_tokens, double load_start, double now,
                     kvw_cache_price_t *p)
{
	memset(p, 0, sizeof *p);
	long b = c->cfg.block_tokens, L = input_tokens;
	p->cached_tokens = (long)hit->prefix_blocks * b;
	long h = (long)hit->hbm_lead * b, m = p->cached_tokens - h;
	lower_part lp;
	lower_tokens(c, hit, &lp);
	if (lp.any == 0) {
		p->choice = KVW_CHOICE_NONE;
		p->used_tokens = p->cached_tokens;
		used_by_tier(c, hit, 0, p);
	} else {
		price_lower(c, hit, h, m, &lp, load_start, now, p);
	}
	/* the last prompt token is always computed */
	long keep = p->used_tokens < L - 1 ? p->used_tokens : L - 1;
	if (keep < p->used_tokens && hit->prefix_blocks > 0) {
		int last = hit->where[hit->prefix_blocks - 1];
		p->used_tier_tokens[last] -= (double)(p->used_tokens - keep);
	}
	p->used_tokens = keep > 0 ? keep : 0;
	p->compute_tokens = L - p->used_tokens;
	double from = p->cached_tokens < L - 1 ? (double)p->cached_tokens : (double)(L - 1);
	p->suffix_s = kvw_cache_compute_s(c, from > 0 ? from : 0, (double)L);
	p->prefill_s = p->prefix_s + p->suffix_s + c->sc.compute.overhead_s;
}
