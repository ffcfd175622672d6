/* sim_cache.c — the tiered prefix cache as the simulation's prefix hook
 * (kvw_prefix_tiered, kvw_sim_cache.h): one kvw_cache per simulation over
 * its prefilling instances, the HBM store of each sized to the free KV of
 * its instance at every call, a request's lookup kept from its placement
 * to its pricing, and the loads' bandwidth bookkeeping trimmed as time
 * moves on.
 */
#include "kvw_sim_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a request's cached prefix as found at placement, until it is priced */
enum { NOT_YET, LOOKED_UP, PRICED, PASSED_BY };

typedef struct pending {
	double arrival;
	int32_t inst, blocks, prefix_blocks, hbm_lead;
	int32_t tier_blocks[KVW_TIERS];
	uint32_t where_off;
	uint8_t state; /* NOT_YET, LOOKED_UP, PRICED, or PASSED_BY (placed where no cache is) */
} pending;

typedef struct sim_cache {
	kvw_cache *c;
	const kvw_workload *w;
	kvw_cache_ids own;        /* when the configuration gave none */
	const kvw_cache_ids *ids;
	bool prefetch, prefix_aware;
	int n_inst;               /* the cache's instances: sim instances 0 .. n_inst-1 */
	long block_tokens;
	double kv_tokens;         /* KV capacity of one instance, tokens */
	long hbm_cap_blocks;      /* the HBM store's size when the pool is all free */
	pending *req;
	uint8_t *where;           /* per request its prefix blocks' tiers, at req[r].where_off */
	size_t n_req;
	size_t seen;              /* requests before this one have arrived */
	size_t oldest;            /* no request before it still waits to be priced */
	double mem_peak;
	double est[KVW_SIM_MAX_INST]; /* placement: the estimate per instance of a group */
} sim_cache;

/* ---- set-up ------------------------------------------------------------- */

/* the instances that prefill: every one outside a decode group (they come first) */
static int cache_instances(const kvw_deploy *dep, int *tp, kvw_diag *d)
{
	int n = 0;
	*tp = 0;
	for (int g = 0; g < dep->n_groups; g++) {
		if (dep->g[g].role == KVW_ROLE_DECODE)
			continue;
		if (*tp && dep->g[g].tp != *tp)
			return kvw_fail(d, KVW_EUSAGE, "the prefix cache needs one TP for all prefilling instances "
			                "(%d and %d here)", *tp, dep->g[g].tp), -1;
		*tp = dep->g[g].tp;
		n += dep->g[g].count;
	}
	return n;
}

static kvw_err check_ids(const sim_cache *sc, const kvw_workload *w, size_t n, kvw_diag *d)
{
	if (sc->ids->n_req < n || sc->ids->block_tokens != sc->block_tokens)
		return kvw_fail(d, KVW_EUSAGE, "the block ids given are for another workload or block size");
	for (size_t r = 0; r < n; r++)
		if (sc->ids->n[r] < 0)
			return kvw_fail(d, KVW_EINPUT, "%s: request %zu has no hash_ids: the prefix cache needs the trace's "
			                "block hashes (Mooncake traces carry them); --unique-without-hashes treats such "
			                "requests as never shared", w->name, r + 1);
	return KVW_OK;
}

/* the cache's configuration for this deployment: its instances, nodes and HBM pool */
static kvw_cache_cfg deployment_cfg(const kvw_sim_cache_cfg *g, const kvw_cluster *c, sim_cache *sc, int tp,
                                    double bytes_per_token)
{
	kvw_cache_cfg cfg = g->cache;
	cfg.instances = sc->n_inst;
	cfg.instances_per_node = c->gpus_per_node / tp > 0 ? c->gpus_per_node / tp : 1;
	double pool = floor(sc->kv_tokens / (double)sc->block_tokens) * (double)sc->block_tokens * bytes_per_token;
	double hbm = cfg.tier[KVW_TIER_HBM].capacity_bytes;
	cfg.tier[KVW_TIER_HBM].capacity_bytes = hbm > 0 ? fmin(hbm, pool) : 0;
	return cfg;
}

static void sc_close(void *st);

static kvw_err sc_open(const void *cfgp, const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w,
                       size_t n, void **st, kvw_diag *d)
{
	const kvw_sim_cache_cfg *g = cfgp;
	*st = NULL;
	int tp;
	int n_inst = cache_instances(dep, &tp, d);
	if (n_inst < 0)
		return KVW_EUSAGE;
	sim_cache *sc = calloc(1, sizeof *sc);
	if (!sc)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	*st = sc;
	sc->n_inst = n_inst;
	sc->n_req = n;
	sc->w = w;
	sc->prefetch = g->prefetch;
	sc->prefix_aware = g->prefix_aware;
	sc->block_tokens = g->cache.block_tokens;
	sc->kv_tokens = kvw_sim_kv_tokens(c, tp);
	kvw_scenario s = *c->sc;
	s.kv.tp = tp;
	double bpt = kvw_kv_bytes_per_token(s.arch, &s.kv) * tp; /* one instance's bytes per token */
	kvw_cache_cfg cfg = deployment_cfg(g, c, sc, tp, bpt);
	kvw_err err = KVW_OK;
	sc->ids = g->ids;
	if (!sc->ids) {
		err = kvw_cache_ids_build(&cfg, &s, w, &sc->own, d);
		sc->ids = &sc->own;
	}
	if (!err)
		err = check_ids(sc, w, n, d);
	if (!err)
		err = kvw_cache_new(&cfg, &s, (long)(sc->ids->n_ids > 0 ? sc->ids->n_ids : 1), &sc->c, d);
	if (!err)
		err = kvw_cache_use_ids(sc->c, sc->ids, d);
	size_t blocks = 0;
	for (size_t r = 0; !err && r < n; r++)
		blocks += (size_t)sc->ids->n[r];
	sc->req = calloc(n ? n : 1, sizeof *sc->req);
	sc->where = malloc(blocks ? blocks : 1);
	if (!err && (!sc->req || !sc->where || blocks > UINT32_MAX))
		err = kvw_fail(d, KVW_ESYS, "out of memory for the prefix cache of %zu requests", n);
	for (size_t r = 0, at = 0; !err && r < n; at += (size_t)sc->ids->n[r], r++)
		sc->req[r].where_off = (uint32_t)at;
	sc->hbm_cap_blocks = sc->c ? kvw_cache_tier_blocks(sc->c, KVW_TIER_HBM) : 0;
	if (err) {
		sc_close(sc);
		*st = NULL;
	}
	return err;
}

static void sc_close(void *st)
{
	sim_cache *sc = st;
	if (!sc)
		return;
	kvw_cache_free(sc->c);
	kvw_cache_ids_free(&sc->own);
	free(sc->req);
	free(sc->where);
	free(sc);
}

/* ---- the HBM pool ---------------------------------------------------------- */

/* instance's HBM store may hold what no request holds now */
static void fit_pool(sim_cache *sc, int inst, double free_tokens)
{
	double room = floor(fmax(free_tokens, 0) / (double)sc->block_tokens);
	kvw_cache_hbm_room(sc->c, inst, room < (double)sc->hbm_cap_blocks ? (long)room : sc->hbm_cap_blocks);
	double held = (double)kvw_cache_hbm_held(sc->c, inst) * (double)sc->block_tokens;
	double peak = sc->kv_tokens > 0 ? (sc->kv_tokens - free_tokens + held) / sc->kv_tokens : 0;
	sc->mem_peak = fmax(sc->mem_peak, peak);
}

static const uint64_t *keys_of(const sim_cache *sc, size_t r, int *n)
{
	*n = sc->ids->n[r];
	return sc->ids->id + sc->ids->off[r];
}

/* ---- the hook's calls --------------------------------------------------------- */

/* Mooncake's Conductor within the group: the least queued prefill plus the
 * estimated prefill of this prompt there with what it finds cached */
static int sc_place(void *st, size_t r, int inst, int first, int count, const double *backlog_s)
{
	sim_cache *sc = st;
	if (!sc->prefix_aware || inst >= sc->n_inst)
		return inst;
	int n, m = first + count < sc->n_inst ? count : sc->n_inst - first;
	const uint64_t *keys = keys_of(sc, r, &n);
	if (m > (int)(sizeof sc->est / sizeof sc->est[0]))
		m = (int)(sizeof sc->est / sizeof sc->est[0]);
	if (kvw_cache_estimate_range(sc->c, first, m, keys, n, sc->w->req[r].input_tokens, sc->est) == 0)
		return inst; /* nothing cached anywhere: the deployment's own choice stands */
	int best = inst;
	double best_t = INFINITY;
	for (int k = 0; k < m; k++) {
		double t = backlog_s[first + k] + sc->est[k];
		if (t < best_t) {
			best_t = t;
			best = first + k;
		}
	}
	return best;
}

/* requests that arrived before r without a lookup were placed where no cache is */
static void pass_by(sim_cache *sc, size_t r)
{
	for (; sc->seen < r && sc->seen < sc->n_req; sc->seen++)
		if (sc->req[sc->seen].state == NOT_YET)
			sc->req[sc->seen].state = PASSED_BY;
	sc->seen = r + 1 > sc->seen ? r + 1 : sc->seen;
}

static long sc_lookup(void *st, size_t r, int inst, double now, double free_tokens)
{
	sim_cache *sc = st;
	if (inst >= sc->n_inst || r >= sc->n_req)
		return 0;
	pass_by(sc, r);
	fit_pool(sc, inst, free_tokens);
	int n;
	const uint64_t *keys = keys_of(sc, r, &n);
	kvw_cache_hit hit;
	kvw_cache_lookup(sc->c, inst, keys, n, &hit);
	pending *p = &sc->req[r];
	p->arrival = now;
	p->inst = inst;
	p->blocks = hit.blocks;
	p->prefix_blocks = hit.prefix_blocks;
	p->hbm_lead = hit.hbm_lead;
	for (int t = 0; t < KVW_TIERS; t++)
		p->tier_blocks[t] = hit.tier_blocks[t];
	memcpy(sc->where + p->where_off, hit.where, (size_t)hit.prefix_blocks);
	p->state = LOOKED_UP;
	return (long)hit.prefix_blocks * sc->block_tokens;
}

static kvw_cache_hit hit_of(const sim_cache *sc, size_t r)
{
	const pending *p = &sc->req[r];
	kvw_cache_hit hit = { .instance = p->inst, .blocks = p->blocks, .prefix_blocks = p->prefix_blocks,
		                  .hbm_lead = p->hbm_lead, .where = sc->where + p->where_off };
	for (int t = 0; t < KVW_TIERS; t++)
		hit.tier_blocks[t] = p->tier_blocks[t];
	return hit;
}

/* no load will be priced from before the earliest start still to come: with
 * prefetch the arrival of the oldest request waiting to be priced, else now */
static void forget_old_loads(sim_cache *sc, double now)
{
	while (sc->oldest < sc->n_req && (sc->req[sc->oldest].state == PRICED || sc->req[sc->oldest].state == PASSED_BY))
		sc->oldest++;
	double t = now;
	if (sc->prefetch && sc->oldest < sc->n_req && sc->req[sc->oldest].state == LOOKED_UP)
		t = fmin(t, sc->req[sc->oldest].arrival);
	kvw_cache_advance(sc->c, t);
}

static void sc_price(void *st, size_t r, int inst, double arrival, double now, double free_tokens,
                     kvw_prefix_use *u)
{
	sim_cache *sc = st;
	memset(u, 0, sizeof *u);
	if (inst >= sc->n_inst || r >= sc->n_req || sc->req[r].state != LOOKED_UP || sc->req[r].inst != inst)
		return;
	(void)free_tokens; /* pricing reads the hit kept from the lookup, not the HBM store */
	forget_old_loads(sc, now);
	kvw_cache_hit hit = hit_of(sc, r);
	kvw_cache_price_t p;
	kvw_cache_price(sc->c, &hit, sc->w->req[r].input_tokens, sc->prefetch ? arrival : now, now, &p);
	kvw_cache_commit(sc->c, &hit, &p);
	sc->req[r].state = PRICED;
	double h = (double)hit.hbm_lead * (double)sc->block_tokens;
	double front = kvw_cache_compute_s(sc->c, h, h + (double)p.split_tokens); /* recomputed while the back loads */
	u->hit_tokens = p.cached_tokens;
	u->used_tokens = p.used_tokens;
	u->wait_s = fmax(0, p.prefix_s - front);
	bool loaded = p.choice != KVW_CHOICE_RECOMPUTE; /* a prefetch whose blocks were not used is no load */
	u->load_s = loaded ? p.load_s : 0;
	u->hidden_s = loaded ? p.hidden_s : 0;
	u->choice = (int)p.choice;
}

static void sc_insert(void *st, size_t r, int inst, double now, double free_tokens)
{
	sim_cache *sc = st;
	(void)now;
	if (inst >= sc->n_inst || r >= sc->n_req || sc->req[r].state != PRICED)
		return;
	fit_pool(sc, inst, free_tokens);
	int n;
	const uint64_t *keys = keys_of(sc, r, &n);
	kvw_cache_hit hit = hit_of(sc, r);
	kvw_cache_insert(sc->c, inst, keys, n, &hit);
}

static void sc_finish(void *st, kvw_sim_result *res)
{
	sim_cache *sc = st;
	for (int t = 0; t < KVW_TIERS; t++)
		res->prefix_evictions[t] = kvw_cache_tier_evictions(sc->c, t);
	res->prefix_mem_peak = sc->mem_peak;
}

const kvw_prefix_ops kvw_prefix_tiered = {
	.name = "tiered",
	.open = sc_open,
	.close = sc_close,
	.place = sc_place,
	.lookup = sc_lookup,
	.price = sc_price,
	.insert = sc_insert,
	.finish = sc_finish,
};
