/* kvw_cache.h — a tiered prefix cache of KV blocks (the Mooncake / LMCache
 * pool), replayed over a workload trace.  Pure C, no I/O; all state of one
 * cache lives in one kvw_cache, so simulations run side by side.
 *
 * Tiers, fastest first, each a set of stores with its own capacity and
 * eviction policy (kvw_evict.h):
 *   HBM     one store per prefill instance (the engine's own prefix cache,
 *           vLLM's automatic prefix caching): a hit costs no load;
 *   DRAM    one store per node (LMCache's local CPU backend, Mooncake's
 *           DRAM pool);
 *   SSD     one store per node (LMCache's local disk backend);
 *   REMOTE  one store for the whole cluster (Mooncake Store / LMCache
 *           remote: other nodes' memory over the network).
 * Capacities are bytes of KV; a block of b tokens on one instance of TP t
 * takes kvw_kv_bytes_per_token(arch, kv) x b x t (each GPU holds its shard;
 * MLA's replicated latent counts t times), so the same bytes hold fewer
 * blocks of a bigger model.  Instance i sits on node i / instances_per_node.
 *
 * Blocks and re-chunking.  A Mooncake trace names every 512-token block of
 * a prompt by a hash of the block and everything before it, so equal ids
 * mean equal prefixes.  The engine caches blocks of block_tokens tokens
 * and, as vLLM does, only full ones.  When block_tokens divides 512, trace
 * block i (t_i tokens, 512 except perhaps the last) becomes floor(t_i / b)
 * engine blocks keyed mix(hash_i, j); when it is a multiple m of 512,
 * engine block k is trace blocks km .. km+m-1, all full, keyed by the last
 * one's hash (which already covers the whole prefix).  A sub-block of a
 * trace block can match only when the whole trace block matched (the trace
 * hides which tokens two different blocks share), so a smaller engine
 * block finds at most the same prefix plus the full sub-blocks of a
 * matching partial last block.  Other block sizes are refused.  A request
 * without hashes is refused, or with unique_without_hashes gets keys no
 * other request has (it never hits).
 *
 * One request's life (and the hook for a cluster simulator such as
 * `kvwall plan`, which calls the same four functions per request):
 *   n = kvw_cache_keys(c, w, r, keys, cap, &full_tokens)  re-chunked keys
 *   kvw_cache_lookup(c, inst, keys, n, &hit)   at arrival / before scheduling:
 *        the cached prefix as instance inst sees it — per block the first
 *        tier holding it (its HBM, its node's DRAM then SSD, the remote
 *        pool), stopping at the first block held nowhere
 *   kvw_cache_price(c, &hit, L, load_start, now, &p)  before the prefill:
 *        loads from every tier below HBM start at load_start (arrival when
 *        prefetching, else now) at the tier's bandwidth shared with the
 *        loads already running on the same store; at `now` the cheapest of
 *        waiting for them (load), recomputing the prefix (recompute), or
 *        recomputing its front while the back loads (split, the Cake idea,
 *        physics kvw_split_time with each tier's alpha and share of
 *        bandwidth) gives the exposed time p.prefix_s and how many tokens
 *        the prefill still computes (p.compute_tokens, >= 1)
 *   kvw_cache_commit(c, &hit, &p)  the plan's loads take their share of the
 *        tiers' bandwidth (call once per priced plan that is carried out)
 *   kvw_cache_insert(c, inst, keys, n, &hit)   after the prefill: every
 *        block is in inst's HBM (hits promoted, copies below kept); a
 *        block HBM evicts is demoted to the next tier present (DRAM, SSD,
 *        remote), and so on down; with write_through every computed block
 *        is also written to DRAM, SSD and the remote pool (LMCache's
 *        store-on-prefill); a demoted block already present stays as it is.
 * Blocks are touched in reverse prompt order so that a prompt's head is
 * the most recent and its tail is evicted first (as vLLM frees a request's
 * blocks): evicting a head would orphan the blocks after it.
 */
#ifndef KVW_CACHE_H
#define KVW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvw_err.h"
#include "kvw_evict.h"
#include "kvw_model.h"
#include "kvw_workload.h"

typedef enum kvw_tier { KVW_TIER_HBM, KVW_TIER_DRAM, KVW_TIER_SSD, KVW_TIER_REMOTE, KVW_TIERS } kvw_tier;

/* "hbm", "dram", "ssd", "remote" */
const char *kvw_tier_name(int tier);

typedef struct kvw_tier_cfg {
	double capacity_bytes; /* of one store; 0: the tier is absent; INFINITY: unbounded */
	kvw_link link;         /* one GPU reading from the tier: alpha per load, bytes/s (HBM: unused) */
	double shared_bw;      /* bytes/s one store serves to all its readers together; 0: no
	                          limit beyond each GPU's link */
	const char *policy;    /* eviction policy name (kvw_evict_find); NULL: "lru" */
} kvw_tier_cfg;

typedef struct kvw_cache_cfg {
	kvw_tier_cfg tier[KVW_TIERS];
	int instances;          /* prefill instances, >= 1 */
	int instances_per_node; /* >= 1 */
	long block_tokens;      /* the engine's block; divides trace_block or a multiple of it */
	long trace_block;       /* tokens per trace hash (the workload's hash_block) */
	bool write_through;     /* computed blocks also go to every lower tier */
	bool unique_without_hashes; /* requests without hashes never hit, instead of an error */
} kvw_cache_cfg;

/* A request's cached prefix as one instance sees it. */
#define KVW_CACHE_MAX_BLOCKS 65536
typedef struct kvw_cache_hit {
	int instance;
	int blocks;               /* the request's full engine blocks (its keys) */
	int prefix_blocks;        /* leading blocks held somewhere */
	int hbm_lead;             /* leading blocks in the instance's own HBM */
	int tier_blocks[KVW_TIERS]; /* of the prefix, where each block was found */
	uint8_t *where;           /* per prefix block its tier (points into the cache; valid
	                             until the next lookup) */
} kvw_cache_hit;

typedef enum kvw_cache_choice { KVW_CHOICE_NONE, KVW_CHOICE_LOAD, KVW_CHOICE_RECOMPUTE, KVW_CHOICE_SPLIT } kvw_cache_choice;
const char *kvw_cache_choice_name(kvw_cache_choice c);

typedef struct kvw_cache_price_t {
	kvw_cache_choice choice;  /* for the prefix blocks below HBM; NONE when there are none */
	long cached_tokens;       /* prefix tokens found (blocks x block_tokens) */
	long used_tokens;         /* of those, loaded or already in HBM (not recomputed) */
	long compute_tokens;      /* tokens the prefill computes: L - used, at least 1 */
	long split_tokens;        /* front tokens of the part below HBM recomputed (split) */
	double load_s;            /* the loads of every tier below HBM, from load_start, until the
	                             slowest ends (bandwidth shared with running loads) */
	double hidden_s;          /* of that, the part before `now` (prefetch while queued) */
	double prefix_s;          /* from `now` until the whole prefix's KV is in HBM */
	double suffix_s;          /* compute of the tokens after the prefix */
	double prefill_s;         /* prefix_s + suffix_s + the fixed prefill overhead */
	/* the loads commit() registers: [reg_start, reg_end[t]) per tier (0: none) */
	double reg_start, reg_end[KVW_TIERS];
	double used_tier_tokens[KVW_TIERS]; /* used tokens by the tier they came from */
} kvw_cache_price_t;

typedef struct kvw_cache kvw_cache;

/* A cache for cfg over the physics of sc (KV bytes, recompute times).
 * max_blocks bounds any store's size (the trace's total of blocks: a store
 * never needs more, and the cache gives at most that many ids); 0: none.
 * Errors name the field (KVW_EUSAGE). */
kvw_err kvw_cache_new(const kvw_cache_cfg *cfg, const kvw_scenario *sc, long max_blocks, kvw_cache **out,
                      kvw_diag *d);
void kvw_cache_free(kvw_cache *c); /* accepts NULL */

/* KV bytes of one engine block on one instance, and blocks one store of
 * the tier holds (0 when absent). */
double kvw_cache_block_bytes(const kvw_cache *c);
long kvw_cache_tier_blocks(const kvw_cache *c, int tier);
const kvw_cache_cfg *kvw_cache_config(const kvw_cache *c);

/* The engine blocks of request r as the cache's block ids (at most cap;
 * an id is given to each distinct re-chunked hash at first sight);
 * *full_tokens: tokens they cover.  Returns the count, -1 when the request
 * has no hashes and the configuration refuses that, -2 when the ids would
 * pass the bound given to kvw_cache_new (or memory is short). */
int kvw_cache_keys(kvw_cache *c, const kvw_workload *w, size_t r, uint64_t *keys, int cap, long *full_tokens);
/* Distinct blocks seen so far. */
size_t kvw_cache_distinct(const kvw_cache *c);

/* The HBM tier as an engine's free KV pool (vLLM's automatic prefix
 * caching and SGLang's radix cache keep cached blocks in the memory no
 * running request holds, and evict them LRU when a request needs it):
 * instance's HBM store may hold at most `blocks` from now on (at most what
 * it was built with); the blocks beyond are evicted at once and demoted as
 * any eviction is.  No effect when the tier is absent. */
void kvw_cache_hbm_room(kvw_cache *c, int instance, long blocks);
/* Blocks instance's HBM store holds now (0 when the tier is absent). */
long kvw_cache_hbm_held(const kvw_cache *c, int instance);
/* Evictions so far from the stores of a tier. */
long kvw_cache_tier_evictions(const kvw_cache *c, int tier);

void kvw_cache_lookup(kvw_cache *c, int instance, const uint64_t *keys, int n, kvw_cache_hit *hit);
/* Leading blocks of keys held by instance's HBM, its node's DRAM/SSD or the
 * remote pool (no state changes): for cache-aware routing. */
int kvw_cache_match(const kvw_cache *c, int instance, const uint64_t *keys, int n, int *hbm_lead,
                    int tier_blocks[KVW_TIERS]);

void kvw_cache_price(kvw_cache *c, const kvw_cache_hit *hit, long input_tokens, double load_start, double now,
                     kvw_cache_price_t *p);
void kvw_cache_commit(kvw_cache *c, const kvw_cache_hit *hit, const kvw_cache_price_t *p);
/* The caller will price nothing with load_start before t again: loads that
 * ended before t are forgotten (keeps the bandwidth bookkeeping short). */
void kvw_cache_advance(kvw_cache *c, double t);
void kvw_cache_insert(kvw_cache *c, int instance, const uint64_t *keys, int n, const kvw_cache_hit *hit);

/* The physics used: recompute time of tokens [a, b) of a prompt without the
 * fixed prefill overhead (its FLOPs after a tokens of prefix), and the
 * fixed overhead. */
double kvw_cache_compute_s(const kvw_cache *c, double a, double b);
double kvw_cache_overhead_s(const kvw_cache *c);
/* The scenario a load from tier t at per-GPU bandwidth bw uses (link = the
 * tier's alpha and bw, bulk), and that load's time for `tokens` tokens:
 * kvw_transfer_s of that scenario (alpha + KV bytes per GPU / bw),
 * computed without copying the scenario. */
kvw_scenario kvw_cache_tier_scenario(const kvw_cache *c, int tier, double bw);
double kvw_cache_load_s(const kvw_cache *c, int tier, double bw, double tokens);

/* ---- routing: where a request lands (cache_route.c) --------------------- */

typedef struct kvw_router {
	const char *name;
	const char *summary;
	/* the instance for a request arriving at `now`; free_at[i]: when
	 * instance i's queue drains */
	int (*pick)(kvw_cache *c, const uint64_t *keys, int n, long input_tokens, double now, const double *free_at,
	            long seq);
} kvw_router;

/* The prefix-aware router's estimate for one instance: the time from the
 * start of a prefill of L tokens with these keys on that instance to its
 * end (the slowest lower tier's load at its link speed or recomputing
 * that part, whichever is less, then the rest computed), without queue
 * or contention, as Mooncake's Conductor estimates it. */
double kvw_cache_estimate(const kvw_cache *c, int instance, const uint64_t *keys, int n, long L);
/* The same for instances first .. first + count - 1 at once (one pass over
 * the blocks): out[k] for instance first + k.  Returns the most leading
 * blocks any of them holds (0: none finds anything cached). */
int kvw_cache_estimate_range(const kvw_cache *c, int first, int count, const uint64_t *keys, int n, long L,
                             double *out);

const kvw_router *kvw_router_find(const char *name);
int kvw_router_count(void);
const kvw_router *kvw_router_at(int i);

/* ---- the replay: prefill-only instances serving FCFS (cache_replay.c) --- */

/* Timing model of kvw_cache_replay: every instance is a prefill-only
 * engine serving one prefill at a time, first come first served (no
 * batching of prefills, no chunking, no decode; the disaggregated prefill
 * side of Mooncake).  A request is routed on arrival; its cache lookup and
 * its insertion happen then, in arrival order (as Mooncake's Figure 9
 * replay: hit rates depend on the order of requests only, not on timing);
 * with prefetch its loads start at arrival, else when its prefill starts.
 * Its prefill starts when the instance is free, takes prefix_s + the
 * compute of the tokens it computes (physics recompute times at the TP of
 * the scenario, fixed overhead once), and TTFT = prefill end - arrival. */
/* The block ids of every request of a workload, computed once for many
 * replays of the same block size (a capacity curve): request r's ids are
 * id[off[r] .. off[r] + n[r]). */
typedef struct kvw_cache_ids {
	uint64_t *id;
	size_t *off;
	int *n;       /* -1: the request has no hashes (refused unless unique_without_hashes) */
	size_t n_req, n_ids;
	long block_tokens;
} kvw_cache_ids;

kvw_err kvw_cache_ids_build(const kvw_cache_cfg *cfg, const kvw_scenario *sc, const kvw_workload *w,
                            kvw_cache_ids *out, kvw_diag *d);
void kvw_cache_ids_free(kvw_cache_ids *ids); /* accepts a zeroed one */
/* A cache built with max_blocks = ids->n_ids takes its keys from ids
 * (request r's are ids->id + ids->off[r]) instead of kvw_cache_keys;
 * KVW_ESYS when memory runs out. */
kvw_err kvw_cache_use_ids(kvw_cache *c, const kvw_cache_ids *ids, kvw_diag *d);

typedef struct kvw_replay_cfg {
	const char *route;       /* kvw_router name; NULL: "round-robin" */
	bool prefetch;           /* loads start while the request waits */
	const kvw_cache_ids *ids; /* the workload's ids at the configuration's block size, or NULL */
} kvw_replay_cfg;

typedef struct kvw_cache_stats {
	long requests;
	double input_tokens;              /* sum of prompt lengths */
	double blocks;                    /* sum of full engine blocks */
	double hit_blocks[KVW_TIERS];     /* prefix blocks found, by tier */
	double hit_tokens[KVW_TIERS];
	double used_tokens[KVW_TIERS];    /* hit tokens loaded (or in HBM) rather than recomputed */
	double computed_tokens;           /* tokens the prefills computed */
	long choice[4];                   /* requests by choice (kvw_cache_choice) */
	long tier_choice[KVW_TIERS][4];   /* requests with hits in a tier, by the choice made */
	long hit_requests;                /* requests with a cached prefix */
	double load_s, hidden_s;          /* sum of load times of load and split decisions, and the part that ran while queued */
	double exposed_load_s;            /* sum of the waits for loads (choice load) after the prefill could start */
	double suffix_s;                  /* sum of the compute after the prefixes */
	double gpu_s;                     /* sum of (prefill end - start) x TP */
	double nocache_gpu_s;             /* sum of the full prefills' compute x TP */
	double ttft_p50, ttft_p90, ttft_p99, ttft_mean; /* from the sorted sample of every request */
	double makespan_s;                /* last prefill end */
	long evictions[KVW_TIERS];
} kvw_cache_stats;

/* Token and block hit rates: of the prompt tokens (blocks), the part found
 * in tier t, or in any tier when t < 0. */
double kvw_cache_token_hit_rate(const kvw_cache_stats *s, int tier);
double kvw_cache_block_hit_rate(const kvw_cache_stats *s, int tier);

/* Replays w through a new cache built from cfg; errors as kvw_cache_new,
 * and KVW_EINPUT when a request lacks hashes (unless unique_without_hashes). */
kvw_err kvw_cache_replay(const kvw_cache_cfg *cfg, const kvw_replay_cfg *rc, const kvw_scenario *sc,
                         const kvw_workload *w, kvw_cache_stats *out, kvw_diag *d);

#endif
