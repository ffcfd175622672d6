/* cache_engines.c — per tier, load or recompute; and the engine settings
 * of the best configuration (cache_engines.h).
 *
 * Per tier: a prefix of L tokens found only in that tier costs
 * recompute(L) to compute again or alpha + KV_bytes(L) / B to read (one
 * GPU reading alone: B = min(its link, the tier's shared bandwidth / TP));
 * the physics crossover solver (kvw_crossover_find) says below which L
 * recomputing wins, kvw_split_best what the Cake-style split gives at the
 * tier's typical hit.
 *
 * Engine settings, each checked against the engine's documentation (the
 * page is named where the value is set, below).
 */
#include "cache_engines.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int reference_cfg(const kvw_cache_study *s)
{
	int ref = s->winner, pol = s->cfgs[s->winner].policy;
	for (int i = 1; i < s->n_cfgs; i++)
		if (s->cfgs[i].policy == pol && __builtin_popcount(s->cfgs[i].tiers) >
		                                __builtin_popcount(s->cfgs[ref].tiers))
			ref = i;
	return ref;
}

static kvw_scenario tier_scenario(const kvw_cache_study *s, int t, double bw)
{
	kvw_scenario sc = *s->sc;
	sc.layerwise = false;
	sc.message_tokens = 0;
	sc.message_s = 0;
	sc.link = (kvw_link){ .alpha_s = s->base.tier[t].link.alpha_s, .bw = bw };
	return sc;
}

void kvw_cache_decisions(const kvw_cache_study *s, kvw_tier_decision out[KVW_TIERS])
{
	memset(out, 0, KVW_TIERS * sizeof *out);
	const kvw_cache_stats *ref = &s->cfgs[reference_cfg(s)].st;
	int tp = s->sc->kv.tp > 0 ? s->sc->kv.tp : 1;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		const kvw_tier_cfg *tc = &s->base.tier[t];
		kvw_tier_decision *dc = &out[t];
		if (!(tc->capacity_bytes > 0))
			continue;
		dc->present = true;
		dc->bw_gpu = tc->shared_bw > 0 ? fmin(tc->link.bw, tc->shared_bw / tp) : tc->link.bw;
		kvw_scenario sc = tier_scenario(s, t, dc->bw_gpu);
		kvw_crossover_find(&sc, 1, 1 << 20, &dc->x);
		dc->crossover_tokens = dc->x.regime == KVW_TRANSFER_ALWAYS ? 0
		                       : dc->x.regime == KVW_RECOMPUTE_ALWAYS ? -1 : (long)ceil(dc->x.roots[0]);
		long hits = 0;
		for (int c = 0; c < 4; c++)
			hits += dc->choices[c] = ref->tier_choice[t][c];
		dc->mean_hit_tokens = hits ? ref->hit_tokens[t] / (double)hits : 0;
		if (dc->mean_hit_tokens >= 1)
			kvw_split_best(&sc, (long)dc->mean_hit_tokens, &dc->split);
	}
}

static void decision_words(const kvw_tier_decision *dc, char *buf, size_t cap)
{
	int n = 0;
	switch (dc->x.regime) {
	case KVW_TRANSFER_ALWAYS:
		n = snprintf(buf, cap, "load: reading beats recomputing at every length (1 to 1M tokens)");
		break;
	case KVW_RECOMPUTE_ALWAYS:
		n = snprintf(buf, cap, "recompute: reading it never beats recomputing up to 1M tokens");
		break;
	case KVW_RECOMPUTE_BELOW:
		n = snprintf(buf, cap, "recompute below %ld cached tokens, load above", dc->crossover_tokens);
		break;
	default:
		n = snprintf(buf, cap, "the winner flips %d times; first at %ld tokens", dc->x.n_roots, dc->crossover_tokens);
	}
	if (dc->mean_hit_tokens >= 1 && n > 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, "; typical hit %.0f tokens: load %.3g ms, recompute %.3g ms, split %.3g ms "
		         "(%ld recomputed); replay chose load %ld, split %ld, recompute %ld", dc->mean_hit_tokens,
		         dc->split.transfer_s * 1e3, dc->split.recompute_s * 1e3, dc->split.split_s * 1e3,
		         dc->split.best_prefix, dc->choices[KVW_CHOICE_LOAD], dc->choices[KVW_CHOICE_SPLIT],
		         dc->choices[KVW_CHOICE_RECOMPUTE]);
}

void kvw_cache_decision_fields(const kvw_cache_study *s, const kvw_tier_decision dec[KVW_TIERS], kvw_out *o)
{
	static const char *const keys[KVW_TIERS] = { NULL, "dram_decision", "ssd_decision", "remote_decision" };
	static const char *const labels[KVW_TIERS] = { NULL, "DRAM: load or recompute", "SSD: load or recompute",
	                                               "remote: load or recompute" };
	json_t *arr = json_array();
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++) {
		const kvw_tier_decision *dc = &dec[t];
		if (!dc->present)
			continue;
		char words[512];
		decision_words(dc, words, sizeof words);
		kvw_out_field(o, keys[t], labels[t], NULL, json_string(words));
		json_t *e = json_object();
		json_object_set_new(e, "tier", json_string(kvw_tier_name(t)));
		json_object_set_new(e, "gbps_per_gpu", kvw_num(dc->bw_gpu / 1e9));
		json_object_set_new(e, "alpha_us", kvw_num(s->base.tier[t].link.alpha_s * 1e6));
		json_object_set_new(e, "regime", json_string(kvw_regime_name(dc->x.regime)));
		json_object_set_new(e, "crossover_tokens", dc->crossover_tokens > 0 ? json_integer(dc->crossover_tokens)
		                                                                    : json_null());
		json_object_set_new(e, "mean_hit_tokens", kvw_num(dc->mean_hit_tokens));
		json_object_set_new(e, "load_s", kvw_num(dc->split.transfer_s));
		json_object_set_new(e, "recompute_s", kvw_num(dc->split.recompute_s));
		json_object_set_new(e, "split_s", kvw_num(dc->split.split_s));
		json_object_set_new(e, "split_recomputed_tokens", json_integer(dc->split.best_prefix));
		json_object_set_new(e, "replay_load", json_integer(dc->choices[KVW_CHOICE_LOAD]));
		json_object_set_new(e, "replay_split", json_integer(dc->choices[KVW_CHOICE_SPLIT]));
		json_object_set_new(e, "replay_recompute", json_integer(dc->choices[KVW_CHOICE_RECOMPUTE]));
		json_object_set_new(e, "words", json_string(words));
		json_array_append_new(arr, e);
	}
	kvw_out_field(o, "decisions", NULL, NULL, arr);
}

/* ---- engine settings -------------------------------------------------------- */

typedef struct engine_ctx {
	const kvw_cache_study *s;
	const kvw_study_cfg *w;
	const kvw_tier_decision *dec;
	int gpus_per_node;
	long vllm_block;
	json_t *obj;
} engine_ctx;

static bool has(const kvw_study_cfg *w, int t)
{
	return (w->tiers & (1u << t)) != 0;
}

/* vLLM.  Automatic prefix caching and --block-size: engine arguments,
 * https://docs.vllm.ai/en/latest/configuration/engine_args/ (--enable-prefix-caching,
 * --block-size); only full blocks are cached and matched:
 * https://docs.vllm.ai/en/latest/design/prefix_caching/ ; allowed block sizes
 * BlockSize = Literal[1, 8, 16, 32, 64, 128] (vllm.config,
 * https://docs.vllm.ai/en/v0.9.2/api/vllm/config.html), 16 the CUDA default.
 * LMCache joins through the KV connector: --kv-transfer-config
 * '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}' (LMCache integration page,
 * https://docs.nvidia.com/dynamo/latest/integrations/kv-cache-integrations/lm-cache). */
static void vllm(engine_ctx *e, kvw_out *o)
{
	long b = e->s->base.block_tokens;
	e->vllm_block = (b == 1 || b == 8 || b == 16 || b == 32 || b == 64 || b == 128) ? b : 16;
	bool lower = has(e->w, KVW_TIER_DRAM) || has(e->w, KVW_TIER_SSD);
	char text[400];
	snprintf(text, sizeof text, "--enable-prefix-caching --block-size %ld%s", e->vllm_block,
	         lower ? " --kv-transfer-config '{\"kv_connector\":\"LMCacheConnectorV1\",\"kv_role\":\"kv_both\"}'" : "");
	json_t *v = json_object();
	json_object_set_new(v, "enable_prefix_caching", json_true());
	json_object_set_new(v, "block_size", json_integer(e->vllm_block));
	json_object_set_new(v, "args", json_string(text));
	json_object_set_new(e->obj, "vllm", v);
	kvw_out_field(o, "vllm_settings", "vLLM", NULL, json_string(text));
}

/* the one min_retrieve_tokens LMCache has: the crossover of the tier that
 * serves the most tokens below HBM, rounded up to whole chunks */
static long min_retrieve(const engine_ctx *e, long chunk, int *from)
{
	double best = -1;
	*from = -1;
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS; t++)
		if (has(e->w, t) && e->w->st.hit_tokens[t] > best) {
			best = e->w->st.hit_tokens[t];
			*from = t;
		}
	if (*from < 0 || e->dec[*from].crossover_tokens <= 0)
		return 0;
	return (e->dec[*from].crossover_tokens + chunk - 1) / chunk * chunk;
}

/* LMCache.  chunk_size (default 256), local_cpu, max_local_cpu_size (GB,
 * default 5.0), local_disk ("file:///path"), max_local_disk_size (GB),
 * use_layerwise (default false): https://docs.lmcache.ai/api_reference/configurations.html
 * ("General Configurations").  min_retrieve_tokens (LMCACHE_MIN_RETRIEVE_TOKENS):
 * lmcache/v1/config.py _CONFIG_DEFINITIONS in github.com/LMCache/LMCache; the
 * vLLM adapter skips a retrieve whose tokens to load are below it and
 * recomputes them.  Sizes are per LMCache engine, one per vLLM worker
 * (GPU), so a node's DRAM and SSD are divided by its GPUs. */
static void lmcache(engine_ctx *e, kvw_out *o)
{
	const kvw_cache_cfg *g = &e->s->base;
	if (!has(e->w, KVW_TIER_DRAM) && !has(e->w, KVW_TIER_SSD)) {
		kvw_out_field(o, "lmcache_settings", "LMCache", NULL, json_string("not used: the best configuration has no DRAM or SSD tier"));
		return;
	}
	long chunk = g->block_tokens % 256 == 0 && g->block_tokens <= 2048 ? g->block_tokens : 256;
	int from;
	long minr = min_retrieve(e, chunk, &from);
	double cpu_gb = has(e->w, KVW_TIER_DRAM) ? g->tier[KVW_TIER_DRAM].capacity_bytes / e->gpus_per_node / 1e9 : 0;
	double disk_gb = has(e->w, KVW_TIER_SSD) ? g->tier[KVW_TIER_SSD].capacity_bytes / e->gpus_per_node / 1e9 : 0;
	/* layer-wise retrieval overlaps a layer's load with the previous layer's
	 * compute: worth it when the waits for loads are a visible part of the
	 * prefills and there is compute after the prefix to hide them under */
	double hideable = fmin(e->w->st.exposed_load_s, e->w->st.suffix_s);
	bool layerwise = e->w->st.gpu_s > 0 && hideable * (e->s->sc->kv.tp > 0 ? e->s->sc->kv.tp : 1) > 0.02 * e->w->st.gpu_s;
	char src[48] = "", text[600];
	if (from >= 0 && minr > 0)
		snprintf(src, sizeof src, " (the %s tier's crossover)", kvw_tier_name(from));
	int tp = e->s->sc->kv.tp > 0 ? e->s->sc->kv.tp : 1;
	snprintf(text, sizeof text, "chunk_size: %ld, local_cpu: %s, max_local_cpu_size: %.4g, local_disk: %s, "
	         "max_local_disk_size: %.4g, min_retrieve_tokens: %ld%s, use_layerwise: %s (waits for loads %.3g s, "
	         "%.1f%% of the prefill GPU time, up to %.3g s hideable)", chunk, cpu_gb > 0 ? "true" : "false", cpu_gb,
	         disk_gb > 0 ? "\"file:///<ssd mount>/lmcache/\"" : "null", disk_gb, minr, src,
	         layerwise ? "true" : "false", e->w->st.exposed_load_s,
	         100 * e->w->st.exposed_load_s * tp / fmax(e->w->st.gpu_s, 1e-30), hideable);
	json_t *l = json_object();
	json_object_set_new(l, "chunk_size", json_integer(chunk));
	json_object_set_new(l, "local_cpu", json_boolean(cpu_gb > 0));
	json_object_set_new(l, "max_local_cpu_size", kvw_num(cpu_gb));
	json_object_set_new(l, "local_disk", disk_gb > 0 ? json_string("file:///<ssd mount>/lmcache/") : json_null());
	json_object_set_new(l, "max_local_disk_size", kvw_num(disk_gb));
	json_object_set_new(l, "min_retrieve_tokens", json_integer(minr));
	json_object_set_new(l, "use_layerwise", json_boolean(layerwise));
	json_object_set_new(e->obj, "lmcache", l);
	kvw_out_field(o, "lmcache_settings", "LMCache", NULL, json_string(text));
}

/* llm-d inference scheduler.  approx-prefix-cache-producer: blockSizeTokens
 * (the engine's block), lruCapacityPerServer (blocks one endpoint caches):
 * pkg/epp/framework/plugins/requestcontrol/dataproducer/approximateprefix/README.md;
 * prefix-cache-affinity-filter: affinityThreshold (default 0.80),
 * maxTTFTPenaltyMs (default 5000; break stickiness when the sticky
 * endpoint's predicted TTFT is worse by more):
 * pkg/epp/framework/plugins/scheduling/filter/prefixcacheaffinity/README.md, both in
 * github.com/llm-d/llm-d-inference-scheduler (main, May 2026). */
static void llmd(engine_ctx *e, kvw_out *o)
{
	const kvw_cache_study *s = e->s;
	int tp = s->sc->kv.tp > 0 ? s->sc->kv.tp : 1;
	double block_bytes = s->block_bytes / (double)s->base.block_tokens * (double)e->vllm_block;
	double hbm_blocks = floor(s->base.tier[KVW_TIER_HBM].capacity_bytes / block_bytes);
	long lru = isfinite(hbm_blocks) && hbm_blocks < 1e15 ? (long)hbm_blocks : 0; /* 0: unbounded, llm-d's "unset" */
	const kvw_cache_stats *none = &s->cfgs[0].st;
	double saved_ms = e->w->st.hit_requests > 0
	                  ? (none->gpu_s - e->w->st.gpu_s) / tp / (double)e->w->st.hit_requests * 1e3 : 0;
	char text[400];
	snprintf(text, sizeof text, "approx-prefix-cache-producer blockSizeTokens: %ld, lruCapacityPerServer: %ld; "
	         "prefix-cache-affinity-filter affinityThreshold: 0.80 (the default, not tuned here), maxTTFTPenaltyMs: "
	         "%.0f (the prefill time a hit saves on average)", e->vllm_block, lru, ceil(saved_ms));
	json_t *l = json_object();
	json_object_set_new(l, "blockSizeTokens", json_integer(e->vllm_block));
	json_object_set_new(l, "lruCapacityPerServer", json_integer(lru));
	json_object_set_new(l, "affinityThreshold", json_real(0.80));
	json_object_set_new(l, "maxTTFTPenaltyMs", kvw_num(ceil(saved_ms)));
	json_object_set_new(e->obj, "llm_d", l);
	kvw_out_field(o, "llmd_settings", "llm-d", NULL, json_string(text));
}

void kvw_cache_engine_fields(const kvw_cache_study *s, const kvw_tier_decision dec[KVW_TIERS], int gpus_per_node,
                             kvw_out *o)
{
	engine_ctx e = { .s = s, .w = &s->cfgs[s->winner], .dec = dec, .gpus_per_node = gpus_per_node > 0 ? gpus_per_node : 1,
	                 .obj = json_object() };
	vllm(&e, o);
	lmcache(&e, o);
	llmd(&e, o);
	kvw_out_field(o, "engine_settings", NULL, NULL, e.obj);
	kvw_out_note(o, "engine settings are for the best configuration; sources: vLLM engine arguments and prefix "
	             "caching design pages (docs.vllm.ai), LMCache configuration reference (docs.lmcache.ai) and "
	             "lmcache/v1/config.py, llm-d-inference-scheduler plugin READMEs (cited in cache_engines.c)");
}
