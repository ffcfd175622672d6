/* cache_engines.h — what `kvwall cache` concludes per tier (read it or
 * recompute, and below how many cached tokens it is not worth reading)
 * and the engine settings of the best configuration (vLLM, LMCache,
 * llm-d), as output fields. */
#ifndef KVW_CACHE_ENGINES_H
#define KVW_CACHE_ENGINES_H

#include "cache_study.h"
#include "out.h"

typedef struct kvw_tier_decision {
	bool present;
	double bw_gpu;          /* one GPU reading it alone, bytes/s */
	kvw_crossover x;        /* recompute(L) vs load(L) of an L-token prefix from this tier */
	long crossover_tokens;  /* recompute below it; 0: load always pays; -1: never */
	double mean_hit_tokens; /* of the reference configuration's requests that hit this tier */
	kvw_split split;        /* at mean_hit_tokens */
	long choices[4];        /* requests with hits here, by choice (kvw_cache_choice) */
} kvw_tier_decision;

/* Decisions for the tiers given; counts from the configuration with every
 * tier under the winner's policy. */
void kvw_cache_decisions(const kvw_cache_study *s, kvw_tier_decision out[KVW_TIERS]);
void kvw_cache_decision_fields(const kvw_cache_study *s, const kvw_tier_decision dec[KVW_TIERS], kvw_out *o);
void kvw_cache_engine_fields(const kvw_cache_study *s, const kvw_tier_decision dec[KVW_TIERS], int gpus_per_node,
                             kvw_out *o);

#endif
