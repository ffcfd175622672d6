/* cache_opts.h — the prefix cache's options, shared by `kvwall cache` and
 * `kvwall plan --prefix-cache`: the option rows of the tiers below HBM
 * (sizes, links, shared bandwidth), of the blocks and of prefetch, and
 * their resolution into a kvw_cache_cfg with where every number came from.
 * HBM differs between the two (cache: a size, default the GPU's memory
 * left by the weights; plan: the instance's free KV pool), so each command
 * reads --hbm itself.
 */
#ifndef KVW_CACHE_OPTS_H
#define KVW_CACHE_OPTS_H

#include "kvw_cache.h"
#include "opts.h"
#include "scenario.h"

#define KVW_CACHE_SOURCE_LEN 320

/* --dram ... --remote-gbps */
#define KVW_OPTS_CACHE_TIERS \
	{ "dram", KVW_OPT_STR, KVW_ARG(dram), NULL, 0, 0, "DRAM tier per node, e.g. 512GB (absent if not given)" }, \
	{ "ssd", KVW_OPT_STR, KVW_ARG(ssd), NULL, 0, 0, "SSD tier per node, e.g. 4TB (absent if not given)" }, \
	{ "remote", KVW_OPT_STR, KVW_ARG(remote), NULL, 0, 0, "remote pool for the cluster, e.g. 8TB (absent if not given)" }, \
	{ "dram-link", KVW_OPT_STR, KVW_ARG(dram_link), NULL, 0, 0, "DRAM -> GPU link [profile's host_h2d_pinned, else --hw's host link, else pcie-gen5-x16]" }, \
	{ "ssd-link", KVW_OPT_STR, KVW_ARG(ssd_link), NULL, 0, 0, "SSD -> GPU link [the profile's storage link, else nvme-gen4-ssd]" }, \
	{ "remote-link", KVW_OPT_STR, KVW_ARG(remote_link), "ib-ndr", 0, 0, "remote pool -> GPU link" }, \
	{ "dram-gbps", KVW_OPT_DBL, KVW_ARG(dram_gbps), NULL, 1e-3, 1e6, "GB/s one node's DRAM serves all its GPUs together [no limit]" }, \
	{ "ssd-gbps", KVW_OPT_DBL, KVW_ARG(ssd_gbps), NULL, 1e-3, 1e6, "GB/s one node's SSDs serve together [the SSD link's]" }, \
	{ "remote-gbps", KVW_OPT_DBL, KVW_ARG(remote_gbps), NULL, 1e-3, 1e6, "GB/s the remote pool serves in all [no limit]" }

#define KVW_OPTS_CACHE_BLOCK \
	{ "block-tokens", KVW_OPT_LONG, KVW_ARG(block_tokens), NULL, 1, 1L << 20, "engine block size in tokens [the trace's 512]" }

/* --no-prefetch, --write-through, --unique-without-hashes */
#define KVW_OPTS_CACHE_FLAGS \
	{ "no-prefetch", KVW_OPT_FLAG, KVW_ARG(no_prefetch), NULL, 0, 0, "loads start when the prefill starts, not while it queues" }, \
	{ "write-through", KVW_OPT_FLAG, KVW_ARG(write_through), NULL, 0, 0, "computed blocks go to every lower tier at once (LMCache)" }, \
	{ "unique-without-hashes", KVW_OPT_FLAG, KVW_ARG(unique_without_hashes), NULL, 0, 0, "requests without hash_ids never hit (instead of an error)" }

/* A tier's size: kvw_opts_bytes, and 0 refused (leave the option out for no tier). */
kvw_err kvw_cache_opt_size(const char *opt, const char *text, double *out, kvw_diag *d);

/* DRAM, SSD and remote from --dram/--ssd/--remote and their links: sizes,
 * each link resolved (profile, then catalog) and the bandwidth a store
 * shares among its readers; source[t] says where tier t's numbers came
 * from.  g's HBM tier is left alone. */
kvw_err kvw_cache_opt_lower_tiers(const kvw_args *a, const kvw_setup *st, kvw_cache_cfg *g,
                                  char (*source)[KVW_CACHE_SOURCE_LEN], kvw_diag *d);

/* --block-tokens (default the trace's block), --write-through and
 * --unique-without-hashes into g for workload w. */
void kvw_cache_opt_blocks(const kvw_args *a, const kvw_workload *w, kvw_cache_cfg *g);

/* A workload the cache can replay: it has hash_ids, or --unique-without-hashes. */
kvw_err kvw_cache_opt_hashes(const kvw_args *a, const kvw_workload *w, kvw_diag *d);

/* One eviction policy by name (lru, s3fifo); `all` is not one. */
kvw_err kvw_cache_opt_policy(const char *name, bool allow_all, const char **out, kvw_diag *d);

#endif
