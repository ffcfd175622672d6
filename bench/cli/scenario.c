/* scenario.c — resolving options into a kvw_setup (see scenario.h). */
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kvw_config.h"

#define DEFAULT_HW_EFFICIENCY 0.6
#define MAX_AUTO_TP 64

static kvw_err parse_tp(const kvw_args *a, kvw_setup *s, kvw_diag *d)
{
	s->n_tps = 1;
	s->tps[0] = a->tp > 0 ? a->tp : 1;
	if (!a->tp_text)
		return KVW_OK;
	if (strcmp(a->tp_text, "auto") == 0) {
		s->tp_auto = true;
		return KVW_OK;
	}
	return kvw_opts_count_list("tp", a->tp_text, 1, 1024, s->tps, KVW_MAX_TPS, &s->n_tps, d);
}

/* --ctx as given; its default no longer than the model's window */
static void resolve_ctx(const kvw_args *a, kvw_setup *s)
{
	s->ctx = a->ctx;
	long w = s->arch.max_position;
	if (!kvw_opts_seen(a, "ctx") && w > 0 && s->ctx > w) {
		snprintf(s->ctx_note, sizeof s->ctx_note, "context: %ld tokens, the model's window "
		         "(max_position_embeddings; the default %ld is beyond it)", w, s->ctx);
		s->ctx = w;
	}
}

static kvw_err weight_bytes(const kvw_args *a, kvw_setup *s, kvw_diag *d)
{
	const char *w = a->weight_dtype ? a->weight_dtype : "auto";
	if (strcmp(w, "auto") == 0) {
		s->weight_bytes = s->arch.weight_bytes > 0 ? s->arch.weight_bytes : 2;
		snprintf(s->weight_source, sizeof s->weight_source, "%s (auto: %s)",
		         s->arch.weight_dtype[0] ? s->arch.weight_dtype : "bf16",
		         s->arch.weight_dtype[0] ? "the config's dtype, as vLLM loads it" : "the config names none; 2 bytes");
		return KVW_OK;
	}
	kvw_dtype dt;
	if (!kvw_dtype_parse(w, &dt) || dt == KVW_DT_TF32)
		return kvw_fail(d, KVW_EUSAGE, "--weight-dtype: unknown dtype '%s' (auto, bf16, fp16, fp8, int4, fp32)", w);
	s->weight_bytes = dt == KVW_DT_FP8 ? 1 : dt == KVW_DT_INT4 ? 0.5 : dt == KVW_DT_FP32 ? 4 : 2;
	snprintf(s->weight_source, sizeof s->weight_source, "%s (given)", w);
	return KVW_OK;
}

/* --hw: the GPU whose memory a deployment must fit in */
static kvw_err resolve_gpu(const kvw_args *a, kvw_setup *s, kvw_hw_gpu *gpu, kvw_diag *d)
{
	if (!a->hw)
		return KVW_OK;
	kvw_err err = kvw_catalog_gpu(a->hw, gpu, d);
	if (err)
		return err;
	s->have_gpu = true;
	snprintf(s->gpu_name, sizeof s->gpu_name, "%s", gpu->name);
	snprintf(s->peer_link, sizeof s->peer_link, "%s", gpu->peer_link);
	s->mem = (kvw_mem_budget){
		.gpu_bytes = gpu->memory_bytes,
		.utilization = a->gpu_mem_util > 0 ? a->gpu_mem_util : KVW_DEFAULT_GPU_MEM_UTIL,
		.reserve_bytes = (kvw_opts_seen(a, "mem-reserve-gb") ? a->mem_reserve_gb : KVW_DEFAULT_MEM_RESERVE_GB) * 1e9,
	};
	return KVW_OK;
}

kvw_err kvw_setup_auto_tp(kvw_setup *s, kvw_diag *d)
{
	if (!s->have_gpu)
		return kvw_fail(d, KVW_EUSAGE, "--tp auto needs --hw: the GPU whose memory must hold the weights");
	int t = kvw_smallest_tp_that_fits(&s->arch, s->weight_bytes, s->sc.kv, &s->mem, (double)s->ctx, MAX_AUTO_TP);
	if (t == 0)
		return kvw_fail(d, KVW_EINPUT, "--tp auto: %s does not fit %s GPUs at any TP up to %d "
		                "(weights %s, KV of %ld tokens)", s->arch.name, s->gpu_name, MAX_AUTO_TP,
		                s->weight_source, s->ctx);
	s->tps[0] = t;
	s->n_tps = 1;
	s->sc.kv.tp = t;
	snprintf(s->tp_choice, sizeof s->tp_choice, "auto: the smallest TP whose weights and one %ld-token "
	         "request fit %s (%.0f GB)", s->ctx, s->gpu_name, s->mem.gpu_bytes / 1e9);
	return KVW_OK;
}

static kvw_err setup_model_only(const kvw_args *a, kvw_setup *s, kvw_diag *d)
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
	if (err || (err = parse_tp(a, s, d)))
		return err;
	s->sc.arch = &s->arch;
	s->sc.kv.tp = (int)s->tps[0];
	if (!kvw_kv_dtype_parse(a->kv_dtype ? a->kv_dtype : "bf16", &s->sc.kv.dtype))
		return kvw_fail(d, KVW_EUSAGE, "--kv-dtype: unknown dtype '%s' (bf16, fp16, fp8, int4; vLLM's auto, "
		                "fp8_e4m3, fp8_e5m2)", a->kv_dtype);
	char why[256];
	for (int i = 0; i < s->n_tps && !s->tp_auto; i++) {
		kvw_kvfmt f = { s->sc.kv.dtype, (int)s->tps[i] };
		if (!kvw_kvfmt_check(&s->arch, &f, why, sizeof why))
			return kvw_fail(d, KVW_EUSAGE, "%s", why);
	}
	snprintf(s->tp_choice, sizeof s->tp_choice, "given");
	s->sc.causal = !a->non_causal;
	s->sc.layerwise = a->layerwise;
	s->sc.message_tokens = a->message_tokens;
	s->sc.compute_slowdown = s->sc.copy_slowdown = 1.0;
	resolve_ctx(a, s);
	return weight_bytes(a, s, d);
}

kvw_err kvw_setup_model(const kvw_args *a, kvw_setup *s, kvw_diag *d)
{
	kvw_hw_gpu gpu;
	kvw_err err = setup_model_only(a, s, d);
	if (err || (err = resolve_gpu(a, s, &gpu, d)))
		return err;
	return s->tp_auto ? kvw_setup_auto_tp(s, d) : KVW_OK;
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

/* a catalog link at its achieved fraction (or --link-efficiency): the
 * link, its line rate and fraction, where the fraction came from, a label */
typedef struct cat_link {
	kvw_hw_link sheet;
	kvw_link link;
	double eff;
	const char *eff_source;
	char label[700];
} cat_link;

static kvw_err catalog_link(const kvw_args *a, const char *name, cat_link *c, kvw_diag *d)
{
	kvw_err err = kvw_catalog_link(name, &c->sheet, d);
	if (err)
		return err;
	bool given = kvw_opts_seen(a, "link-efficiency");
	const kvw_hw_link *l = &c->sheet;
	c->eff = given ? a->link_efficiency : l->efficiency;
	c->link = (kvw_link){ .alpha_s = l->latency_s, .bw = l->bw * c->eff };
	c->eff_source = given ? "given (--link-efficiency)" : l->efficiency_source[0] ? l->efficiency_source
	                : "the sheet gives none: line rate";
	snprintf(c->label, sizeof c->label, "spec sheet %s: %.4g GB/s line rate x achieved %.3g (%s) = %.4g GB/s, "
	         "latency %.4g us", l->name, l->bw / 1e9, c->eff, given ? "given" : l->efficiency_source[0]
	         ? "cited in the sheet" : "none given", c->link.bw / 1e9, l->latency_s * 1e6);
	return KVW_OK;
}

static void measured_link(kvw_setup *s, const kvw_profile_link *pl)
{
	s->sc.link = pl->link;
	s->link_line_bw = pl->link.bw;
	s->link_eff = 1;
	snprintf(s->link_eff_source, sizeof s->link_eff_source, "measured: the fit is what this link achieved");
	s->sc.message_s = kvw_profile_message_cost(&s->profile, pl->name);
	snprintf(s->link_name, sizeof s->link_name, "%s", pl->name);
	s->link_storage = strcmp(pl->kind, "storage") == 0;
	char extra[96] = "";
	if (s->sc.message_s > 0)
		snprintf(extra, sizeof extra, ", %.4g us per further message (kv_messages)", s->sc.message_s * 1e6);
	snprintf(s->link_source, sizeof s->link_source, "measured fit in %s: %.4g GB/s, alpha %.4g us%s%s",
	         s->profile.path, pl->link.bw / 1e9, pl->link.alpha_s * 1e6, extra,
	         s->profile.example ? " (EXAMPLE profile)" : "");
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
		s->link_eff = kvw_opts_seen(a, "link-efficiency") ? a->link_efficiency : 1;
		s->link_line_bw = a->gbps * 1e9;
		s->sc.link = (kvw_link){ .alpha_s = a->alpha_us * 1e-6, .bw = s->link_line_bw * s->link_eff };
		snprintf(s->link_name, sizeof s->link_name, "given");
		snprintf(s->link_eff_source, sizeof s->link_eff_source, "%s",
		         s->link_eff < 1 ? "given (--link-efficiency)" : "given: --gbps taken as achieved");
		snprintf(s->link_source, sizeof s->link_source, "given: %.4g GB/s%s, alpha %.4g us", a->gbps,
		         s->link_eff < 1 ? " x --link-efficiency" : "", a->alpha_us);
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
		measured_link(s, pl);
	} else if (a->link) {
		cat_link c;
		kvw_err err = catalog_link(a, a->link, &c, d);
		if (err == KVW_EUSAGE)
			return unknown_link(a->link, s, d);
		if (err)
			return err;
		s->sc.link = c.link;
		s->link_line_bw = c.sheet.bw;
		s->link_eff = c.eff;
		snprintf(s->link_eff_source, sizeof s->link_eff_source, "%s", c.eff_source);
		snprintf(s->link_source, sizeof s->link_source, "%s", c.label);
		snprintf(s->link_name, sizeof s->link_name, "%s", c.sheet.name);
		s->link_storage = strcmp(c.sheet.kind, "storage") == 0;
	} else if (need) {
		return kvw_fail(d, KVW_EUSAGE, "no link: give --link NAME (see kvwall hw%s) or --gbps Y",
		                s->have_profile ? ", or a link of the profile" : "");
	}
	s->link_loopback = strncmp(s->link_name, "tcp_loopback", 12) == 0;
	if (s->link_loopback)
		snprintf(s->link_source + strlen(s->link_source), sizeof s->link_source - strlen(s->link_source),
		         "; loopback, not a network path");
	return KVW_OK;
}

/* the intra-node link of the tensor-parallel all-reduces */
static kvw_err resolve_tp_link(const kvw_args *a, kvw_setup *s, kvw_diag *d)
{
	if (s->sc.kv.tp <= 1 && !a->tp_link)
		return KVW_OK;
	const kvw_profile_link *pl = NULL;
	if (s->have_profile)
		for (int i = 0; i < s->profile.n_links && !pl; i++)
			if (a->tp_link ? strcmp(s->profile.links[i].name, a->tp_link) == 0
			               : strncmp(s->profile.links[i].name, "nccl", 4) == 0)
				pl = &s->profile.links[i];
	if (pl) {
		s->sc.tp_link = pl->link;
		snprintf(s->tp_link_name, sizeof s->tp_link_name, "%s", pl->name);
		snprintf(s->tp_link_source, sizeof s->tp_link_source, "measured fit in %s: %.4g GB/s, alpha %.4g us",
		         s->profile.path, pl->link.bw / 1e9, pl->link.alpha_s * 1e6);
		return KVW_OK;
	}
	const char *name = a->tp_link ? a->tp_link : s->peer_link[0] ? s->peer_link : NULL;
	if (!name)
		return KVW_OK;
	cat_link c;
	kvw_err err = catalog_link(a, name, &c, d);
	if (err)
		return kvw_prefix(d, err, a->tp_link ? "--tp-link" : "the GPU's peer link");
	s->sc.tp_link = c.link;
	snprintf(s->tp_link_source, sizeof s->tp_link_source, "%s", c.label);
	snprintf(s->tp_link_name, sizeof s->tp_link_name, "%s", c.sheet.name);
	if (!a->tp_link) {
		size_t n = strlen(s->tp_link_source);
		snprintf(s->tp_link_source + n, sizeof s->tp_link_source - n, " (%s's peer link)", s->gpu_name);
	}
	return KVW_OK;
}

kvw_err kvw_setup_named_link(const kvw_setup *s, const char *name, kvw_link *out, char *source, size_t cap,
                             char *kind, kvw_diag *d)
{
	const kvw_profile_link *pl = s->have_profile ? kvw_profile_find_link(&s->profile, name) : NULL;
	if (pl) {
		*out = pl->link;
		snprintf(source, cap, "measured fit %s in %s: %.4g GB/s, alpha %.4g us%s", pl->name, s->profile.path,
		         pl->link.bw / 1e9, pl->link.alpha_s * 1e6, s->profile.example ? " (EXAMPLE profile)" : "");
		if (kind)
			snprintf(kind, 16, "%s", pl->kind);
		return KVW_OK;
	}
	kvw_hw_link l;
	kvw_err err = kvw_catalog_link(name, &l, d);
	if (err)
		return err;
	*out = (kvw_link){ .alpha_s = l.latency_s, .bw = l.bw };
	snprintf(source, cap, "spec sheet %s: %.4g GB/s, latency %.4g us", l.name, l.bw / 1e9, l.latency_s * 1e6);
	if (kind)
		snprintf(kind, 16, "%s", l.kind);
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
	if (s->n_tps > 1)
		return kvw_fail(d, KVW_EUSAGE, "--tp takes one value here (kvwall kv --tp 1,2,4,8 compares several)");
	kvw_hw_gpu gpu;
	if ((err = resolve_gpu(a, s, &gpu, d)) || (s->tp_auto && (err = kvw_setup_auto_tp(s, d))))
		return err;
	if ((err = resolve_compute(a, s, a->hw ? &gpu : NULL, d))
	    || (err = resolve_link(a, s, need_link, d)) || (err = resolve_tp_link(a, s, d)))
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
	kvw_err err = setup_model_only(a, s, d);
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
	kvw_err err = setup_model_only(a, s, d);
	if (err)
		return err;
	snprintf(s->profile.path, sizeof s->profile.path, "%s", where);
	if ((err = kvw_profile_parse(profile, &s->profile, d)))
		return kvw_prefix(d, err, where);
	s->have_profile = true;
	return setup_rest(a, s, need_link, d);
}

static void describe_link(const kvw_setup *s, kvw_out *o)
{
	kvw_out_field(o, "link", "link", NULL, json_string(s->link_name));
	kvw_out_field(o, "link_source", "link source", NULL, json_string(s->link_source));
	kvw_out_field(o, "link_gbps", "link bandwidth (achieved)", "%.4g GB/s", kvw_num(s->sc.link.bw / 1e9));
	kvw_out_field(o, "link_line_rate_gbps", "link line rate", "%.4g GB/s", kvw_num(s->link_line_bw / 1e9));
	kvw_out_field(o, "link_efficiency", "link achieved fraction", "%.3g", kvw_num(s->link_eff));
	kvw_out_field(o, "link_efficiency_source", NULL, NULL, json_string(s->link_eff_source));
	kvw_out_field(o, "link_alpha_us", "link latency", "%.4g us", kvw_num(s->sc.link.alpha_s * 1e6));
	kvw_out_field(o, "link_kind", "link kind", NULL, json_string(s->link_loopback ? "loopback" : s->link_storage ? "storage" : "path"));
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
	kvw_out_field(o, "context_window", "context window (tokens)", NULL,
	              s->arch.max_position > 0 ? json_integer(s->arch.max_position) : json_null());
	kvw_out_field(o, "kv_dtype", "KV dtype", NULL, json_string(kvw_dtype_name(s->sc.kv.dtype)));
	kvw_out_field(o, "tp", "tensor parallel", NULL, json_integer(s->sc.kv.tp));
	kvw_out_field(o, "tp_choice", NULL, NULL, json_string(s->tp_choice));
	if (s->tp_auto)
		kvw_out_note(o, "tensor parallel %d: %s", s->sc.kv.tp, s->tp_choice);
	if (s->ctx_note[0])
		kvw_out_note(o, "%s", s->ctx_note);
	if (!s->compute_source[0])
		return;
	kvw_out_field(o, "compute_source", "compute", NULL, json_string(s->compute_source));
	if (with_link)
		describe_link(s, o);
	if (s->sc.kv.tp > 1) {
		kvw_out_field(o, "tp_link", "TP all-reduce link", NULL, s->tp_link_name[0] ? json_string(s->tp_link_name)
		              : json_null());
		kvw_out_field(o, "tp_link_source", NULL, NULL, json_string(s->tp_link_source[0] ? s->tp_link_source
		              : "none: the all-reduces are not counted"));
	}
	kvw_out_field(o, "attention", "attention", NULL, json_string(s->sc.causal ? "causal" : "non-causal"));
	kvw_out_field(o, "transfer_mode", "transfer mode", NULL,
	              json_string(s->sc.layerwise ? "layerwise" : "bulk"));
	kvw_out_field(o, "message_tokens", "message block (tokens)", NULL, json_integer(s->sc.message_tokens));
	kvw_out_note(o, "recompute = linear FLOPs / R_gemm + attention FLOPs / R_attn (+ overhead %.3g us), "
	             "linear = 2 x active non-embedding params x L, attention = 2 x heads x (d_qk + d_v) x %s pairs; "
	             "each of the %d tensor-parallel GPUs does 1/%d", s->sc.compute.overhead_s * 1e6,
	             s->sc.causal ? "causal L(L+1)/2" : "non-causal L^2", s->sc.kv.tp, s->sc.kv.tp);
	if (s->sc.kv.tp > 1)
		kvw_out_note(o, "TP %d: prefill also pays 2 all-reduces per layer of L x hidden x 2 B (ring: "
		             "2(t-1) alpha + 2(t-1)/t x bytes / B) over %s", s->sc.kv.tp,
		             s->tp_link_source[0] ? s->tp_link_source : "no known link: not counted (give --hw or --tp-link)");
	if (s->sc.kv.tp > 8 && s->tp_link_source[0] && strncmp(s->tp_link_source, "measured", 8) != 0)
		kvw_out_note(o, "TP %d spans more than one 8-GPU node: its all-reduces cross the network between nodes, so "
		             "pricing them at %s is optimistic (--tp-link NAME gives the inter-node link)", s->sc.kv.tp,
		             s->tp_link_name);
	if (s->sc.compute.elementwise.n > 0)
		kvw_out_note(o, "recompute also counts the layer's element-wise kernels (norms, RoPE + KV write, "
		             "activation, residual adds) at their measured time per token per layer");
	if (with_link)
		kvw_out_note(o, "transfer = %s; GB = 1e9 bytes, one direction; slowdowns compute x%.3g, copy x%.3g",
		             s->sc.layerwise ? "exposed time after the last layer of a layer-wise pipelined send"
		                             : "messages x alpha + KV bytes / B (each GPU sends its shard over its own link)",
		             s->sc.compute_slowdown, s->sc.copy_slowdown);
	if (with_link && s->link_eff < 1)
		kvw_out_note(o, "link taken at %.3g of its %.4g GB/s line rate: %s", s->link_eff, s->link_line_bw / 1e9,
		             s->link_eff_source);
	if (with_link && s->link_loopback)
		kvw_out_note(o, "%s is TCP over loopback, not a network path: it measures this host's TCP stack and "
		             "memory, not a link between nodes", s->link_name);
	if (with_link && s->sc.message_tokens > 0)
		kvw_out_note(o, "the KV moves as one message per layer x %ld-token block, each paying the link's alpha",
		             s->sc.message_tokens);
}

bool kvw_setup_fits(const kvw_setup *s)
{
	return !s->have_gpu || kvw_deployment_fits(&s->arch, s->weight_bytes, &s->sc.kv, &s->mem, (double)s->ctx);
}

void kvw_setup_describe_fit(const kvw_setup *s, kvw_out *o)
{
	if (!s->have_gpu) {
		kvw_out_field(o, "fits", "fits in GPU memory", NULL, json_null());
		kvw_out_note(o, "memory fit not checked: no GPU (give --hw)");
		return;
	}
	const kvw_arch *m = &s->arch;
	int tp = s->sc.kv.tp;
	double w = kvw_weight_bytes_per_gpu(m, s->weight_bytes, tp), cap = kvw_kv_capacity_per_gpu(m, s->weight_bytes,
	                                                                                            tp, &s->mem);
	double kv = kvw_kv_bytes(m, &s->sc.kv, (double)s->ctx);
	bool fits = kvw_deployment_fits(m, s->weight_bytes, &s->sc.kv, &s->mem, (double)s->ctx);
	int best = kvw_smallest_tp_that_fits(m, s->weight_bytes, s->sc.kv, &s->mem, (double)s->ctx, MAX_AUTO_TP);
	kvw_out_field(o, "fits", "fits in GPU memory", NULL, json_boolean(fits));
	kvw_out_field(o, "weights_per_gpu_bytes", "weights per GPU", "%.0f B", kvw_num(w));
	kvw_out_field(o, "kv_capacity_per_gpu_bytes", "KV capacity per GPU", "%.0f B", kvw_num(cap));
	kvw_out_field(o, "kv_bytes_request", "KV of one request at context", "%.0f B", kvw_num(kv));
	kvw_out_field(o, "smallest_tp_that_fits", "smallest TP that fits", NULL, best ? json_integer(best) : json_null());
	kvw_out_field(o, "weight_dtype", NULL, NULL, json_string(s->weight_source));
	kvw_out_note(o, "fit: %.4g GB of weights per GPU (%.4g B parameters x %.3g B, %s, / TP %d) + the KV of one "
	             "%ld-token request (%.4g GB) within %.2f x %.0f GB (%s) - %.3g GB reserved (assumed) = %.4g GB",
	             w / 1e9, m->total_params / 1e9, s->weight_bytes, s->weight_source, tp, s->ctx, kv / 1e9,
	             s->mem.utilization, s->mem.gpu_bytes / 1e9, s->gpu_name, s->mem.reserve_bytes / 1e9,
	             (s->mem.utilization * s->mem.gpu_bytes - s->mem.reserve_bytes) / 1e9);
	char fix[96] = "no TP up to 64 fits";
	if (best)
		snprintf(fix, sizeof fix, "the smallest TP that fits is %d (--tp %d, or --tp auto)", best, best);
	if (!fits) {
		size_t n = strlen(o->title);
		snprintf(o->title + n, sizeof o->title - n, " -- DOES NOT FIT %s at TP %d", s->gpu_name, tp);
	}
	if (!fits)
		kvw_out_note(o, "DOES NOT FIT: %s at TP %d is not a deployment on %s: %.4g GB of weights and %.4g GB of "
		             "KV per GPU against %.4g GB usable; %s", m->name, tp, s->gpu_name, w / 1e9, kv / 1e9,
		             (s->mem.utilization * s->mem.gpu_bytes - s->mem.reserve_bytes) / 1e9, fix);
}
