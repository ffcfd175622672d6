/* plan_input.c — what `kvwall plan` simulates, from its options: the
 * cluster (model, GPU, links, the handoff's fixed costs, the decode steps),
 * the workload (a trace, or a synthetic spec), the SLOs and the search
 * space.  Every number says where it came from.
 *
 * Defaults where nothing was measured, with their sources:
 *   per descriptor of a scattered handoff   2 us: vllm-project/vllm#50913
 *       (NixlConnector RFC): at the default 16-token blocks a ~5k-token pull
 *       fragments into tens of thousands of ~8 KB descriptors and per-
 *       descriptor overhead dominates its ~105 ms transfer window; 64-token
 *       blocks (4x fewer descriptors) cut it by ~58 ms, i.e. ~2 us each.  A
 *       profile's kv_messages (extra cost per message, measured) replaces it.
 *   handshake per handoff                   1 ms: kvwall's estimate of the
 *       metadata exchange and completion notification of one request's
 *       transfer (the same RFC measures a ~263 ms handover of which the
 *       transfer window is ~105 ms; the rest is mostly step alignment, which
 *       the simulation models itself).  Labelled assumed.
 *   fixed cost per layer per pass          30 us: kvwall's estimate: a
 *       transformer layer runs ~12 kernels (norms, QKV, RoPE, attention, O,
 *       gate/up, activation, down, residuals) and each costs a few
 *       microseconds of launch and tail even under CUDA graphs (NVIDIA,
 *       "Getting Started with CUDA Graphs", developer.nvidia.com/blog/
 *       cuda-graphs: a few us per kernel launch).  A profile's "decode"
 *       section (measured fixed part per layer) replaces it.
 *   TP all-reduce                           comm.c's ring over the intra-node
 *       link: 2 (t - 1) alpha + 2 (t - 1) / t x bytes / B, two per layer.
 *   pack bandwidth                          the profile's kv_pack probe (pack
 *       variants, median GB/s), else half the HBM bandwidth (a gather reads
 *       and writes every byte).
 */
#define _POSIX_C_SOURCE 200809L
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kvw_config.h"
#include "kvw_synth.h"
#include "kvw_trace.h"

/* ---- small parsers ------------------------------------------------------------------ */

static kvw_err int_list(const char *text, const char *opt, long *out, int max, long lo, long hi, int *n, kvw_diag *d)
{
	*n = 0;
	const char *p = text;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || (*end && *end != ',') || v < lo || v > hi)
			return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not a list of whole numbers in [%ld, %ld]", opt, text, lo, hi);
		if (*n == max)
			return kvw_fail(d, KVW_EUSAGE, "--%s: at most %d values", opt, max);
		out[(*n)++] = v;
		p = *end ? end + 1 : end;
	}
	if (*n == 0)
		return kvw_fail(d, KVW_EUSAGE, "--%s: empty list", opt);
	return KVW_OK;
}

/* N | fixed:N | uniform:MIN:MAX | lognormal:MEAN:CV */
static kvw_err len_spec(const char *text, const char *opt, kvw_len_dist *l, kvw_diag *d)
{
	char kind[16] = "";
	double a = 0, b = 0;
	char tail;
	if (sscanf(text, "%lf%c", &a, &tail) == 1)
		*l = (kvw_len_dist){ KVW_LEN_FIXED, a, 0 };
	else if (sscanf(text, "%15[a-z]:%lf:%lf%c", kind, &a, &b, &tail) == 3 && strcmp(kind, "uniform") == 0)
		*l = (kvw_len_dist){ KVW_LEN_UNIFORM, a, b };
	else if (sscanf(text, "%15[a-z]:%lf:%lf%c", kind, &a, &b, &tail) == 3 && strcmp(kind, "lognormal") == 0)
		*l = (kvw_len_dist){ KVW_LEN_LOGNORMAL, a, b };
	else if (sscanf(text, "%15[a-z]:%lf%c", kind, &a, &tail) == 2 && strcmp(kind, "fixed") == 0)
		*l = (kvw_len_dist){ KVW_LEN_FIXED, a, 0 };
	else
		return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not N, fixed:N, uniform:MIN:MAX or lognormal:MEAN:CV", opt, text);
	double top = l->kind == KVW_LEN_UNIFORM ? b : a;
	if (top > KVW_TRACE_MAX_TOKENS)
		return kvw_fail(d, KVW_EUSAGE, "--%s: %g tokens is above the %ld a request may have", opt, top,
		                KVW_TRACE_MAX_TOKENS);
	return kvw_len_check(l, opt, d);
}

/* ---- the workload ------------------------------------------------------------------------ */

static kvw_err workload(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	if (a->trace && a->synthetic)
		return kvw_fail(d, KVW_EUSAGE, "give --trace or --synthetic, not both");
	if (!a->trace && !a->synthetic)
		return kvw_fail(d, KVW_EUSAGE, "no workload: give --trace NAME|PATH (e.g. mooncake-conversation) or "
		                "--synthetic N --rate R");
	kvw_err err;
	if (a->trace) {
		if (kvw_opts_seen(a, "rate") || kvw_opts_seen(a, "isl") || kvw_opts_seen(a, "osl") || kvw_opts_seen(a, "cv"))
			return kvw_fail(d, KVW_EUSAGE, "--rate, --cv, --isl and --osl describe a --synthetic workload");
		if ((err = kvw_trace_open(a->trace, &in->w, d)))
			return err;
		snprintf(in->workload_source, sizeof in->workload_source, "trace %s: %zu requests over %.0f s", in->w.name,
		         in->w.n, in->w.req[in->w.n - 1].arrival_s);
	} else {
		if (!kvw_opts_seen(a, "rate"))
			return kvw_fail(d, KVW_EUSAGE, "--synthetic needs --rate R (requests per second)");
		kvw_synth s = { .n = (size_t)a->synthetic, .rate = a->rate, .cv = a->cv, .seed = (uint64_t)a->seed,
		                .max_tokens = KVW_TRACE_MAX_TOKENS };
		if ((err = len_spec(a->isl, "isl", &s.isl, d)) || (err = len_spec(a->osl, "osl", &s.osl, d))
		    || (err = kvw_synth_make(&s, &in->w, d)))
			return err;
		snprintf(in->workload_source, sizeof in->workload_source, "%s, input %s, output %s", in->w.name, a->isl,
		         a->osl);
	}
	size_t n = a->max_requests > 0 && (size_t)a->max_requests < in->w.n ? (size_t)a->max_requests : in->w.n;
	for (size_t i = 0; i < n; i++)
		in->max_tokens = fmax(in->max_tokens, (double)(in->w.req[i].input_tokens + in->w.req[i].output_tokens));
	if (n < in->w.n) {
		size_t len = strlen(in->workload_source);
		snprintf(in->workload_source + len, sizeof in->workload_source - len, "; first %zu requests", n);
	}
	if (n > 0 && in->w.req[n - 1].arrival_s <= 0)
		return kvw_fail(d, KVW_EINPUT, "%s: every request arrives at t = 0; a rate needs a timeline", in->w.name);
	in->bisect.max_requests = n;
	return KVW_OK;
}

/* ---- the decode table ---------------------------------------------------------------------- */

static int index_of(double *v, int *n, double x, int max)
{
	for (int i = 0; i < *n; i++)
		if (v[i] == x)
			return i;
	if (*n == max)
		return -1;
	int i = *n;
	while (i > 0 && v[i - 1] > x) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = x;
	(*n)++;
	return i;
}

static bool pos(const json_t *o, const char *k, double *x)
{
	const json_t *v = json_object_get(o, k);
	*x = json_is_number(v) ? json_number_value(v) : NAN;
	return isfinite(*x) && *x > 0;
}

kvw_err plan_read_decode(const json_t *profile, const char *where, kvw_decode_table *t, bool *have, char *source,
                         size_t len, kvw_diag *d)
{
	memset(t, 0, sizeof *t);
	const json_t *dec = json_object_get(profile, "decode"), *pts = json_object_get(dec, "points");
	*have = false;
	if (!dec)
		return KVW_OK;
	if (!json_is_array(pts) || json_array_size(pts) == 0)
		return kvw_fail(d, KVW_EINPUT, "%s: decode.points must be a non-empty array", where);
	size_t i;
	const json_t *p;
	json_array_foreach(pts, i, p) { /* first pass: the grid's axes */
		double b, c;
		if (!pos(p, "batch", &b) || !pos(p, "ctx", &c) || index_of(t->batch, &t->n_batch, b, KVW_SIM_GRID) < 0
		    || index_of(t->ctx, &t->n_ctx, c, KVW_SIM_GRID) < 0)
			return kvw_fail(d, KVW_EINPUT, "%s: decode.points[%zu] needs positive batch and ctx (at most %d of each)",
			                where, i, KVW_SIM_GRID);
	}
	if ((size_t)(t->n_batch * t->n_ctx) != json_array_size(pts))
		return kvw_fail(d, KVW_EINPUT, "%s: decode.points must be a full batch x ctx grid (%d x %d = %d points, not %zu)",
		                where, t->n_batch, t->n_ctx, t->n_batch * t->n_ctx, json_array_size(pts));
	json_array_foreach(pts, i, p) {
		double b, c, layer, bytes, fixed = 0;
		pos(p, "batch", &b);
		pos(p, "ctx", &c);
		if (!pos(p, "layer_s", &layer) || !pos(p, "bytes", &bytes))
			return kvw_fail(d, KVW_EINPUT, "%s: decode.points[%zu] needs positive layer_s and bytes", where, i);
		const json_t *f = json_object_get(p, "fixed_s");
		if (json_is_number(f) && json_number_value(f) > 0 && json_number_value(f) < layer)
			fixed = json_number_value(f);
		int bi = index_of(t->batch, &t->n_batch, b, KVW_SIM_GRID), ci = index_of(t->ctx, &t->n_ctx, c, KVW_SIM_GRID);
		if (t->bw[bi][ci] > 0)
			return kvw_fail(d, KVW_EINPUT, "%s: decode.points[%zu]: batch %g, ctx %g given twice", where, i, b, c);
		t->fixed_s[bi][ci] = fixed;
		t->bw[bi][ci] = bytes / (layer - fixed); /* the bytes part's bandwidth */
	}
	const char *model = json_string_value(json_object_get(dec, "model"));
	const char *backend = json_string_value(json_object_get(dec, "backend"));
	bool example = json_is_true(json_object_get(profile, "example"));
	snprintf(source, len, "measured decode steps in %s (%s, %s, %d batch x %d ctx points; other models and TPs by "
	         "their bytes)%s", where, model ? model : "?", backend ? backend : "?", t->n_batch, t->n_ctx,
	         example ? " (hand-written EXAMPLE, not a measurement)" : "");
	*have = true;
	return KVW_OK;
}

/* median GB/s of the profile's kv_pack "pack_*" records, 0 when none */
static double pack_gbps(const json_t *profile)
{
	double v[64];
	int n = 0;
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(profile, "results"), i, r) {
		const char *probe = json_string_value(json_object_get(r, "probe"));
		const char *var = json_string_value(json_object_get(r, "variant"));
		double g;
		if (probe && var && strcmp(probe, "kv_pack") == 0 && strncmp(var, "pack_", 5) == 0 && pos(r, "gbps", &g)
		    && n < 64)
			v[n++] = g;
	}
	if (n == 0)
		return 0;
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
			double t = v[b];
			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the cluster ------------------------------------------------------------------------------ */

static kvw_err intra_link(const kvw_args *a, plan_inputs *in, const kvw_hw_gpu *gpu, kvw_diag *d)
{
	const char *name = a->intra_link ? a->intra_link : gpu->peer_link[0] ? gpu->peer_link : "nvlink4";
	const kvw_profile_link *pl = in->setup->have_profile ? kvw_profile_find_link(&in->setup->profile, name) : NULL;
	if (pl) {
		in->cluster.intra = pl->link;
		snprintf(in->intra_source, sizeof in->intra_source, "measured fit in %s: %.4g GB/s, alpha %.4g us",
		         in->setup->profile.path, pl->link.bw / 1e9, pl->link.alpha_s * 1e6);
	} else {
		kvw_hw_link l;
		kvw_err err = kvw_catalog_link(name, &l, d);
		if (err)
			return kvw_prefix(d, err, "--intra-link");
		double eff = l.efficiency > 0 ? l.efficiency : 1;
		in->cluster.intra = (kvw_link){ l.latency_s, l.bw * eff };
		snprintf(in->intra_source, sizeof in->intra_source,
		         "spec sheet %s: %.4g GB/s x achieved fraction %.3g, latency %.4g us%s", l.name, l.bw / 1e9, eff,
		         l.latency_s * 1e6, a->intra_link ? "" : " (the GPU sheet's peer link)");
	}
	snprintf(in->intra_name, sizeof in->intra_name, "%s", name);
	return KVW_OK;
}

static kvw_err decode_and_pack(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	kvw_cluster *c = &in->cluster;
	double pack = 0;
	if (a->profile) {
		json_t *root;
		kvw_err err = kvw_read_json(a->profile, 1u << 26, &root, d);
		if (err)
			return err;
		err = plan_read_decode(root, a->profile, &in->decode, &in->have_decode, in->decode_source,
		                       sizeof in->decode_source, d);
		pack = pack_gbps(root) * 1e9;
		json_decref(root);
		if (err)
			return err;
	}
	c->decode = in->have_decode ? &in->decode : NULL;
	if (!in->have_decode)
		snprintf(in->decode_source, sizeof in->decode_source, "HBM bound (%s) + %.3g us per layer per pass "
		         "(launches, kvwall estimate) + 2 all-reduces per layer at TP > 1", in->setup->hbm_source,
		         c->layer_fixed_s * 1e6);
	c->pack_bw = pack > 0 ? pack : c->hbm_bw / 2;
	return KVW_OK;
}

static void costs(const kvw_args *a, plan_inputs *in)
{
	kvw_cluster *c = &in->cluster;
	double msg = in->setup->sc.message_s;
	c->inter_desc_s = kvw_opts_seen(a, "desc-us") ? a->desc_us * 1e-6 : msg > 0 ? msg : PLAN_DESC_US * 1e-6;
	c->intra_desc_s = kvw_opts_seen(a, "desc-us") ? a->desc_us * 1e-6 : PLAN_DESC_US * 1e-6;
	c->handshake_s = a->handshake_us * 1e-6;
	c->layer_fixed_s = a->launch_us * 1e-6;
}

static void costs_describe(const kvw_args *a, plan_inputs *in, bool packed_measured)
{
	const kvw_cluster *c = &in->cluster;
	double msg = in->setup->sc.message_s;
	snprintf(in->costs_source, sizeof in->costs_source,
	         "handoff: %.4g us handshake (%s) + link alpha + min(scatter at %.3g us per descriptor (%s), pack at "
	         "%.4g GB/s (%s))", c->handshake_s * 1e6, kvw_opts_seen(a, "handshake-us") ? "given" : "assumed",
	         c->inter_desc_s * 1e6, kvw_opts_seen(a, "desc-us") ? "given" : msg > 0 ? "measured kv_messages"
	         : "vllm#50913", c->pack_bw / 1e9, packed_measured ? "measured kv_pack" : "half of HBM");
}

static kvw_err cluster(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	kvw_setup *s = in->setup;
	kvw_cluster *c = &in->cluster;
	if (!a->hw)
		return kvw_fail(d, KVW_EUSAGE, "plan needs the GPU's memory: give --hw NAME (kvwall hw)%s",
		                a->profile ? " beside --profile" : "");
	kvw_hw_gpu gpu;
	kvw_err err = kvw_catalog_gpu(a->hw, &gpu, d);
	if (err)
		return err;
	snprintf(in->gpu_name, sizeof in->gpu_name, "%s", gpu.name);
	if (!(s->hbm_bw > 0))
		return kvw_fail(d, KVW_EUSAGE, "no HBM bandwidth: give --hw, --hbm-gbps or a profile with hbm");
	if (a->gpus % a->gpus_per_node && a->gpus > a->gpus_per_node)
		return kvw_fail(d, KVW_EUSAGE, "--gpus %ld is not a whole number of nodes of %ld", a->gpus, a->gpus_per_node);
	*c = (kvw_cluster){ .sc = &s->sc, .hbm_bw = s->hbm_bw, .gpus = (int)a->gpus,
	                    .gpus_per_node = (int)(a->gpus < a->gpus_per_node ? a->gpus : a->gpus_per_node),
	                    .inter = s->sc.link, .block_tokens = 16, .act_bytes = 2 };
	c->weight_bytes = s->weight_bytes; /* --weight-dtype, else the config's, as vLLM loads it */
	c->mem = s->mem;                   /* --gpu-memory-utilization, --mem-reserve-gb */
	snprintf(in->inter_source, sizeof in->inter_source, "%s", s->link_source);
	costs(a, in);
	if ((err = intra_link(a, in, &gpu, d)) || (err = decode_and_pack(a, in, d)))
		return err;
	costs_describe(a, in, c->pack_bw != c->hbm_bw / 2);
	return KVW_OK;
}

/* ---- SLOs and the space ------------------------------------------------------------------- */

static kvw_err space(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	kvw_space *sp = &in->space;
	long tps[KVW_SEARCH_MAX_TP], chunks[KVW_SEARCH_MAX_CHUNKS];
	int n;
	kvw_err err;
	*sp = (kvw_space){ .gpus = (int)a->gpus, .prefill_chunk = a->prefill_chunk, .decode_chunk = a->decode_chunk,
	                   .layerwise = a->layerwise, .threshold = a->threshold };
	if ((err = int_list(a->tps, "tps", tps, KVW_SEARCH_MAX_TP, 1, 64, &n, d)))
		return err;
	for (int i = 0; i < n; i++)
		sp->tps[sp->n_tps++] = (int)tps[i];
	if ((err = int_list(a->chunks, "chunks", chunks, KVW_SEARCH_MAX_CHUNKS, 16, 1L << 20, &n, d)))
		return err;
	for (int i = 0; i < n; i++)
		sp->chunks[sp->n_chunks++] = chunks[i];
	for (const char *p = a->deployments; *p;) {
		size_t l = strcspn(p, ",");
		if (l == 10 && strncmp(p, "aggregated", l) == 0)
			sp->agg = true;
		else if (l == 13 && strncmp(p, "disaggregated", l) == 0)
			sp->disagg = true;
		else if (l == 6 && strncmp(p, "hybrid", l) == 0)
			sp->hybrid = true;
		else
			return kvw_fail(d, KVW_EUSAGE, "--deployments: '%.*s' is not aggregated, disaggregated or hybrid",
			                (int)l, p);
		p += l + (p[l] == ',');
	}
	if (strcmp(a->route, "all") != 0 && !kvw_route_find(a->route))
		return kvw_fail(d, KVW_EUSAGE, "--route: unknown policy '%s' (transfer, recompute, threshold, load-aware, all)",
		                a->route);
	sp->route = strcmp(a->route, "all") == 0 ? "transfer" : a->route;
	return KVW_OK;
}

/* ---- the prefix cache ------------------------------------------------------------------- */

static const char *const cache_options[] = {
	"hbm", "dram", "ssd", "remote", "dram-link", "ssd-link", "remote-link", "dram-gbps", "ssd-gbps", "remote-gbps",
	"policy", "cache-route", "block-tokens", "no-prefetch", "write-through", "unique-without-hashes",
};

/* --hbm: pool (the free KV of each instance, vLLM's and SGLang's prefix cache) or at most SIZE of it */
static kvw_err hbm_tier(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	kvw_tier_cfg *h = &in->cache.cache.tier[KVW_TIER_HBM];
	if (strcasecmp(a->hbm, "pool") == 0) {
		h->capacity_bytes = INFINITY;
		snprintf(in->tier_source[0], sizeof in->tier_source[0], "each instance's free KV pool (what its requests "
		         "do not hold), as vLLM's automatic prefix caching and SGLang's radix cache keep it");
		return KVW_OK;
	}
	kvw_err err = kvw_opts_bytes("hbm", a->hbm, &h->capacity_bytes, d);
	if (!err && h->capacity_bytes == 0)
		return kvw_fail(d, KVW_EUSAGE, "--hbm 0: the HBM tier must hold at least one block");
	snprintf(in->tier_source[0], sizeof in->tier_source[0], "at most %s per instance of its free KV pool", a->hbm);
	return err;
}

/* every capacity must hold a block at every TP searched (MLA's block grows with TP) */
static kvw_err cache_fits(const plan_inputs *in, kvw_diag *d)
{
	for (int k = 0; k < in->space.n_tps; k++) {
		kvw_scenario sc = in->setup->sc;
		sc.kv.tp = in->space.tps[k];
		kvw_cache_cfg g = in->cache.cache;
		g.instances = g.instances_per_node = 1;
		if (isinf(g.tier[KVW_TIER_HBM].capacity_bytes))
			g.tier[KVW_TIER_HBM].capacity_bytes = 0; /* the pool holds a request, so a block */
		kvw_cache *c;
		kvw_err err = kvw_cache_new(&g, &sc, 1, &c, d);
		if (err)
			return err;
		kvw_cache_free(c);
	}
	return KVW_OK;
}

static void cache_describe(const kvw_args *a, plan_inputs *in)
{
	const kvw_cache_cfg *g = &in->cache.cache;
	size_t n = 0, cap = sizeof in->cache_words;
	n += (size_t)snprintf(in->cache_words, cap, "HBM: %s", in->tier_source[0]);
	for (int t = KVW_TIER_DRAM; t < KVW_TIERS && n < cap; t++)
		if (g->tier[t].capacity_bytes > 0)
			n += (size_t)snprintf(in->cache_words + n, cap - n, "; %s %.4g GB per %s (%s)", kvw_tier_name(t),
			                      g->tier[t].capacity_bytes / 1e9, t == KVW_TIER_REMOTE ? "cluster" : "node",
			                      in->tier_source[t]);
	if (n < cap)
		snprintf(in->cache_words + n, cap - n, "; %s eviction, %ld-token blocks%s, %s placement, %s%s",
		         g->tier[0].policy, g->block_tokens, g->write_through ? ", write-through" : "",
		         in->cache.prefix_aware ? "prefix-aware" : "least-loaded",
		         in->cache.prefetch ? "prefetch while queued" : "loads when the prefill could start",
		         a->unique_without_hashes ? "; requests without hash_ids never hit" : "");
}

static kvw_err prefix_cache(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	if (!a->prefix_cache) {
		for (size_t i = 0; i < sizeof cache_options / sizeof cache_options[0]; i++)
			if (kvw_opts_seen(a, cache_options[i]))
				return kvw_fail(d, KVW_EUSAGE, "--%s describes the prefix cache: add --prefix-cache",
				                cache_options[i]);
		return KVW_OK;
	}
	kvw_sim_cache_cfg *g = &in->cache;
	const char *policy;
	kvw_err err;
	if ((err = kvw_cache_opt_hashes(a, &in->w, d)) || (err = kvw_cache_opt_policy(a->policy, false, &policy, d)))
		return err;
	if (strcasecmp(a->cache_route, "prefix-aware") != 0 && strcasecmp(a->cache_route, "least-loaded") != 0)
		return kvw_fail(d, KVW_EUSAGE, "--cache-route: '%s' is not prefix-aware or least-loaded", a->cache_route);
	kvw_cache_opt_blocks(a, &in->w, &g->cache);
	g->cache.instances = g->cache.instances_per_node = 1; /* each deployment sets its own */
	if ((err = hbm_tier(a, in, d)) || (err = kvw_cache_opt_lower_tiers(a, in->setup, &g->cache, in->tier_source, d)))
		return err;
	for (int t = 0; t < KVW_TIERS; t++)
		g->cache.tier[t].policy = policy;
	g->prefetch = !a->no_prefetch;
	g->prefix_aware = strcasecmp(a->cache_route, "prefix-aware") == 0;
	kvw_workload first = in->w; /* the requests simulated */
	first.n = in->bisect.max_requests;
	if ((err = cache_fits(in, d)) || (err = kvw_cache_ids_build(&g->cache, &in->setup->sc, &first, &in->ids, d)))
		return err;
	for (size_t r = 0; r < in->bisect.max_requests && r < in->ids.n_req; r++)
		if (in->ids.n[r] < 0)
			return kvw_fail(d, KVW_EINPUT, "%s: request %zu has no hash_ids: the prefix cache needs the trace's "
			                "block hashes (Mooncake traces carry them); --unique-without-hashes treats such "
			                "requests as never shared", in->w.name, r + 1);
	g->ids = &in->ids;
	in->cache_on = true;
	in->bisect.prefix = &kvw_prefix_tiered;
	in->bisect.prefix_cfg = &in->cache;
	cache_describe(a, in);
	return KVW_OK;
}

static void slo(const kvw_args *a, plan_inputs *in)
{
	in->slo = (kvw_slo){ a->ttft_ms * 1e-3, a->tpot_ms * 1e-3, a->percentile, a->attainment / 100 };
	/* a queue holding a quarter of a finite trace is how "grows without bound" looks */
	size_t n = in->bisect.max_requests;
	in->bisect.max_waiting = (long)(n / 4 > 16 ? n / 4 : 16);
	in->bisect.rel_tol = 0.02;
	in->jobs = a->jobs > 0 ? (int)a->jobs : plan_cores();
}

kvw_err plan_inputs_read(const kvw_args *a, plan_inputs *in, kvw_diag *d)
{
	memset(in, 0, sizeof *in);
	in->setup = calloc(1, sizeof *in->setup);
	if (!in->setup)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_args b = *a;
	b.tp = 1; /* plan searches TP itself */
	if (!b.link && !(b.gbps > 0))
		b.link = "ib-ndr";
	kvw_err err;
	if ((err = kvw_setup_full(&b, in->setup, true, d)) || (err = workload(a, in, d)) || (err = space(a, in, d))
	    || (err = cluster(a, in, d)))
		return err;
	if (!a->link && !(a->gbps > 0)) {
		size_t l = strlen(in->inter_source);
		snprintf(in->inter_source + l, sizeof in->inter_source - l, " (default: one 400 Gb/s NIC per GPU)");
	}
	slo(a, in);
	return prefix_cache(a, in, d);
}

void plan_inputs_free(plan_inputs *in)
{
	kvw_cache_ids_free(&in->ids);
	kvw_workload_free(&in->w);
	free(in->setup);
	in->setup = NULL;
}
