/* kvw_sim_cache.h — the tiered prefix cache (kvw_cache.h) inside the
 * planner's cluster simulation (kvw_sim.h): kvw_prefix_tiered is the
 * kvw_prefix_ops a simulation runs with (`kvwall plan --prefix-cache`),
 * configured by a kvw_sim_cache_cfg.  Pure C, no I/O; one cache per
 * simulation, built when it starts and freed when it ends, so simulations
 * run side by side on threads.
 *
 * Where the cache lives.  Every instance that prefills (aggregated and
 * hybrid: all of them; disaggregated: the prefill instances) is one of the
 * cache's instances, with its own HBM store; DRAM and SSD are per node of
 * those instances, the remote pool one for the cluster.  Decode instances
 * keep no prefix cache: a prompt prefilled on one (the routes recompute,
 * threshold, load-aware's local prefills) computes all its tokens, and a
 * handoff ships the whole prompt's KV, cached part included (the prefill
 * instance holds all of it once its prefill is done), as Mooncake's
 * prefill pool does.  The cache's block bytes and recompute times are at
 * the prefilling instances' TP (one TP for all of them, else the
 * simulation is refused).
 *
 * HBM is the instance's free KV pool.  vLLM's automatic prefix caching
 * keeps the blocks of finished requests in its free block queue and hands
 * them out again, least recently used first, when a request needs memory
 * (docs.vllm.ai/en/latest/design/prefix_caching.html, "Automatic Prefix
 * Caching"); SGLang's RadixAttention keeps its radix tree in the same
 * memory pool as the running requests and evicts unreferenced leaves LRU
 * when the pool is full (Zheng et al., "SGLang: Efficient Execution of
 * Structured Language Model Programs", NeurIPS 2024, section 3).  Neither
 * carves out memory for the cache.  So here the HBM store of an instance
 * may hold, at every cache call, at most the KV its requests do not hold
 * (capacity - used, in the simulation's own accounting), further capped by
 * cache.tier[HBM].capacity_bytes when that is finite; when the pool
 * shrinks the least recently used blocks are evicted (demoted to DRAM,
 * SSD or remote as any eviction).  The simulation does not share physical
 * blocks between requests: a request that hits still holds its whole
 * context, and the blocks of running requests count both in what they hold
 * and in the store, so memory is never understated and hit rates are a
 * lower bound for what vLLM's block sharing reaches.
 *
 * A request's life: at arrival the deployment places it (prefix_aware:
 * the instance of its group with the least queued prefill + the
 * Conductor's estimate of its prefill there, kvw_cache_estimate; Mooncake
 * FAST'25 section 4.2), and its blocks are looked up there (the loads
 * from lower tiers start then when prefetching, as Mooncake's Conductor
 * and LMCache do); a prefix found is kept for the request until its
 * prefill.  When the instance could start its first chunk, kvw_cache_price
 * chooses load, recompute or split at the tiers' bandwidth shared with the
 * loads running on the same store (kvw_cache_commit); the prefill then
 * computes only the tokens not taken from the cache, after waiting for
 * the load's exposed part (a split's front recompute is counted in the
 * computed tokens, its load wait as what remains of the back's load after
 * the front's compute).  When the prefill is done its blocks are inserted
 * on the instance (Mooncake inserts too when the prefill ends; kvwall
 * cache's replay inserts at routing time instead, in arrival order, so the
 * two agree when no two requests sharing a prefix overlap in time).
 */
#ifndef KVW_SIM_CACHE_H
#define KVW_SIM_CACHE_H

#include "kvw_cache.h"
#include "kvw_sim.h"

typedef struct kvw_sim_cache_cfg {
	kvw_cache_cfg cache;      /* tiers, policies, links, block sizes, write-through; instances and
	                             instances_per_node are set per deployment.  HBM: 0 none, INFINITY the
	                             whole free pool, else at most that many bytes of it */
	const kvw_cache_ids *ids; /* the workload's block ids at cache.block_tokens, shared read-only by
	                             every simulation; NULL: each builds its own */
	bool prefetch;            /* loads start at arrival, else when the prefill could start */
	bool prefix_aware;        /* placement by cached prefix and queue, else the deployment's own */
} kvw_sim_cache_cfg;

extern const kvw_prefix_ops kvw_prefix_tiered;

#endif
