/* cache_impl.h — the inside of a kvw_cache, shared by the cache's own
 * files (cache.c, cache_price.c, cache_route.c, cache_replay.c) and by no
 * one else. */
#ifndef KVW_CACHE_IMPL_H
#define KVW_CACHE_IMPL_H

#include "kvw_cache.h"

#define KVW_CACHE_MEMO 4096

typedef struct kvw_load {
	double start, end;
	int gpus;
} kvw_load;

/* the loads running on one store */
typedef struct kvw_busy {
	kvw_load *v;
	int n, cap;
} kvw_busy;

typedef struct kvw_sink {
	struct kvw_cache *c;
	int tier, idx;
} kvw_sink;

struct kvw_cache {
	kvw_cache_cfg cfg;
	kvw_scenario sc;  /* sc.arch is the caller's: it must outlive the cache */
	int tp;
	double bpt_gpu;   /* KV bytes per token on one GPU */
	double block_bytes;
	int nodes;
	int n_stores[KVW_TIERS];
	long tier_blocks[KVW_TIERS];
	kvw_store *stores[KVW_TIERS];
	kvw_sink *sinks[KVW_TIERS];
	kvw_busy *busy[KVW_TIERS];
	uint8_t *where; /* lookup's per-block tiers */
	/* block ids: trace-derived key -> dense id; presence of each id per store */
	kvw_u64map dir;
	size_t n_ids, id_bound; /* id_bound: most ids allowed (0: grow without bound) */
	kvw_presence pres;
	int bit0[KVW_TIERS];    /* presence bit of the tier's store 0 */
	/* recompute time (no overhead) of j blocks, j < KVW_CACHE_MEMO; < 0: not yet */
	double memo[KVW_CACHE_MEMO];
};

/* bytes/s one GPU of instance gets from tier when a load starts at t */
double kvw_cache_gpu_bw(const kvw_cache *c, int tier, int instance, double t);
long kvw_cache_evictions(const kvw_cache *c, int tier);
/* ids 0 .. n_ids-1 were given by a kvw_cache_ids; false: out of memory */
bool kvw_cache_adopt_ids(kvw_cache *c, size_t n_ids);

#endif
