/* cache_study.h — the replays behind `kvwall cache`: the configuration
 * given, the tier configurations it contains, capacity curves of each
 * tier for each eviction policy, the size at which a tier reaches 90% of
 * what it can serve, and the winner.  All times and hit rates come from
 * kvw_cache_replay (model/sim/kvw_cache.h); this file only chooses which
 * replays to run and reads their results.
 */
#ifndef KVW_CACHE_STUDY_H
#define KVW_CACHE_STUDY_H

#include "kvw_cache.h"

#define KVW_STUDY_MAX_POLICIES 4
#define KVW_STUDY_MAX_CFGS (1 + KVW_TIERS * KVW_STUDY_MAX_POLICIES)

typedef struct kvw_study_cfg {
	char label[48];      /* "none", "hbm", "hbm+dram", ... */
	int policy;          /* index into policies[], -1 for none */
	unsigned tiers;      /* bit t: tier t present */
	kvw_cache_stats st;
} kvw_study_cfg;

typedef struct kvw_study_point {
	int tier, policy;
	double capacity_bytes;
	kvw_cache_stats st;
} kvw_study_point;

typedef struct kvw_cache_study {
	/* in */
	kvw_cache_cfg base;        /* the tiers given (capacity 0: absent) */
	kvw_replay_cfg rc;
	const kvw_scenario *sc;
	const kvw_workload *w;
	int n_policies;
	const char *policies[KVW_STUDY_MAX_POLICIES];
	int points;                /* per curve; 0: no curves */
	unsigned curve_tiers;      /* bit t: draw tier t's curve; 0: every tier given */
	int threads;               /* replays at once; 0: one per core (at most 16) */
	void (*progress)(void *ctx, int done, int total, const char *what);
	void *progress_ctx;
	/* out */
	kvw_cache_ids ids;         /* the trace's block ids, shared by every replay */
	long distinct_blocks;      /* of the trace after re-chunking */
	double block_bytes, all_bytes; /* one block; every distinct block (a tier this big holds the trace) */
	int n_cfgs, winner;        /* cfgs[0] is "none" */
	kvw_study_cfg cfgs[KVW_STUDY_MAX_CFGS];
	int n_points;
	kvw_study_point *curve;    /* tier, then policy, then capacity ascending */
	/* per tier and policy: its own token hit rate when it holds the whole
	 * trace, and the smallest size reaching 90% of that (NAN: none) */
	double attainable[KVW_TIERS][KVW_STUDY_MAX_POLICIES];
	double size90[KVW_TIERS][KVW_STUDY_MAX_POLICIES];
} kvw_cache_study;

kvw_err kvw_cache_study_run(kvw_cache_study *s, kvw_diag *d);
void kvw_cache_study_free(kvw_cache_study *s); /* frees curve; accepts a zeroed study */

/* The given configuration with only the tiers in the mask, every tier
 * under policy p. */
kvw_cache_cfg kvw_cache_study_cfg(const kvw_cache_study *s, unsigned tiers, const char *policy);

#endif
