/* scenario.c — resolving options into a kvw_setup (see scenario.h). */
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kvw_config.h"

#define DEFAULT_HW_EFFICIENCY 0.6

kvw_err kvw_setup_model(const kvw_args *a, kvw_setup *s, kvw_diag *d)
{
	memset(s, 0, sizeof *s);
	if (a->catalog)
		kvw_catalog_set_dir(a->catalog);
	kvw_err err;
	if (a->model && a->config)
		return kvw_fail(d, KVW_EUSAGE, "give --model or --config, not both");
	if (a->model) {
		err = kvw_catalog_model(a->model, &s->arch, d);
		snprintf(s->model_source, sizeof s->model_source, "catalog %s/models/%s.json",
		         kvw_catalog_dir(), s->arch.name);
	} else if (a->config) {
		err = kvw_config_load(a->config, NULL, &s->arch, d);
		snprintf(s->model_source, sizeof s->model_source, "config %s", a->config);
	} else {
		return kvw_fail(d, KVW_EUSAGE, "no model: give --model NAME (see kvwall models) or --config PATH");
	}
	if (err)
		return err;
	s->sc.arch = &s->arch;
	s->sc.kv.tp = (int)a->tp;
	if (!kvw_dtype_parse(a->kv_dtype, &s->sc.kv.dtype))
		return kvw_fail(d, KVW_EUSAGE, "--kv-dtype: unknown dtype '%s' (bf16, fp16, fp8, int4)", a->kv_dtype);
	char why[256];
	if (!kvw_kvfmt_check(&s->arch, &s->sc.kv, why, sizeof why))
		return kvw_fail(d, KVW_EUSAGE, "%s", why);
	s->sc.causal = !a->non_causal;
	s->sc.layerwise = a->layerwise;
	s->sc.message_tokens = a->message_tokens;
	s->sc.compute_slowdown = s->sc.copy_slowdown = 1.0;
	return KVW_OK;
}

static kvw_err compute_from_hw(const kvw_args *a, kvw_setup *s, const kvw_hw_gpu *gpu, kvw_diag *d)
{
	kvw_dtype dt;
	if (!kvw_dtype_parse(a->dtype, &dt) || dt == KVW_DT_INT4)
		return kvw_fail(d, KVW_EUSAGE, "--dtype: unknown compute dtype '%s'", a->dtype);
	if (!(gpu->peak_flops[dt] > 0))
		return kvw_fail(d, KVW_EUSAGE, "%s has no %s peak in its spec sheet", gpu->name, a->dtype);
	double eff = kvw_opts_seen(a, "efficiency") ? a->efficiency : DEFAULT_HW_EFFICIENCY;
	s->sc.compute.gemm.constant = s->sc.compute.attn.constant = gpu->peak_flops[dt] * eff;
	snprintf(s->compute_source, sizeof s->compute_source,
	         "spec sheet %s: %s dense peak %.1f TFLOP/s x efficiency %.2f%s", gpu->name, a->dtype,
	         gpu->peak_flops[dt] / 1e12, eff, kvw_opts_seen(a, "efficiency") ? "" : " (assumed)");
	return KVW_OK;
}

static kvw_err resolve_compute(const kvw_args *a, kvw_setup *s, const kvw_hw_gpu *gpu, kvw_diag *d)
{
	if (a->tflops > 0 && gpu)
		return kvw_fail(d, KVW_EUSAGE, "give --tflops or --hw, not both");
	if (a->tflops > 0) {
		double eff = kvw_opts_seen(a, "efficiency") ? a->efficiency : 1.0;
		s->sc.compute.gemm.constant = s->sc.compute.attn.constant = a->tflops * 1e12 * eff;
		snprintf(s->compute_source, sizeof s->compute_source,
		         "given: %.3g TFLOP/s x efficiency %.2f", a->tflops, eff);
		return KVW_OK;
	}
	/* a measured curve beats a spec sheet; --hw then only fills gaps (HBM) */
	if (s->have_profile && s->profile.has_prefill && !kvw_opts_seen(a, "efficiency")) {
		s->sc.compute = s->profile.compute;
		const char *m = s->profile.prefill_model;
		snprintf(s->compute_source, sizeof s->compute_source, "measured prefill curve (%s layer shapes%s) in %s%s",
		         m[0] ? m : "?", m[0] && strcasecmp(m, s->arch.name) ? ", another model's" : "", s->profile.path,
		         s->profile.example ? " (hand-written EXAMPLE profile, not a measurement)" : "");
		return KVW_OK;
	}
	if (gpu)
		return compute_from_hw(a, s, gpu, d);
	if (s->have_profile && s->profile.has_prefill)
		return kvw_fail(d, KVW_EUSAGE, "--efficiency applies to --hw or --tflops, not to a measured profile");
	if (s->have_profile)
		return kvw_fail(d, KVW_EUSAGE, "%s has no prefill curve: add --hw NAME or --tflops X", s->profile.path);
	return kvw_fail(d, KVW_EUSAGE, "no compute rate: give --hw NAME, --profile FILE or --tflops X");
}

/* Levenshtein distance, capped at 99 (names are short) */
static int edits(const char *a, const char *b)
{
	size_t m = strlen(a), n = strlen(b);
	if (m > 95 || n > 95)
		return 99;
	int row[96];
	for (size_t j = 0; j <= n; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= m; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= n; j++) {
			int up = row[j], cost = a[i - 1] != b[j - 1];
			int best = diag + cost < up + 1 ? diag + cost : up + 1;
			row[j] = best < row[j - 1] + 1 ? best : row[j - 1] + 1;
			diag = up;
		}
	}
	return row[n];
}

/* appends names to buf (", "-separated) and keeps the closest to want in
 * *best: a name want begins, else one a few edits away */
static void list_names(const char *want, const char *const *names, int n, char *buf, size_t cap, const char **best,
                       int *best_d)
{
	size_t used = strlen(buf);
	for (int i = 0; i < n; i++) {
		used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s", i ? ", " : "", names[i]);
		size_t nl = strlen(names[i]);
		bool prefix = strncasecmp(names[i], want, strlen(want)) == 0 || (nl >= 4 && strncasecmp(want, names[i], nl) == 0);
		int dist = prefix ? 1 : edits(want, names[i]);
		if (dist < *best_d && dist <= 2 + (int)strlen(want) / 5)
			*best = names[i], *best_d = dist;
	}
}

/* --link NAME found nowhere: the message lists the profile's links and the
 * catalog's, and the nearest name */
static kvw_err unknown_link(const char *want, const kvw_setup *s, kvw_diag *d)
{
	char known[400] = "", **cat = NULL, hint[160] = "";
	const char *names[KVW_PROFILE_MAX_LINKS], *best = NULL;
	int n_cat = 0, best_d = 99;
	if (s->have_profile) {
		for (int i = 0; i < s->profile.n_links; i++)
			names[i] = s->profile.links[i].name;
		snprintf(known, sizeof known, "the profile's: ");
		list_names(want, names, s->profile.n_links, known, sizeof known, &best, &best_d);
		if (!s->profile.n_links)
			snprintf(known, sizeof known, "the profile has none; ");
		else
			snprintf(known + strlen(known), sizeof known - strlen(known), "; ");
	}
	size_t at = strlen(known);
	if (kvw_catalog_list(KVW_CAT_LINK, &cat, &n_cat, d) == KVW_OK) {
		snprintf(known + at, sizeof known - at, "the catalog's: ");
		list_names(want, (const char *const *)cat, n_cat, known, sizeof known, &best, &best_d);
	}
	if (best)
		snprintf(hint, sizeof hint, "; did you mean '%s'?", best);
	kvw_err err = kvw_fail(d, KVW_EUSAGE, "unknown link '%s'%s (%s)", want, hint, known);
	kvw_catalog_free_names(cat, n_cat);
	return err;
}

static kvw_err resolve_link(const kvw_args *a, kvw_setup *s, bool need, kvw_diag *d)
{
	if (a->gbps > 0 && a->link)
		return kvw_fail(d, KVW_EUSAGE, "give --link or --gbps, not both");
	if (kvw_opts_seen(a, "alpha-us") && !(a->gbps > 0))
		return kvw_fail(d, KVW_EUSAGE, "--alpha-us goes with --gbps");
	if (a->gbps > 0) {
		s->sc.link = (kvw_link){ .alpha_s = a->alpha_us * 1e-6, .bw = a->gbps * 1e9 };
		snprintf(s->link_name, sizeof s->link_name, "given");
		snprintf(s->link_source, sizeof s->link_source, "given: %.4g GB/s, alpha %.4g us", a->gbps, a->alpha_us);
		return KVW_OK;
	}
	const kvw_profile_link *pl = NULL;
	if (s->have_profile && a->link)
		pl = kvw_profile_find_link(&s->profile, a->link);
	else if (s->have_profile && s->profile.n_links == 1)
		pl = &s->profile.links[0];
	if (pl && pl->failed[0])
		return kvw_fail(d, KVW_EINPUT, "link '%s' of %s was fitted from a failed measurement (%s): measure it again",
		                pl->name, s->profile.path, pl->failed);
	if (pl) {
		s->sc.link = pl->link;
		s->sc.message_s = kvw_profile_message_cost(&s->profile, pl->name);
		snprintf(s->link_name, sizeof s->link_name, "%s", pl->name);
		char extra[96] = "";
		if (s->sc.message_s > 0)
			snprintf(extra, sizeof extra, ", %.4g us per further message (kv_messages)", s->sc.message_s * 1e6);
		snprintf(s->link_source, sizeof s->link_source, "measured fit in %s: %.4g GB/s, alpha %.4g us%s%s",
		         s->profile.path, pl->link.bw / 1e9, pl->link.alpha_s * 1e6, extra,
		         s->profile.example ? " (EXAMPLE profile)" : "");
		return KVW_OK;
	}
	if (a->link) {
		kvw_hw_link l;
		kvw_err err = kvw_catalog_link(a->link, &l, d);
		if (err == KVW_EUSAGE)
			return unknown_link(a->link, s, d);
		if (err)
			return err;
		s->sc.link = (kvw_link){ .alpha_s = l.latency_s, .bw = l.bw };
		snprintf(s->link_name, sizeof s->link_name, "%s", l.name);
		snprintf(s->link_source, sizeof s->link_source, "spec sheet %s: %.4g GB/s, latency %.4g us",
		         l.name, l.bw / 1e9, l.latency_s * 1e6);
		return KVW_OK;
	}
	if (need)
		return kvw_fail(d, KVW_EUSAGE, "no link: give --link NAME (see kvwall hw%s) or --gbps Y",
		                s->have_profile ? ", or a link of the profile" : "");
	return KVW_OK;
}

static void resolve_hbm(const kvw_args *a, kvw_setup *s, const kvw_hw_gpu *gpu)
{
	if (a->hbm_gbps > 0) {
		s->hbm_bw = a->hbm_gbps * 1e9;
		snprintf(s->hbm_source, sizeof s->hbm_source, "given");
	} else if (s->have_profile && s->profile.hbm_bw > 0) {
		s->hbm_bw = s->profile.hbm_bw;
		snprintf(s->hbm_source, sizeof s->hbm_source, "measured copy kernel in %s", s->profile.path);
	} else if (gpu) {
		s->hbm_bw = gpu->hbm_bw;
		snprintf(s->hbm_source, sizeof s->hbm_source, "spec sheet %s", gpu->name);
	}
}

static kvw_err setup_rest(const kvw_args *a, kvw_setup *s, bool need_link, kvw_diag *d)
{
	kvw_err err;
	if (s->have_profile) {
		s->sc.compute_slowdown = s->profile.compute_slowdown;
		s->sc.copy_slowdown = s->profile.copy_slowdown;
	}
	kvw_hw_gpu gpu;
	if (a->hw && (err = kvw_catalog_gpu(a->hw, &gpu, d)))
		return err;
	if ((err = resolve_compute(a, s, a->hw ? &gpu : NULL, d))
	    || (err = resolve_link(a, s, need_link, d)))
		return err;
	resolve_hbm(a, s, a->hw ? &gpu : NULL);
	if (kvw_opts_seen(a, "overhead-us"))
		s->sc.compute.overhead_s = a->overhead_us * 1e-6;
	if (kvw_opts_seen(a, "compute-slowdown"))
		s->sc.compute_slowdown = a->compute_slowdown;
	if (kvw_opts_seen(a, "copy-slowdown"))
		s->sc.copy_slowdown = a->copy_slowdown;
	return KVW_OK;
}

kvw_err kvw_setup_full(const kvw_args *a, kvw_setup *s, bool need_link, kvw_diag *d)
{
	kvw_err err = kvw_setup_model(a, s, d);
	if (err)
		return err;
	if (a->profile) {
		if ((err = kvw_profile_load(a->profile, &s->profile, d)))
			return err;
		s->have_profile = true;
	}
	return setup_rest(a, s, need_link, d);
}

kvw_err kvw_setup_with_profile(const kvw_args *a, const json_t *profile, const char *where, kvw_setup *s,
                               bool need_link, kvw_diag *d)
{
	kvw_err err = kvw_setup_model(a, s, d);
	if (err)
		return err;
	snprintf(s->profile.path, sizeof s->profile.path, "%s", where);
	if ((err = kvw_profile_parse(profile, &s->profile, d)))
		return kvw_prefix(d, err, where);
	s->have_profile = true;
	return setup_rest(a, s, need_link, d);
}

bool kvw_setup_ctx_note(const kvw_setup *s, long ctx, kvw_out *o)
{
	long window = s->arch.max_position;
	if (window <= 0 || ctx <= window)
		return false;
	kvw_out_note(o, "context %ld tokens is beyond %s's context window (max_position_embeddings = %ld): the model "
	             "was not built for it, these figures extrapolate", ctx, s->arch.name, window);
	return true;
}

void kvw_setup_describe(const kvw_setup *s, kvw_out *o, bool with_link)
{
	kvw_out_field(o, "model", "model", NULL, json_string(s->arch.name));
	kvw_out_field(o, "model_source", "model source", NULL, json_string(s->model_source));
	kvw_out_field(o, "kv_dtype", "KV dtype", NULL, json_string(kvw_dtype_name(s->sc.kv.dtype)));
	kvw_out_field(o, "tp", "tensor parallel", NULL, json_integer(s->sc.kv.tp));
	if (!s->compute_source[0])
		return;
	kvw_out_field(o, "compute_source", "compute", NULL, json_string(s->compute_source));
	if (with_link) {
		kvw_out_field(o, "link", "link", NULL, json_string(s->link_name));
		kvw_out_field(o, "link_source", "link source", NULL, json_string(s->link_source));
		kvw_out_field(o, "link_gbps", "link bandwidth", "%.4g GB/s", kvw_num(s->sc.link.bw / 1e9));
		kvw_out_field(o, "link_alpha_us", "link latency", "%.4g us", kvw_num(s->sc.link.alpha_s * 1e6));
	}
	kvw_out_field(o, "attention", "attention", NULL, json_string(s->sc.causal ? "causal" : "non-causal"));
	kvw_out_field(o, "transfer_mode", "transfer mode", NULL,
	              json_string(s->sc.layerwise ? "layerwise" : "bulk"));
	kvw_out_note(o, "recompute = linear FLOPs / R_gemm + attention FLOPs / R_attn (+ overhead %.3g us), "
	             "linear = 2 x active non-embedding params x L, attention = 2 x heads x (d_qk + d_v) x %s pairs; "
	             "each of the %d tensor-parallel GPUs does 1/%d", s->sc.compute.overhead_s * 1e6,
	             s->sc.causal ? "causal L(L+1)/2" : "non-causal L^2", s->sc.kv.tp, s->sc.kv.tp);
	if (s->sc.compute.elementwise.n > 0)
		kvw_out_note(o, "recompute also counts the layer's element-wise kernels (norms, RoPE + KV write, "
		             "activation, residual adds) at their measured time per token per layer");
	if (with_link)
		kvw_out_note(o, "transfer = %s; GB = 1e9 bytes, one direction; slowdowns compute x%.3g, copy x%.3g",
		             s->sc.layerwise ? "exposed time after the last layer of a layer-wise pipelined send"
		                             : "messages x alpha + KV bytes / B (each GPU sends its shard over its own link)",
		             s->sc.compute_slowdown, s->sc.copy_slowdown);
	if (with_link && s->sc.message_tokens > 0)
		kvw_out_note(o, "the KV moves as one message per layer x %ld-token block, each paying the link's alpha",
		             s->sc.message_tokens);
}
