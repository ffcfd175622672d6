/* cache_opts.c — the prefix cache's options shared by kvwall cache and
 * kvwall plan --prefix-cache (cache_opts.h): the tiers below HBM with
 * their links, the block size, the refusals of a trace without hashes and
 * of a tier of size 0.
 */
#include "cache_opts.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kvw_config.h"
#include "kvw_trace.h"

kvw_err kvw_cache_opt_size(const char *opt, const char *text, double *out, kvw_diag *d)
{
	kvw_err err = kvw_opts_bytes(opt, text, out, d);
	if (!err && *out == 0)
		return kvw_fail(d, KVW_EUSAGE, "--%s 0: a tier must hold at least one block; leave --%s out for no %s tier",
		                opt, opt, opt);
	return err;
}

/* the default DRAM link: the profile's pinned host-to-device fit, else the GPU's host link */
static const char *dram_link_name(const kvw_args *a, const kvw_setup *st, char *buf, size_t cap)
{
	const kvw_profile *p = &st->profile;
	for (int i = 0; st->have_profile && i < p->n_links; i++)
		if (strstr(p->links[i].name, "h2d_pinned"))
			return p->links[i].name;
	kvw_hw_gpu gpu;
	if (a->hw && !kvw_catalog_gpu(a->hw, &gpu, NULL) && gpu.host_link[0]) {
		snprintf(buf, cap, "%s", gpu.host_link);
		return buf;
	}
	return "pcie-gen5-x16";
}

static const char *ssd_link_name(const kvw_setup *st)
{
	const kvw_profile *p = &st->profile;
	for (int i = 0; st->have_profile && i < p->n_links; i++)
		if (strcmp(p->links[i].kind, "storage") == 0)
			return p->links[i].name;
	return "nvme-gen4-ssd";
}

static kvw_err tier_link(const kvw_setup *st, kvw_cache_cfg *g, int t, const char *name, double gbps,
                         char (*source)[KVW_CACHE_SOURCE_LEN], kvw_diag *d)
{
	kvw_tier_cfg *tc = &g->tier[t];
	char src[300];
	kvw_err err = kvw_setup_named_link(st, name, &tc->link, src, sizeof src, NULL, d);
	if (err)
		return kvw_prefix(d, err, kvw_tier_name(t));
	/* SSD: the node's drives are one resource; DRAM and remote: each GPU's link unless told */
	tc->shared_bw = gbps > 0 ? gbps * 1e9 : t == KVW_TIER_SSD ? tc->link.bw : 0;
	snprintf(source[t], KVW_CACHE_SOURCE_LEN, "%s%s", src,
	         tc->shared_bw > 0 ? "; shared by the store's readers" : "; each GPU at its link's rate");
	return KVW_OK;
}

kvw_err kvw_cache_opt_lower_tiers(const kvw_args *a, const kvw_setup *st, kvw_cache_cfg *g,
                                  char (*source)[KVW_CACHE_SOURCE_LEN], kvw_diag *d)
{
	const char *sizes[KVW_TIERS] = { NULL, a->dram, a->ssd, a->remote };
	char buf[KVW_NAME_LEN];
	const char *links[KVW_TIERS] = { NULL, a->dram_link ? a->dram_link : dram_link_name(a, st, buf, sizeof buf),
	                                 a->ssd_link ? a->ssd_link : ssd_link_name(st), a->remote_link };
	double gbps[KVW_TIERS] = { 0, a->dram_gbps, a->ssd_gbps, a->remote_gbps };
	kvw_err err = KVW_OK;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) { /* a tier's link options without the tier do nothing */
		char lk[32], gb[32];
		snprintf(lk, sizeof lk, "%s-link", kvw_tier_name(t));
		snprintf(gb, sizeof gb, "%s-gbps", kvw_tier_name(t));
		bool link = kvw_opts_seen(a, lk);
		if (!sizes[t] && (link || kvw_opts_seen(a, gb)))
			return kvw_fail(d, KVW_EUSAGE, "--%s describes the %s tier, but there is none: give --%s SIZE too",
			                link ? lk : gb, kvw_tier_name(t), kvw_tier_name(t));
	}
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS && !err; t++)
		if (sizes[t] && !(err = kvw_cache_opt_size(kvw_tier_name(t), sizes[t], &g->tier[t].capacity_bytes, d)))
			err = tier_link(st, g, t, links[t], gbps[t], source, d);
	return err;
}

void kvw_cache_opt_blocks(const kvw_args *a, const kvw_workload *w, kvw_cache_cfg *g)
{
	g->trace_block = w->hash_block > 0 ? w->hash_block : KVW_MOONCAKE_BLOCK;
	g->block_tokens = kvw_opts_seen(a, "block-tokens") ? a->block_tokens : g->trace_block;
	g->write_through = a->write_through;
	g->unique_without_hashes = a->unique_without_hashes;
}

kvw_err kvw_cache_opt_hashes(const kvw_args *a, const kvw_workload *w, kvw_diag *d)
{
	if (w->hash_block == 0 && !a->unique_without_hashes)
		return kvw_fail(d, KVW_EINPUT, "%s has no hash_ids: the prefix cache needs the trace's block hashes "
		                "(Mooncake traces carry them); --unique-without-hashes replays it with every request unique",
		                w->name);
	return KVW_OK;
}

kvw_err kvw_cache_opt_policy(const char *name, bool allow_all, const char **out, kvw_diag *d)
{
	const kvw_evict_ops *p = kvw_evict_find(name);
	if (!p)
		return kvw_fail(d, KVW_EUSAGE, "--policy: unknown eviction policy '%s' (lru, s3fifo%s)", name,
		                allow_all ? ", all" : "");
	*out = p->name;
	return KVW_OK;
}
