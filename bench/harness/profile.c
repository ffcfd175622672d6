/* profile.c — reading kvwall.profile/1 (see profile.h).  Every part is
 * validated: a malformed record, link or curve point is an error naming
 * where it is, never silently skipped. */
#include "profile.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_config.h"
#include "record.h"

#define SCHEMA "kvwall.profile/1"

static bool pos_num(const json_t *o, const char *key, double *out)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) <= 0)
		return false;
	*out = json_number_value(v);
	return true;
}

static kvw_err read_results(const json_t *arr, kvw_profile *p, kvw_diag *d)
{
	if (!arr)
		return KVW_OK;
	if (!json_is_array(arr))
		return kvw_fail(d, KVW_EINPUT, "'results' must be an array");
	size_t i;
	const json_t *j;
	json_array_foreach(arr, i, j) {
		kvw_record r;
		if (kvw_record_from_json(j, &r, d)) {
			char where[32];
			snprintf(where, sizeof where, "results[%zu]", i);
			return kvw_prefix(d, KVW_EINPUT, where);
		}
		p->n_results++;
		p->n_ok += r.status == KVW_ST_OK;
		p->n_skipped += r.status == KVW_ST_SKIPPED;
		p->n_failed += r.status == KVW_ST_FAILED;
	}
	return KVW_OK;
}

static kvw_err read_links(const json_t *arr, kvw_profile *p, kvw_diag *d)
{
	if (!arr)
		return KVW_OK;
	if (!json_is_array(arr))
		return kvw_fail(d, KVW_EINPUT, "'links' must be an array");
	size_t i;
	const json_t *j;
	json_array_foreach(arr, i, j) {
		if (p->n_links == KVW_PROFILE_MAX_LINKS)
			return kvw_fail(d, KVW_EINPUT, "more than %d links", KVW_PROFILE_MAX_LINKS);
		kvw_profile_link *l = &p->links[p->n_links];
		const char *name = json_string_value(json_object_get(j, "name"));
		const char *kind = json_string_value(json_object_get(j, "class"));
		double gbps, alpha_us = 0;
		const json_t *a = json_object_get(j, "alpha_us");
		if (!name || !*name || !pos_num(j, "bandwidth_GBps", &gbps)
		    || (a && (!json_is_number(a) || !(json_number_value(a) >= 0) || !isfinite(json_number_value(a)))))
			return kvw_fail(d, KVW_EINPUT, "links[%zu] needs \"name\", a positive \"bandwidth_GBps\" "
			                "and \"alpha_us\" >= 0", i);
		if (a)
			alpha_us = json_number_value(a);
		snprintf(l->name, sizeof l->name, "%s", name);
		snprintf(l->kind, sizeof l->kind, "%s", kind ? kind : "");
		l->link = (kvw_link){ .alpha_s = alpha_us * 1e-6, .bw = gbps * 1e9 };
		if (!pos_num(j, "fit_r2", &l->fit_r2))
			l->fit_r2 = NAN;
		p->n_links++;
	}
	return KVW_OK;
}

/* prefill.<what>: [{"tokens", key}] with tokens increasing; each value
 * becomes a rate, v x scale (rates), or scale / v (times per token) */
static kvw_err read_curve(const json_t *arr, const char *what, const char *key, double scale, bool per_token,
                          kvw_curve *c, kvw_diag *d)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > KVW_MAX_CURVE)
		return kvw_fail(d, KVW_EINPUT, "prefill.%s must be an array of 1 to %d points", what, KVW_MAX_CURVE);
	c->n = 0;
	size_t i;
	const json_t *j;
	json_array_foreach(arr, i, j) {
		double t, v;
		if (!pos_num(j, "tokens", &t) || !pos_num(j, key, &v))
			return kvw_fail(d, KVW_EINPUT, "prefill.%s[%zu] needs positive \"tokens\" and \"%s\"", what, i, key);
		if (c->n && t <= c->pt[c->n - 1].tokens)
			return kvw_fail(d, KVW_EINPUT, "prefill.%s[%zu]: tokens must increase", what, i);
		c->pt[c->n++] = (kvw_curve_pt){ t, per_token ? scale / v : v * scale };
	}
	return KVW_OK;
}

static kvw_err read_prefill(const json_t *pf, kvw_profile *p, kvw_diag *d)
{
	if (!pf)
		return KVW_OK;
	kvw_err err;
	if ((err = read_curve(json_object_get(pf, "gemm"), "gemm", "tflops", 1e12, false, &p->compute.gemm, d))
	    || (err = read_curve(json_object_get(pf, "attention"), "attention", "tflops", 1e12, false, &p->compute.attn, d)))
		return err;
	/* optional: the layer's element-wise kernels, microseconds per token per
	 * layer, kept as a rate (token-layers per second) */
	const json_t *ew = json_object_get(pf, "elementwise");
	if (ew && (err = read_curve(ew, "elementwise", "us_per_token", 1e6, true, &p->compute.elementwise, d)))
		return err;
	const json_t *ov = json_object_get(pf, "overhead_us");
	if (ov && (!json_is_number(ov) || !(json_number_value(ov) >= 0) || !isfinite(json_number_value(ov))))
		return kvw_fail(d, KVW_EINPUT, "prefill.overhead_us must be a number >= 0");
	p->compute.overhead_s = ov ? json_number_value(ov) * 1e-6 : 0;
	const char *m = json_string_value(json_object_get(pf, "model"));
	snprintf(p->prefill_model, sizeof p->prefill_model, "%s", m ? m : "");
	p->has_prefill = true;
	return KVW_OK;
}

/* ---- decode (the decode-step probe, probe_decode.c) ---------------------- */

static kvw_err decode_point(const json_t *j, size_t i, kvw_profile_decode_pt *pt, kvw_diag *d)
{
	static const char *const pos[] = { "batch", "ctx", "layer_s", "step_s", "bytes", "achieved_GBps", "bound_s" };
	double v[7];
	for (int k = 0; k < 7; k++)
		if (!pos_num(j, pos[k], &v[k]))
			return kvw_fail(d, KVW_EINPUT, "decode.points[%zu] needs a positive \"%s\"", i, pos[k]);
	const json_t *f = json_object_get(j, "fixed_s");
	if (!json_is_number(f) || !isfinite(json_number_value(f)))
		return kvw_fail(d, KVW_EINPUT, "decode.points[%zu] needs a number \"fixed_s\"", i);
	if (v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[0] > 1e6 || v[1] > 1e9)
		return kvw_fail(d, KVW_EINPUT, "decode.points[%zu]: batch and ctx must be whole numbers in range", i);
	*pt = (kvw_profile_decode_pt){ (int)v[0], (long)v[1], v[2], v[3], v[4], v[5], v[6], json_number_value(f) };
	return KVW_OK;
}

static kvw_err read_decode(const json_t *dc, kvw_profile *p, kvw_diag *d)
{
	if (!dc)
		return KVW_OK;
	if (!json_is_object(dc))
		return kvw_fail(d, KVW_EINPUT, "'decode' must be an object");
	const char *model = json_string_value(json_object_get(dc, "model"));
	const char *dtype = json_string_value(json_object_get(dc, "dtype"));
	const char *backend = json_string_value(json_object_get(dc, "backend"));
	double layers, block;
	if (!model || !*model || !dtype || !backend || (strcmp(backend, "cudnn") && strcmp(backend, "own")))
		return kvw_fail(d, KVW_EINPUT, "decode needs \"model\", \"dtype\" and \"backend\" (cudnn or own)");
	if (!pos_num(dc, "n_layers", &layers) || !pos_num(dc, "block_tokens", &block) || layers > 100000)
		return kvw_fail(d, KVW_EINPUT, "decode needs positive \"n_layers\" and \"block_tokens\"");
	const json_t *pts = json_object_get(dc, "points");
	if (!json_is_array(pts) || json_array_size(pts) == 0 || json_array_size(pts) > KVW_PROFILE_MAX_DECODE)
		return kvw_fail(d, KVW_EINPUT, "decode.points must be an array of 1 to %d points", KVW_PROFILE_MAX_DECODE);
	size_t i;
	const json_t *j;
	json_array_foreach(pts, i, j) {
		kvw_err err = decode_point(j, i, &p->decode[i], d);
		if (err)
			return err;
	}
	p->n_decode = (int)json_array_size(pts);
	snprintf(p->decode_model, sizeof p->decode_model, "%s", model);
	snprintf(p->decode_dtype, sizeof p->decode_dtype, "%s", dtype);
	snprintf(p->decode_backend, sizeof p->decode_backend, "%s", backend);
	p->decode_layers = (int)layers;
	p->decode_block_tokens = (int)block;
	p->has_decode = true;
	return KVW_OK;
}

/* hbm: {"copy_GBps", "read_GBps", ...}: every *_GBps a positive number or
 * null; copy_GBps is the decode side's HBM bandwidth */
static kvw_err read_hbm(const json_t *hbm, kvw_profile *p, kvw_diag *d)
{
	if (!hbm || json_is_null(hbm))
		return KVW_OK;
	if (!json_is_object(hbm))
		return kvw_fail(d, KVW_EINPUT, "'hbm' must be an object");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)hbm, key, v) {
		size_t n = strlen(key);
		if (n < 5 || strcmp(key + n - 5, "_GBps") != 0 || json_is_null(v))
			continue;
		double x = json_is_number(v) ? json_number_value(v) : NAN;
		if (!(x > 0) || !isfinite(x)) {
			if (json_is_number(v))
				return kvw_fail(d, KVW_EINPUT, "hbm.%s must be a positive number (got %g)", key, x);
			return kvw_fail(d, KVW_EINPUT, "hbm.%s must be a positive number (got a JSON %s)", key,
			                json_is_string(v) ? "string" : json_is_boolean(v) ? "boolean" : "array or object");
		}
		if (strcmp(key, "copy_GBps") == 0)
			p->hbm_bw = x * 1e9;
	}
	return KVW_OK;
}

/* the parts only shown, never computed with: still the right types */
static kvw_err read_facts(const json_t *root, kvw_diag *d)
{
	const json_t *host = json_object_get(root, "host"), *label = json_object_get(root, "label");
	const json_t *ex = json_object_get(root, "example"), *gpus = json_object_get(host, "gpus");
	if (host && !json_is_object(host))
		return kvw_fail(d, KVW_EINPUT, "'host' must be an object");
	if (gpus && !json_is_array(gpus))
		return kvw_fail(d, KVW_EINPUT, "host.gpus must be an array");
	size_t i;
	const json_t *g;
	json_array_foreach(gpus, i, g)
		if (!json_is_object(g) || (json_object_get(g, "name") && !json_is_string(json_object_get(g, "name"))))
			return kvw_fail(d, KVW_EINPUT, "host.gpus[%zu] must be an object with a string \"name\"", i);
	if (label && !json_is_string(label) && !json_is_null(label))
		return kvw_fail(d, KVW_EINPUT, "'label' must be a string");
	if (ex && !json_is_boolean(ex))
		return kvw_fail(d, KVW_EINPUT, "'example' must be true or false");
	const json_t *pf = json_object_get(root, "prefill");
	if (pf && !json_is_object(pf))
		return kvw_fail(d, KVW_EINPUT, "'prefill' must be an object");
	return KVW_OK;
}

static kvw_err read_misc(const json_t *root, kvw_profile *p, kvw_diag *d)
{
	const json_t *in = json_object_get(root, "interference");
	kvw_err err = read_facts(root, d);
	if (err || (err = read_hbm(json_object_get(root, "hbm"), p, d)))
		return err;
	p->compute_slowdown = p->copy_slowdown = 1.0;
	if (in && !json_is_null(in)) {
		if (!pos_num(in, "compute_slowdown", &p->compute_slowdown) || !pos_num(in, "copy_slowdown", &p->copy_slowdown)
		    || p->compute_slowdown < 1 || p->copy_slowdown < 1)
			return kvw_fail(d, KVW_EINPUT, "interference needs compute_slowdown and copy_slowdown >= 1");
	}
	const json_t *gpus = json_object_get(json_object_get(root, "host"), "gpus");
	const char *g = json_string_value(json_object_get(json_array_get(gpus, 0), "name"));
	snprintf(p->gpu, sizeof p->gpu, "%s", g ? g : "");
	const char *label = json_string_value(json_object_get(root, "label"));
	snprintf(p->label, sizeof p->label, "%s", label ? label : "");
	p->example = json_is_true(json_object_get(root, "example"));
	return KVW_OK;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* per path: the median of the positive extra costs per message */
static kvw_err read_kv_messages(const json_t *arr, kvw_profile *p, kvw_diag *d)
{
	if (!arr)
		return KVW_OK;
	if (!json_is_array(arr))
		return kvw_fail(d, KVW_EINPUT, "'kv_messages' must be an array");
	size_t i, k;
	const json_t *e, *m;
	json_array_foreach(arr, i, e) {
		const char *path = json_string_value(json_object_get(e, "path"));
		double v[16];
		int n = 0;
		if (!path)
			return kvw_fail(d, KVW_EINPUT, "kv_messages[%zu] has no \"path\"", i);
		const json_t *modes = json_object_get(e, "modes");
		if (!json_is_array(modes))
			return kvw_fail(d, KVW_EINPUT, "kv_messages[%zu].modes must be an array", i);
		json_array_foreach(modes, k, m) {
			const json_t *x = json_object_get(m, "extra_us_per_message");
			if (!json_is_object(m) || (x && !json_is_null(x) && !json_is_number(x)))
				return kvw_fail(d, KVW_EINPUT, "kv_messages[%zu].modes[%zu].extra_us_per_message must be a number "
				                "or null", i, k);
			if (json_is_number(x) && json_number_value(x) > 0 && isfinite(json_number_value(x)) && n < 16)
				v[n++] = json_number_value(x) * 1e-6;
		}
		if (n == 0 || p->n_msgcost == 16)
			continue;
		qsort(v, (size_t)n, sizeof v[0], cmp_double);
		snprintf(p->msgcost[p->n_msgcost].path, sizeof p->msgcost[0].path, "%s", path);
		p->msgcost[p->n_msgcost++].cost_s = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
	}
	return KVW_OK;
}

double kvw_profile_message_cost(const kvw_profile *p, const char *link)
{
	for (int i = 0; i < p->n_msgcost; i++)
		if (strncmp(link, p->msgcost[i].path, strlen(p->msgcost[i].path)) == 0)
			return p->msgcost[i].cost_s;
	return 0;
}

/* A link whose sweep has a failed record (its variants are named
 * "<link>_<size>") rests on data checked wrong: kvwall no longer writes
 * such fits, and older profiles' are marked so they are not used. */
static void mark_failed_fits(const json_t *results, kvw_profile *p)
{
	size_t i;
	const json_t *r;
	json_array_foreach(results, i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));
		const char *v = json_string_value(json_object_get(r, "variant"));
		const char *why = json_string_value(json_object_get(r, "reason"));
		if (!st || strcmp(st, "failed") != 0 || !v)
			continue;
		for (int k = 0; k < p->n_links; k++) {
			kvw_profile_link *l = &p->links[k];
			size_t n = strlen(l->name);
			if (!l->failed[0] && strncmp(v, l->name, n) == 0 && v[n] == '_')
				snprintf(l->failed, sizeof l->failed, "results[%zu] %s: %s", i, v, why ? why : "failed");
		}
	}
}

static kvw_err parse(const json_t *root, kvw_profile *p, kvw_diag *d)
{
	const char *schema = json_string_value(json_object_get(root, "schema"));
	if (!json_is_object(root) || !schema)
		return kvw_fail(d, KVW_EINPUT, "not a kvwall profile (no \"schema\")");
	if (strcmp(schema, SCHEMA) != 0)
		return kvw_fail(d, KVW_EINPUT, "schema '%s' is not %s", schema, SCHEMA);
	kvw_err err;
	if ((err = read_results(json_object_get(root, "results"), p, d))
	    || (err = read_links(json_object_get(root, "links"), p, d))
	    || (err = read_prefill(json_object_get(root, "prefill"), p, d))
	    || (err = read_kv_messages(json_object_get(root, "kv_messages"), p, d))
	    || (err = read_decode(json_object_get(root, "decode"), p, d)))
		return err;
	const json_t *fp8 = json_object_get(root, "decode_fp8");
	if (fp8) { /* validated like decode; the planner reads the bf16 curve */
		kvw_profile *tmp = malloc(sizeof *tmp);
		if (!tmp)
			return kvw_fail(d, KVW_ESYS, "out of memory");
		memset(tmp, 0, sizeof *tmp);
		err = read_decode(fp8, tmp, d);
		free(tmp);
		if (err)
			return kvw_prefix(d, err, "decode_fp8");
	}
	mark_failed_fits(json_object_get(root, "results"), p);
	return read_misc(root, p, d);
}

kvw_err kvw_profile_parse(const json_t *root, kvw_profile *p, kvw_diag *d)
{
	char path[sizeof p->path];
	memcpy(path, p->path, sizeof path);
	memset(p, 0, sizeof *p);
	memcpy(p->path, path, sizeof path);
	return parse(root, p, d);
}

kvw_err kvw_profile_load(const char *path, kvw_profile *p, kvw_diag *d)
{
	memset(p, 0, sizeof *p);
	snprintf(p->path, sizeof p->path, "%s", path);
	json_t *root;
	kvw_err err = kvw_read_json(path, 1u << 26, &root, d);
	if (err)
		return err;
	err = parse(root, p, d);
	json_decref(root);
	return err ? kvw_prefix(d, err, path) : KVW_OK;
}

const kvw_profile_link *kvw_profile_find_link(const kvw_profile *p, const char *name)
{
	for (int i = 0; i < p->n_links; i++)
		if (strcmp(p->links[i].name, name) == 0)
			return &p->links[i];
	return NULL;
}
