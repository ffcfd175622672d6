/* cache.c — the tiered prefix cache (kvw_cache.h): its stores, the keys of
 * a request after re-chunking, lookup, insertion with demotion, and the
 * bookkeeping of loads that share a tier's bandwidth.  Pricing a hit
 * (load, recompute or split) is cache_price.c; routing cache_route.c; the
 * FCFS replay cache_replay.c.
 */
#include "kvw_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache_impl.h"

const char *kvw_tier_name(int tier)
{
	static const char *const names[KVW_TIERS] = { "hbm", "dram", "ssd", "remote" };
	return tier >= 0 && tier < KVW_TIERS ? names[tier] : "?";
}

const char *kvw_cache_choice_name(kvw_cache_choice ch)
{
	static const char *const names[] = { "none", "load", "recompute", "split" };
	return ch >= KVW_CHOICE_NONE && ch <= KVW_CHOICE_SPLIT ? names[ch] : "?";
}

/* ---- keys ----------------------------------------------------------------- */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t block_key(uint64_t trace_hash, uint64_t sub)
{
	return splitmix(trace_hash ^ splitmix(sub + 0x51ed27u));
}

static bool grow_dir(kvw_cache *c)
{
	kvw_u64map bigger;
	size_t old = c->dir.mask + 1;
	if (!kvw_u64map_init(&bigger, old))
		return false;
	for (size_t i = 0; i < old; i++)
		if (c->dir.val[i] >= 0)
			kvw_u64map_put(&bigger, c->dir.key[i], c->dir.val[i]);
	kvw_u64map_free(&c->dir);
	c->dir = bigger;
	return true;
}

static bool grow_presence(kvw_cache *c)
{
	size_t cap = c->pres.cap ? 2 * c->pres.cap : 4096, w = (size_t)c->pres.words;
	if (c->id_bound && cap > c->id_bound)
		cap = c->id_bound;
	uint64_t *b = realloc(c->pres.bits, cap * w * sizeof *b);
	if (!b)
		return false;
	memset(b + c->pres.cap * w, 0, (cap - c->pres.cap) * w * sizeof *b);
	c->pres.bits = b;
	c->pres.cap = cap;
	return true;
}

/* b divides the trace block: floor(t_i / b) sub-blocks of each trace block */
static int keys_split(const kvw_cache *c, const kvw_workload *w, const kvw_request *q, uint64_t *keys, int cap)
{
	long b = c->cfg.block_tokens, tb = c->cfg.trace_block;
	int n = 0;
	for (int i = 0; i < q->n_hash && n < cap; i++) {
		long t = q->input_tokens - (long)i * tb;
		if (t > tb)
			t = tb;
		if (t <= 0)
			break;
		uint64_t h = w->hashes[q->hash_off + (size_t)i];
		for (long j = 0; j < t / b && n < cap; j++)
			keys[n++] = block_key(h, (uint64_t)j | (uint64_t)b << 32);
		if (t < tb)
			break;
	}
	return n;
}

/* b is m trace blocks: engine block k = trace blocks km .. km+m-1, all full */
static int keys_merge(const kvw_cache *c, const kvw_workload *w, const kvw_request *q, uint64_t *keys, int cap)
{
	long m = c->cfg.block_tokens / c->cfg.trace_block;
	long full = q->input_tokens / c->cfg.trace_block;
	if (full > q->n_hash)
		full = q->n_hash;
	int n = 0;
	for (long k = 0; (k + 1) * m <= full && n < cap; k++)
		keys[n++] = block_key(w->hashes[q->hash_off + (size_t)((k + 1) * m - 1)], 0xb10c0000u + (uint64_t)m);
	return n;
}

/* the dense id of a key, assigned at first sight; -1 when the bound is reached or memory is short */
static int64_t id_of(kvw_cache *c, uint64_t key)
{
	int64_t id = kvw_u64map_get(&c->dir, key);
	if (id >= 0)
		return id;
	if (c->id_bound && c->n_ids >= c->id_bound)
		return -1;
	if (2 * (c->n_ids + 1) + 2 > c->dir.mask + 1 && !grow_dir(c))
		return -1;
	if (c->n_ids >= c->pres.cap && !grow_presence(c))
		return -1;
	kvw_u64map_put(&c->dir, key, (int64_t)c->n_ids);
	return (int64_t)c->n_ids++;
}

static int raw_keys(const kvw_cache *c, const kvw_workload *w, size_t r, uint64_t *keys, int cap)
{
	const kvw_request *q = &w->req[r];
	int n;
	if (q->n_hash == 0 || !w->hashes) {
		if (!c->cfg.unique_without_hashes)
			return -1;
		long nb = q->input_tokens / c->cfg.block_tokens;
		n = nb < cap ? (int)nb : cap;
		for (int j = 0; j < n; j++) /* a tag no trace hash mixes to in practice */
			keys[j] = block_key(0xfeedfacecafe0000ull ^ splitmix((uint64_t)r), (uint64_t)j);
	} else if (c->cfg.block_tokens <= c->cfg.trace_block) {
		n = keys_split(c, w, q, keys, cap);
	} else {
		n = keys_merge(c, w, q, keys, cap);
	}
	return n;
}

int kvw_cache_keys(kvw_cache *c, const kvw_workload *w, size_t r, uint64_t *keys, int cap, long *full_tokens)
{
	int n = raw_keys(c, w, r, keys, cap);
	for (int j = 0; j < n; j++) {
		int64_t id = id_of(c, keys[j]);
		if (id < 0)
			return -2;
		keys[j] = (uint64_t)id;
	}
	if (full_tokens)
		*full_tokens = n > 0 ? (long)n * c->cfg.block_tokens : 0;
	return n;
}

size_t kvw_cache_distinct(const kvw_cache *c)
{
	return c->n_ids;
}

kvw_err kvw_cache_ids_build(const kvw_cache_cfg *cfg, const kvw_scenario *sc, const kvw_workload *w,
                            kvw_cache_ids *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	kvw_cache_cfg g = *cfg;
	for (int t = 0; t < KVW_TIERS; t++)
		g.tier[t].capacity_bytes = 0;
	kvw_cache *c;
	kvw_err err = kvw_cache_new(&g, sc, 0, &c, d);
	if (err)
		return err;
	size_t total = 0;
	for (size_t r = 0; r < w->n; r++)
		total += (size_t)(w->req[r].input_tokens / cfg->block_tokens) + 1;
	out->id = malloc(total * sizeof *out->id);
	out->off = malloc((w->n ? w->n : 1) * sizeof *out->off);
	out->n = malloc((w->n ? w->n : 1) * sizeof *out->n);
	if (!out->id || !out->off || !out->n)
		err = kvw_fail(d, KVW_ESYS, "out of memory for the block ids");
	size_t at = 0;
	for (size_t r = 0; r < w->n && !err; r++) {
		out->off[r] = at;
		int cap = total - at < KVW_CACHE_MAX_BLOCKS ? (int)(total - at) : KVW_CACHE_MAX_BLOCKS;
		out->n[r] = kvw_cache_keys(c, w, r, out->id + at, cap, NULL);
		if (out->n[r] == -2)
			err = kvw_fail(d, KVW_ESYS, "out of memory for the block ids");
		at += out->n[r] > 0 ? (size_t)out->n[r] : 0;
	}
	out->n_req = w->n;
	out->n_ids = c->n_ids;
	out->block_tokens = cfg->block_tokens;
	kvw_cache_free(c);
	if (err)
		kvw_cache_ids_free(out);
	return err;
}

void kvw_cache_ids_free(kvw_cache_ids *ids)
{
	if (!ids)
		return;
	free(ids->id);
	free(ids->off);
	free(ids->n);
	memset(ids, 0, sizeof *ids);
}

kvw_err kvw_cache_use_ids(kvw_cache *c, const kvw_cache_ids *ids, kvw_diag *d)
{
	if (!kvw_cache_adopt_ids(c, ids->n_ids))
		return kvw_fail(d, KVW_ESYS, "out of memory for the cache's block ids");
	return KVW_OK;
}

/* ids assigned elsewhere (kvw_cache_ids): the cache takes their count */
bool kvw_cache_adopt_ids(kvw_cache *c, size_t n_ids)
{
	c->n_ids = n_ids;
	c->id_bound = c->id_bound > n_ids ? c->id_bound : n_ids;
	while (c->pres.cap < n_ids)
		if (!grow_presence(c))
			return false;
	return true;
}

/* ---- construction ------------------------------------------------------- */

static int node_of_store(const kvw_cache *c, int tier, int idx)
{
	return tier == KVW_TIER_HBM ? idx / c->cfg.instances_per_node : tier == KVW_TIER_REMOTE ? 0 : idx;
}

static int store_index(const kvw_cache *c, int tier, int instance)
{
	return tier == KVW_TIER_HBM ? instance : tier == KVW_TIER_REMOTE ? 0 : instance / c->cfg.instances_per_node;
}

static int next_present(const kvw_cache *c, int tier)
{
	for (int t = tier + 1; t < KVW_TIERS; t++)
		if (c->n_stores[t] > 0)
			return t;
	return KVW_TIERS;
}

/* a block evicted from a store goes one tier down, if it is not there yet */
static void demote(void *ctx, uint64_t key)
{
	kvw_sink *k = ctx;
	kvw_cache *c = k->c;
	int below = next_present(c, k->tier);
	if (below == KVW_TIERS)
		return;
	int node = node_of_store(c, k->tier, k->idx), idx = below == KVW_TIER_REMOTE ? 0 : node;
	if (!kvw_presence_has(&c->pres, key, c->bit0[below] + idx)) {
		kvw_store *s = &c->stores[below][idx];
		s->ops->admit(s, key);
	}
}

static kvw_err check_cfg(const kvw_cache_cfg *g, kvw_diag *d)
{
	if (g->instances < 1 || g->instances_per_node < 1)
		return kvw_fail(d, KVW_EUSAGE, "the cache needs at least one instance and one instance per node");
	if (g->trace_block < 1 || g->block_tokens < 1)
		return kvw_fail(d, KVW_EUSAGE, "block sizes must be positive");
	if (!(g->trace_block % g->block_tokens == 0 || g->block_tokens % g->trace_block == 0))
		return kvw_fail(d, KVW_EUSAGE, "engine block of %ld tokens: it must divide the trace's %ld-token block "
		                "or be a multiple of it", g->block_tokens, g->trace_block);
	for (int t = 0; t < KVW_TIERS; t++) {
		const kvw_tier_cfg *tc = &g->tier[t];
		if (!(tc->capacity_bytes >= 0))
			return kvw_fail(d, KVW_EUSAGE, "%s tier: capacity must be >= 0 bytes", kvw_tier_name(t));
		if (tc->capacity_bytes > 0 && t != KVW_TIER_HBM && !(tc->link.bw > 0))
			return kvw_fail(d, KVW_EUSAGE, "%s tier: no bandwidth to load from it", kvw_tier_name(t));
		if (tc->capacity_bytes > 0 && !kvw_evict_find(tc->policy ? tc->policy : "lru"))
			return kvw_fail(d, KVW_EUSAGE, "%s tier: unknown eviction policy '%s'", kvw_tier_name(t), tc->policy);
	}
	return KVW_OK;
}

static kvw_err make_tier(kvw_cache *c, int t, long max_blocks, kvw_diag *d)
{
	const kvw_tier_cfg *tc = &c->cfg.tier[t];
	if (!(tc->capacity_bytes > 0))
		return KVW_OK;
	double blocks = floor(tc->capacity_bytes / c->block_bytes);
	if (blocks < 1)
		return kvw_fail(d, KVW_EUSAGE, "%s tier: %.4g bytes hold no block (one block of %ld tokens is %.4g bytes)",
		                kvw_tier_name(t), tc->capacity_bytes, c->cfg.block_tokens, c->block_bytes);
	c->tier_blocks[t] = blocks > 9e18 ? (long)9e18 : (long)blocks;
	long cap = c->tier_blocks[t];
	if (max_blocks > 0 && cap > max_blocks)
		cap = max_blocks;
	if (cap > (1L << 30))
		return kvw_fail(d, KVW_EUSAGE, "%s tier: %ld blocks per store is more than the simulator holds (2^30); "
		                "give a bound on the trace", kvw_tier_name(t), cap);
	int n = t == KVW_TIER_HBM ? c->cfg.instances : t == KVW_TIER_REMOTE ? 1 : c->nodes;
	c->stores[t] = calloc((size_t)n, sizeof *c->stores[t]);
	c->sinks[t] = calloc((size_t)n, sizeof *c->sinks[t]);
	c->busy[t] = calloc((size_t)n, sizeof *c->busy[t]);
	if (!c->stores[t] || !c->sinks[t] || !c->busy[t])
		return kvw_fail(d, KVW_ESYS, "out of memory");
	c->n_stores[t] = n;
	const kvw_evict_ops *ops = kvw_evict_find(tc->policy ? tc->policy : "lru");
	/* a store that may hold a good part of the ids is indexed by a dense array */
	bool dense = c->id_bound > 0 && (size_t)cap * 32 >= c->id_bound;
	for (int i = 0; i < n; i++) {
		kvw_store *s = &c->stores[t][i];
		if (!(dense ? kvw_store_init_dense(s, (int32_t)cap, ops, c->id_bound) : kvw_store_init(s, (int32_t)cap, ops)))
			return kvw_fail(d, KVW_ESYS, "out of memory for the %s tier (%ld blocks)", kvw_tier_name(t), cap);
		kvw_store_track(s, &c->pres, c->bit0[t] + i);
		c->sinks[t][i] = (kvw_sink){ c, t, i };
		c->stores[t][i].on_evict = demote;
		c->stores[t][i].ctx = &c->sinks[t][i];
	}
	return KVW_OK;
}

kvw_err kvw_cache_new(const kvw_cache_cfg *cfg, const kvw_scenario *sc, long max_blocks, kvw_cache **out,
                      kvw_diag *d)
{
	*out = NULL;
	kvw_err err = check_cfg(cfg, d);
	if (err)
		return err;
	kvw_cache *c = calloc(1, sizeof *c);
	if (!c)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	c->cfg = *cfg;
	c->sc = *sc;
	c->tp = sc->kv.tp > 0 ? sc->kv.tp : 1;
	c->bpt_gpu = kvw_kv_bytes_per_token(sc->arch, &sc->kv);
	c->block_bytes = c->bpt_gpu * (double)cfg->block_tokens * c->tp;
	c->nodes = (cfg->instances + cfg->instances_per_node - 1) / cfg->instances_per_node;
	c->id_bound = max_blocks > 0 ? (size_t)max_blocks : 0;
	for (int i = 0; i < KVW_CACHE_MEMO; i++)
		c->memo[i] = -1;
	c->bit0[KVW_TIER_HBM] = 0;
	c->bit0[KVW_TIER_DRAM] = cfg->instances;
	c->bit0[KVW_TIER_SSD] = cfg->instances + c->nodes;
	c->bit0[KVW_TIER_REMOTE] = cfg->instances + 2 * c->nodes;
	c->pres.words = (cfg->instances + 2 * c->nodes + 1 + 63) / 64;
	c->where = malloc(KVW_CACHE_MAX_BLOCKS);
	size_t dir0 = 4096; /* grows with the ids it gives (none when they come from a kvw_cache_ids) */
	if (!c->where || !kvw_u64map_init(&c->dir, dir0))
		err = kvw_fail(d, KVW_ESYS, "out of memory");
	for (int t = 0; t < KVW_TIERS && !err; t++)
		err = make_tier(c, t, max_blocks, d);
	if (err) {
		kvw_cache_free(c);
		return err;
	}
	for (int t = 0; t < KVW_TIERS; t++) /* nothing below: an evicted block just leaves */
		for (int i = 0; next_present(c, t) == KVW_TIERS && i < c->n_stores[t]; i++)
			c->stores[t][i].on_evict = NULL;
	*out = c;
	return KVW_OK;
}

void kvw_cache_free(kvw_cache *c)
{
	if (!c)
		return;
	for (int t = 0; t < KVW_TIERS; t++) {
		for (int i = 0; c->stores[t] && i < c->n_stores[t]; i++)
			kvw_store_free(&c->stores[t][i]);
		for (int i = 0; c->busy[t] && i < c->n_stores[t]; i++)
			free(c->busy[t][i].v);
		free(c->stores[t]);
		free(c->sinks[t]);
		free(c->busy[t]);
	}
	free(c->where);
	kvw_u64map_free(&c->dir);
	free(c->pres.bits);
	free(c);
}

double kvw_cache_block_bytes(const kvw_cache *c)
{
	return c->block_bytes;
}

long kvw_cache_tier_blocks(const kvw_cache *c, int tier)
{
	return tier >= 0 && tier < KVW_TIERS ? c->tier_blocks[tier] : 0;
}

const kvw_cache_cfg *kvw_cache_config(const kvw_cache *c)
{
	return &c->cfg;
}

/* ---- lookup and insertion ---------------------------------------------- */

/* one word of the presence table answers for every tier (when the stores fit in 64 bits) */
static int tier_of(const kvw_cache *c, int instance, uint64_t key)
{
	for (int t = 0; t < KVW_TIERS; t++)
		if (c->n_stores[t] > 0 && kvw_presence_has(&c->pres, key, c->bit0[t] + store_index(c, t, instance)))
			return t;
	return KVW_TIERS;
}

int kvw_cache_match(const kvw_cache *c, int instance, const uint64_t *keys, int n, int *hbm_lead,
                    int tier_blocks[KVW_TIERS])
{
	int j = 0, lead = 0;
	if (tier_blocks)
		memset(tier_blocks, 0, KVW_TIERS * sizeof *tier_blocks);
	for (; j < n; j++) {
		int t = tier_of(c, instance, keys[j]);
		if (t == KVW_TIERS)
			break;
		if (t == KVW_TIER_HBM && lead == j)
			lead++;
		if (tier_blocks)
			tier_blocks[t]++;
	}
	if (hbm_lead)
		*hbm_lead = lead;
	return j;
}

void kvw_cache_lookup(kvw_cache *c, int instance, const uint64_t *keys, int n, kvw_cache_hit *hit)
{
	memset(hit, 0, sizeof *hit);
	hit->instance = instance;
	hit->blocks = n < KVW_CACHE_MAX_BLOCKS ? n : KVW_CACHE_MAX_BLOCKS;
	hit->where = c->where;
	int j = 0;
	for (; j < hit->blocks; j++) {
		int t = tier_of(c, instance, keys[j]);
		if (t == KVW_TIERS)
			break;
		c->where[j] = (uint8_t)t;
		hit->tier_blocks[t]++;
		if (t == KVW_TIER_HBM && hit->hbm_lead == j)
			hit->hbm_lead++;
	}
	hit->prefix_blocks = j;
}

/* a computed block written to every tier below HBM */
static void write_through(kvw_cache *c, int instance, uint64_t key)
{
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++)
		if (c->n_stores[t] > 0)
			kvw_store_put(&c->stores[t][store_index(c, t, instance)], key);
}

void kvw_cache_insert(kvw_cache *c, int instance, const uint64_t *keys, int n, const kvw_cache_hit *hit)
{
	bool hbm = c->n_stores[KVW_TIER_HBM] > 0;
	for (int j = n - 1; j >= 0; j--) { /* tail first: the prompt's head ends up the most recent */
		int t = hit && j < hit->prefix_blocks ? hit->where[j] : KVW_TIERS;
		if (t < KVW_TIERS && t > KVW_TIER_HBM) /* a hit below HBM is an access there too */
			kvw_store_touch(&c->stores[t][store_index(c, t, instance)], keys[j]);
		if (hbm)
			kvw_store_put(&c->stores[KVW_TIER_HBM][instance], keys[j]);
		if (t == KVW_TIERS && (c->cfg.write_through || !hbm))
			write_through(c, instance, keys[j]);
	}
}

/* ---- loads sharing a store's bandwidth ----------------------------------- */

double kvw_cache_gpu_bw(const kvw_cache *c, int tier, int instance, double t)
{
	const kvw_tier_cfg *tc = &c->cfg.tier[tier];
	const kvw_busy *b = &c->busy[tier][store_index(c, tier, instance)];
	if (!(tc->shared_bw > 0))
		return tc->link.bw;
	double gpus = c->tp;
	for (int i = 0; i < b->n; i++)
		if (b->v[i].start <= t && t < b->v[i].end)
			gpus += b->v[i].gpus;
	double share = tc->shared_bw / gpus;
	return share < tc->link.bw ? share : tc->link.bw;
}

static void add_load(kvw_busy *b, double start, double end, int gpus)
{
	if (b->n == b->cap) {
		int cap = b->cap ? 2 * b->cap : 16;
		kvw_load *v = realloc(b->v, (size_t)cap * sizeof *v);
		if (!v)
			return; /* out of memory: the load is not counted against later ones */
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = (kvw_load){ start, end, gpus };
}

void kvw_cache_commit(kvw_cache *c, const kvw_cache_hit *hit, const kvw_cache_price_t *p)
{
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++)
		if (c->n_stores[t] > 0 && p->reg_end[t] > p->reg_start)
			add_load(&c->busy[t][store_index(c, t, hit->instance)], p->reg_start, p->reg_end[t], c->tp);
}

void kvw_cache_advance(kvw_cache *c, double t)
{
	for (int tier = 0; tier < KVW_TIERS; tier++)
		for (int i = 0; c->busy[tier] && i < c->n_stores[tier]; i++) {
			kvw_busy *b = &c->busy[tier][i];
			int k = 0;
			for (int j = 0; j < b->n; j++)
				if (b->v[j].end >= t)
					b->v[k++] = b->v[j];
			b->n = k;
		}
}

void kvw_cache_hbm_room(kvw_cache *c, int instance, long blocks)
{
	if (c->n_stores[KVW_TIER_HBM] == 0 || instance < 0 || instance >= c->n_stores[KVW_TIER_HBM])
		return;
	kvw_store_limit(&c->stores[KVW_TIER_HBM][instance], blocks > INT32_MAX ? INT32_MAX : (int32_t)blocks);
}

long kvw_cache_hbm_held(const kvw_cache *c, int instance)
{
	if (c->n_stores[KVW_TIER_HBM] == 0 || instance < 0 || instance >= c->n_stores[KVW_TIER_HBM])
		return 0;
	return c->stores[KVW_TIER_HBM][instance].used;
}

long kvw_cache_tier_evictions(const kvw_cache *c, int tier)
{
	return tier >= 0 && tier < KVW_TIERS ? kvw_cache_evictions(c, tier) : 0;
}

long kvw_cache_evictions(const kvw_cache *c, int tier)
{
	long n = 0;
	for (int i = 0; i < c->n_stores[tier]; i++)
		n += c->stores[tier][i].evictions;
	return n;
}
