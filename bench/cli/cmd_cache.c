/* cmd_cache.c — kvwall cache: a workload trace through a tiered KV cache
 * (HBM per instance, DRAM and SSD per node, a remote pool), and what each
 * tier is worth: hit rates and prefill tokens saved against its size for
 * each eviction policy, TTFT and prefill GPU-seconds against no cache per
 * tier configuration, whether reading a tier beats recomputing, and the
 * engine settings for the best configuration (cache_engines.c).  The
 * replays are cache_study.c over model/sim/kvw_cache.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cache_engines.h"
#include "cache_opts.h"
#include "cache_study.h"
#include "cmds.h"
#include "kvw_config.h"
#include "kvw_trace.h"
#include "out.h"
#include "scenario.h"

static const kvw_opt opts[] = {
	{ "trace", KVW_OPT_STR, KVW_ARG(trace), "mooncake-conversation", 0, 0, "workload trace with hash_ids: a bundled name or a path" },
	KVW_OPTS_MODEL,
	{ "hw", KVW_OPT_STR, KVW_ARG(hw), NULL, 0, 0, "GPU spec sheet: compute rate, and HBM for --hbm's default" },
	{ "profile", KVW_OPT_STR, KVW_ARG(profile), NULL, 0, 0, "measured profile.json: prefill curve and tier links" },
	{ "tflops", KVW_OPT_DBL, KVW_ARG(tflops), NULL, 1e-3, 1e6, "compute rate of one GPU, TFLOP/s (taken as achieved)" },
	{ "efficiency", KVW_OPT_DBL, KVW_ARG(efficiency), NULL, 1e-3, 1, "fraction of the rate achieved [default 0.6 with --hw]" },
	{ "dtype", KVW_OPT_STR, KVW_ARG(dtype), "bf16", 0, 0, "compute dtype for --hw peaks" },
	{ "overhead-us", KVW_OPT_DBL, KVW_ARG(overhead_us), NULL, 0, 1e9, "fixed cost of one prefill, microseconds" },
	{ "compute-slowdown", KVW_OPT_DBL, KVW_ARG(compute_slowdown), NULL, 1, 100, "prefill slowdown while a load runs (split)" },
	{ "copy-slowdown", KVW_OPT_DBL, KVW_ARG(copy_slowdown), NULL, 1, 100, "load slowdown while a prefill runs (split)" },
	KVW_OPTS_MEMORY,
	{ "hbm", KVW_OPT_STR, KVW_ARG(hbm), NULL, 0, 0, "KV cache in HBM per instance, e.g. 20GB [default: --hw memory x 0.9 - weights]" },
	KVW_OPTS_CACHE_TIERS,
	{ "policy", KVW_OPT_STR, KVW_ARG(policy), "all", 0, 0, "eviction policy: lru, s3fifo, or all" },
	{ "route", KVW_OPT_STR, KVW_ARG(route), "prefix-aware", 0, 0, "routing: single, round-robin, prefix-aware" },
	{ "instances", KVW_OPT_LONG, KVW_ARG(instances), "8", 1, 1024, "prefill instances (each --tp GPUs)" },
	{ "gpus-per-node", KVW_OPT_LONG, KVW_ARG(gpus_per_node), "8", 1, 1024, "GPUs per node (instances per node = this / --tp)" },
	KVW_OPTS_CACHE_BLOCK,
	{ "points", KVW_OPT_LONG, KVW_ARG(points), "12", 0, 200, "capacity points per curve (0: no curves)" },
	{ "max-requests", KVW_OPT_LONG, KVW_ARG(max_requests), NULL, 1, 1L << 30, "replay only the first N requests" },
	KVW_OPTS_CACHE_FLAGS,
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

typedef struct cache_cmd {
	kvw_setup setup;
	kvw_workload w;
	kvw_cache_study study;
	kvw_tier_decision dec[KVW_TIERS];
	char tier_source[KVW_TIERS][KVW_CACHE_SOURCE_LEN];
	double t0;
	bool tty;
} cache_cmd;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* progress on a terminal: step, what, time left */
static void progress(void *ctx, int done, int total, const char *what)
{
	cache_cmd *c = ctx;
	if (!c->tty)
		return;
	double el = now_s() - c->t0, left = done > 0 ? el / done * (total - done) : 0;
	if (what)
		fprintf(stderr, "\rkvwall cache: replay %d/%d  %-40.40s  %4.0f s left ", done + 1, total, what, left);
	else
		fprintf(stderr, "\rkvwall cache: %d replays in %.1f s%50s\n", total, el, "");
}

/* --hbm, else the GPU's memory x 0.9 - weights (memory.c) */
static kvw_err hbm_capacity(const kvw_args *a, cache_cmd *c, double *out, kvw_diag *d)
{
	if (a->hbm)
		return kvw_opts_bytes("hbm", a->hbm, out, d);
	if (!a->hw)
		return kvw_fail(d, KVW_EUSAGE, "give --hbm SIZE (KV cache per instance), or --hw NAME for its default");
	kvw_hw_gpu gpu;
	kvw_err err = kvw_catalog_gpu(a->hw, &gpu, d);
	if (err)
		return err;
	const kvw_setup *st = &c->setup;
	int tp = st->sc.kv.tp;
	kvw_mem_budget m = st->have_gpu ? st->mem : (kvw_mem_budget){ gpu.memory_bytes, KVW_DEFAULT_GPU_MEM_UTIL, 0 };
	double per_gpu = kvw_kv_capacity_per_gpu(&st->arch, st->weight_bytes, tp, &m);
	if (!(per_gpu > 0))
		return kvw_fail(d, KVW_EUSAGE, "%s's weights (%s) do not fit in %s's %.0f GB at TP %d: raise --tp or give --hbm",
		                st->arch.name, st->weight_source, gpu.name, gpu.memory_bytes / 1e9, tp);
	*out = per_gpu * (double)tp;
	snprintf(c->tier_source[KVW_TIER_HBM], sizeof c->tier_source[0],
	         "default: %s %.0f GB x %.2f (vLLM's gpu_memory_utilization) - weights (%s) - %.3g GB reserve, x TP %d",
	         gpu.name, gpu.memory_bytes / 1e9, m.utilization, st->weight_source, m.reserve_bytes / 1e9, tp);
	return KVW_OK;
}

static kvw_err tiers(const kvw_args *a, cache_cmd *c, kvw_diag *d)
{
	kvw_cache_cfg *g = &c->study.base;
	kvw_err err = hbm_capacity(a, c, &g->tier[KVW_TIER_HBM].capacity_bytes, d);
	if (!err && a->hbm && g->tier[KVW_TIER_HBM].capacity_bytes == 0)
		return kvw_fail(d, KVW_EUSAGE, "--hbm 0: the HBM tier must hold at least one block");
	if (!err && a->hbm)
		snprintf(c->tier_source[0], sizeof c->tier_source[0], "given: %s per instance", a->hbm);
	if (!err)
		err = kvw_cache_opt_lower_tiers(a, &c->setup, g, c->tier_source, d);
	return err;
}

static kvw_err policies(const kvw_args *a, kvw_cache_study *s, kvw_diag *d)
{
	if (strcasecmp(a->policy, "all") == 0) {
		for (int i = 0; i < kvw_evict_count() && i < KVW_STUDY_MAX_POLICIES; i++)
			s->policies[s->n_policies++] = kvw_evict_at(i)->name;
		return KVW_OK;
	}
	return kvw_cache_opt_policy(a->policy, true, &s->policies[s->n_policies++], d);
}

static kvw_err cluster(const kvw_args *a, cache_cmd *c, kvw_diag *d)
{
	kvw_cache_cfg *g = &c->study.base;
	int tp = c->setup.sc.kv.tp;
	if (tp > a->gpus_per_node)
		return kvw_fail(d, KVW_EUSAGE, "--tp %d is more than --gpus-per-node %ld", tp, a->gpus_per_node);
	if (!kvw_router_find(a->route))
		return kvw_fail(d, KVW_EUSAGE, "--route: unknown router '%s' (single, round-robin, prefix-aware)", a->route);
	if (strcasecmp(a->route, "single") == 0 && kvw_opts_seen(a, "instances") && a->instances > 1)
		return kvw_fail(d, KVW_EUSAGE, "--route single serves everything on one instance; drop --instances %ld",
		                a->instances);
	g->instances = strcasecmp(a->route, "single") == 0 ? 1 : (int)a->instances;
	g->instances_per_node = (int)(a->gpus_per_node / tp);
	kvw_cache_opt_blocks(a, &c->w, g);
	c->study.rc = (kvw_replay_cfg){ .route = a->route, .prefetch = !a->no_prefetch };
	return KVW_OK;
}

static kvw_err load_trace(const kvw_args *a, cache_cmd *c, kvw_diag *d)
{
	kvw_err err = kvw_trace_open(a->trace, &c->w, d);
	if (err)
		return err;
	if ((err = kvw_cache_opt_hashes(a, &c->w, d)))
		return err;
	if (a->max_requests > 0 && (size_t)a->max_requests < c->w.n)
		c->w.n = (size_t)a->max_requests;
	return KVW_OK;
}

static kvw_err prepare(const kvw_args *a, cache_cmd *c, kvw_diag *d)
{
	kvw_err err = kvw_setup_full(a, &c->setup, false, d);
	if (!err)
		err = load_trace(a, c, d);
	if (!err)
		err = cluster(a, c, d);
	if (!err)
		err = tiers(a, c, d);
	if (!err)
		err = policies(a, &c->study, d);
	if (err)
		return err;
	kvw_cache_study *s = &c->study;
	s->sc = &c->setup.sc;
	s->w = &c->w;
	s->points = (int)a->points == 1 ? 2 : (int)a->points;
	s->progress = progress;
	s->progress_ctx = c;
	/* the configuration must build: capacities below one block are refused here, before any replay */
	kvw_cache *probe;
	if ((err = kvw_cache_new(&s->base, s->sc, 1, &probe, d)))
		return err;
	kvw_cache_free(probe);
	return KVW_OK;
}

/* ---- output ----------------------------------------------------------------- */

static json_t *rate(double x)
{
	return kvw_num(x);
}

static void stats_row(kvw_out *o, const char *kind, const char *config, const char *policy, double cap,
                      const kvw_cache_stats *st, const kvw_cache_stats *none)
{
	double saved = st->input_tokens > 0 ? 1 - st->computed_tokens / st->input_tokens : 0;
	json_t *row[] = {
		json_string(kind), json_string(config), policy ? json_string(policy) : json_null(), kvw_num(cap),
		rate(kvw_cache_token_hit_rate(st, -1)), rate(kvw_cache_block_hit_rate(st, -1)),
		rate(kvw_cache_token_hit_rate(st, KVW_TIER_HBM)), rate(kvw_cache_token_hit_rate(st, KVW_TIER_DRAM)),
		rate(kvw_cache_token_hit_rate(st, KVW_TIER_SSD)), rate(kvw_cache_token_hit_rate(st, KVW_TIER_REMOTE)),
		rate(saved), kvw_num(st->ttft_p50), kvw_num(st->ttft_p90), kvw_num(none->gpu_s - st->gpu_s),
		kvw_num(st->load_s > 0 ? st->hidden_s / st->load_s : NAN),
	};
	kvw_out_row(o, row);
}

static void table(const cache_cmd *c, kvw_out *o)
{
	const kvw_cache_study *s = &c->study;
	static const char *const cols[][3] = {
		{ "kind", "kind", NULL }, { "config", "tiers / curve of", NULL }, { "policy", "policy", NULL },
		{ "capacity_bytes", "size B", "%.3g" }, { "token_hit", "tok hit", "%.3f" }, { "block_hit", "blk hit", "%.3f" },
		{ "hbm_hit", "hbm", "%.3f" }, { "dram_hit", "dram", "%.3f" }, { "ssd_hit", "ssd", "%.3f" },
		{ "remote_hit", "remote", "%.3f" }, { "prefill_saved", "saved", "%.3f" }, { "ttft_p50_s", "TTFT p50 s", "%.4g" },
		{ "ttft_p90_s", "TTFT p90 s", "%.4g" }, { "gpu_s_saved", "GPU-s saved", "%.4g" },
		{ "load_hidden", "load hidden", "%.3f" },
	};
	kvw_out_table(o, "rows");
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		kvw_out_col(o, cols[i][0], cols[i][1], cols[i][2]);
	const kvw_cache_stats *none = &s->cfgs[0].st;
	for (int i = 0; i < s->n_cfgs; i++)
		stats_row(o, "config", s->cfgs[i].label, s->cfgs[i].policy >= 0 ? s->policies[s->cfgs[i].policy] : NULL,
		          NAN, &s->cfgs[i].st, none);
	for (int i = 0; i < s->n_points; i++)
		stats_row(o, "curve", kvw_tier_name(s->curve[i].tier), s->policies[s->curve[i].policy],
		          s->curve[i].capacity_bytes, &s->curve[i].st, none);
}

static void describe_tiers(const cache_cmd *c, kvw_out *o)
{
	const kvw_cache_study *s = &c->study;
	static const char *const keys[KVW_TIERS] = { "hbm_bytes", "dram_bytes", "ssd_bytes", "remote_bytes" };
	static const char *const labels[KVW_TIERS] = { "HBM per instance", "DRAM per node", "SSD per node",
	                                               "remote pool (cluster)" };
	for (int t = 0; t < KVW_TIERS; t++) {
		double cap = s->base.tier[t].capacity_bytes;
		kvw_out_field(o, keys[t], labels[t], "%.4g B", cap > 0 ? kvw_num(cap) : json_null());
		if (cap > 0)
			kvw_out_note(o, "%s tier: %.4g GB = %.0f blocks of %ld tokens; %s", kvw_tier_name(t), cap / 1e9,
			             floor(cap / s->block_bytes), s->base.block_tokens, c->tier_source[t]);
	}
}

static void describe_run(const kvw_args *a, const cache_cmd *c, kvw_out *o)
{
	const kvw_cache_study *s = &c->study;
	kvw_out_field(o, "trace", "trace", NULL, json_string(c->w.name));
	kvw_out_field(o, "requests", "requests", NULL, json_integer((json_int_t)c->w.n));
	kvw_out_field(o, "instances", "prefill instances", NULL, json_integer(s->base.instances));
	kvw_out_field(o, "instances_per_node", "instances per node", NULL, json_integer(s->base.instances_per_node));
	kvw_out_field(o, "route", "routing", NULL, json_string(a->route));
	kvw_out_field(o, "prefetch", "prefetch while queued", NULL, json_boolean(s->rc.prefetch));
	kvw_out_field(o, "block_tokens", "engine block (tokens)", NULL, json_integer(s->base.block_tokens));
	kvw_out_field(o, "block_bytes", "KV bytes per block (instance)", "%.4g", kvw_num(s->block_bytes));
	kvw_out_field(o, "distinct_blocks", "distinct blocks in the trace", NULL, json_integer(s->distinct_blocks));
	kvw_out_field(o, "all_blocks_bytes", "bytes to hold every block", "%.4g", kvw_num(s->all_bytes));
	describe_tiers(c, o);
}

static void size90_fields(const cache_cmd *c, kvw_out *o)
{
	static const char *const keys[KVW_TIERS] = { "hbm_size90", "dram_size90", "ssd_size90", "remote_size90" };
	static const char *const labels[KVW_TIERS] = {
		"HBM: 90% of its attainable hits at", "DRAM: 90% of its attainable hits at",
		"SSD: 90% of its attainable hits at", "remote: 90% of its attainable hits at",
	};
	const kvw_cache_study *s = &c->study;
	json_t *arr = json_array();
	for (int t = 0; t < KVW_TIERS; t++) {
		if (!(s->base.tier[t].capacity_bytes > 0) || !s->n_points)
			continue;
		char text[256];
		size_t used = 0;
		text[0] = '\0';
		for (int p = 0; p < s->n_policies; p++) {
			json_t *e = json_object();
			json_object_set_new(e, "tier", json_string(kvw_tier_name(t)));
			json_object_set_new(e, "policy", json_string(s->policies[p]));
			json_object_set_new(e, "attainable_token_hit", kvw_num(s->attainable[t][p]));
			json_object_set_new(e, "size90_bytes", kvw_num(s->size90[t][p]));
			json_array_append_new(arr, e);
			if (isfinite(s->size90[t][p]))
				used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0,
				                         "%s%s %.4g GB (of %.3f)", p ? "; " : "", s->policies[p],
				                         s->size90[t][p] / 1e9, s->attainable[t][p]);
			else
				used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0,
				                         "%s%s: serves nothing (the tiers above hold it all)", p ? "; " : "",
				                         s->policies[p]);
		}
		kvw_out_field(o, keys[t], labels[t], NULL, json_string(text));
	}
	kvw_out_field(o, "size90", NULL, NULL, arr);
}

static void winner_fields(const cache_cmd *c, kvw_out *o)
{
	const kvw_cache_study *s = &c->study;
	const kvw_study_cfg *w = &s->cfgs[s->winner], *none = &s->cfgs[0];
	char text[200];
	snprintf(text, sizeof text, "%s, %s", w->label, w->policy >= 0 ? s->policies[w->policy] : "-");
	kvw_out_field(o, "winner", "best configuration (TTFT p90)", NULL, json_string(text));
	kvw_out_field(o, "winner_ttft_p90_s", "its TTFT p90", "%.4g s", kvw_num(w->st.ttft_p90));
	kvw_out_field(o, "nocache_ttft_p90_s", "TTFT p90 without a cache", "%.4g s", kvw_num(none->st.ttft_p90));
	kvw_out_field(o, "winner_gpu_s_saved", "prefill GPU-seconds it saves", "%.4g", kvw_num(none->st.gpu_s - w->st.gpu_s));
	kvw_out_field(o, "winner_load_hidden", "of its load time, hidden while queued", "%.3f",
	              kvw_num(w->st.load_s > 0 ? w->st.hidden_s / w->st.load_s : NAN));
}

static void notes(const cache_cmd *c, kvw_out *o)
{
	const kvw_cache_study *s = &c->study;
	kvw_out_note(o, "timing model: %d prefill-only instances, each serving one prefill at a time first come first "
	             "served (no batching, no decode); TTFT = prefill end - arrival; a prefill takes the exposed prefix "
	             "time (load, split or recompute, from kvw_cache_price) + compute of the tokens after the prefix "
	             "(physics recompute at TP %d) + fixed overhead", s->base.instances, c->setup.sc.kv.tp);
	kvw_out_note(o, "hit rates: lookups and insertions in arrival order, as Mooncake's Figure 9 replay; only full "
	             "%ld-token engine blocks are cached (vLLM); a token hit rate is cached prefix tokens / prompt tokens",
	             s->base.block_tokens);
	if (s->base.block_tokens != s->base.trace_block)
		kvw_out_note(o, "re-chunked: the trace's %ld-token hashes split into %s; a sub-block matches only when its "
		             "whole trace block did", s->base.trace_block,
		             s->base.block_tokens < s->base.trace_block ? "engine blocks keyed (hash, index)"
		                                                       : "engine blocks of whole trace blocks, keyed by the last hash");
	kvw_out_note(o, "hierarchy: HBM per instance, DRAM and SSD per node, remote for the cluster; a hit is promoted to "
	             "HBM (the lower copy stays), an evicted block is demoted to the next tier present%s",
	             s->base.write_through ? "; write-through: computed blocks are also written to every lower tier"
	                                   : "; blocks reach the shared tiers only when HBM evicts them, so a bigger HBM "
	                                     "keeps more of them private to one instance (--write-through writes them "
	                                     "down at once, as LMCache does)");
	kvw_out_note(o, "rows: kind=config is a tier configuration (tiers added from the top), kind=curve one point of a "
	             "tier's size swept with the others as given; hit columns are token hit rates; saved = prefill "
	             "tokens not computed; GPU-s saved against no cache; load hidden = load time that ran while queued");
	kvw_out_note(o, "%s", c->setup.compute_source);
}

static kvw_err emit(const kvw_args *a, int argc, char **argv, cache_cmd *c, kvw_diag *d)
{
	kvw_out o;
	kvw_out_init(&o, "kvwall.cache/1");
	snprintf(o.title, sizeof o.title, "Prefix cache: %s on %s, %d instances", c->w.name, c->setup.arch.name,
	         c->study.base.instances);
	kvw_setup_describe(&c->setup, &o, false);
	describe_run(a, c, &o);
	winner_fields(c, &o);
	size90_fields(c, &o);
	kvw_cache_decisions(&c->study, c->dec);
	kvw_cache_decision_fields(&c->study, c->dec, &o);
	kvw_cache_engine_fields(&c->study, c->dec, (int)a->gpus_per_node, &o);
	notes(c, &o);
	table(c, &o);
	kvw_err err = kvw_out_emit(&o, a, argc, argv, d);
	kvw_out_free(&o);
	return err;
}

static kvw_err run(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	cache_cmd *c = calloc(1, sizeof *c);
	if (!c)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	c->tty = isatty(2);
	c->t0 = now_s();
	kvw_err err = prepare(a, c, d);
	if (!err)
		err = kvw_cache_study_run(&c->study, d);
	if (c->tty && err)
		fputc('\n', stderr);
	if (!err)
		err = emit(a, argc, argv, c, d);
	kvw_cache_study_free(&c->study);
	kvw_workload_free(&c->w);
	free(c);
	return err;
}

const kvw_cmd kvw_cmd_cache = {
	"cache",
	"[--trace NAME] --model M (--hw NAME | --tflops X | --profile FILE) [--hbm S] [--dram S] [--ssd S] [--remote S]",
	"a trace through a tiered KV cache (HBM, DRAM, SSD, remote): hit rates vs size, TTFT, load vs recompute per tier, "
	"engine settings",
	opts, 0, run,
};
