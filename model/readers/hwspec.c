/* hwspec.c — kvwall.hw/1 spec sheets (GPUs and links) -> structs.
 *
 * Every number in a spec sheet is an object {"value": x, "source": "..."}:
 * a sheet without a source for a value is rejected, so the catalog cannot
 * quietly grow uncited numbers.  Units are in the key names (GB = 1e9 B).
 * A link sheet may give "achieved_fraction": the share of its line rate
 * that the usual benchmark of its class reaches, in (0, 1], cited like
 * every other value; the model takes links at bandwidth x that fraction.
 */
#include "kvw_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static kvw_err sourced(json_t *o, const char *key, bool required, double *out, kvw_diag *d)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		if (!required)
			return KVW_OK;
		return kvw_fail(d, KVW_EINPUT, "required field '%s' is missing", key);
	}
	json_t *val = json_object_get(v, "value"), *src = json_object_get(v, "source");
	if (!json_is_number(val) || !(json_number_value(val) > 0) || !isfinite(json_number_value(val)))
		return kvw_fail(d, KVW_EINPUT, "field '%s' needs a positive number in \"value\"", key);
	if (!json_is_string(src) || json_string_length(src) == 0)
		return kvw_fail(d, KVW_EINPUT, "field '%s' has no \"source\"", key);
	*out = json_number_value(val);
	return KVW_OK;
}

/* an optional sourced fraction in (0, 1]; *out stays as it is when absent */
static kvw_err fraction(json_t *o, const char *key, double *out, char *src, size_t cap, kvw_diag *d)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return KVW_OK;
	double x = 0;
	kvw_err err = sourced(o, key, true, &x, d);
	if (err)
		return err;
	if (x > 1)
		return kvw_fail(d, KVW_EINPUT, "field '%s' = %g must be a fraction in (0, 1]", key, x);
	*out = x;
	snprintf(src, cap, "%s", json_string_value(json_object_get(v, "source")));
	return KVW_OK;
}

static kvw_err str_field(json_t *o, const char *key, bool required, char *out, size_t cap, kvw_diag *d)
{
	json_t *v = json_object_get(o, key);
	if (!v && !required)
		return KVW_OK;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return kvw_fail(d, KVW_EINPUT, "field '%s' must be a non-empty string", key);
	snprintf(out, cap, "%s", json_string_value(v));
	return KVW_OK;
}

static kvw_err open_sheet(const char *text, size_t len, const char *kind, json_t **root, kvw_diag *d)
{
	json_error_t jerr;
	*root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*root)
		return kvw_fail(d, KVW_EINPUT, "malformed JSON at line %d column %d: %s",
		                jerr.line, jerr.column, jerr.text);
	json_t *s = json_object_get(*root, "schema"), *k = json_object_get(*root, "kind");
	if (!json_is_string(s) || strcmp(json_string_value(s), "kvwall.hw/1") != 0
	    || !json_is_string(k) || strcmp(json_string_value(k), kind) != 0) {
		json_decref(*root);
		*root = NULL;
		return kvw_fail(d, KVW_EINPUT, "not a kvwall.hw/1 %s sheet (\"schema\"/\"kind\")", kind);
	}
	return KVW_OK;
}

kvw_err kvw_hw_gpu_parse(const char *text, size_t len, kvw_hw_gpu *out, kvw_diag *d)
{
	json_t *root;
	kvw_err err = open_sheet(text, len, "gpu", &root, d);
	if (err)
		return err;
	memset(out, 0, sizeof *out);
	double mem_gb = 0, hbm = 0;
	if ((err = str_field(root, "name", true, out->name, sizeof out->name, d))
	    || (err = str_field(root, "description", false, out->description, sizeof out->description, d))
	    || (err = str_field(root, "host_link", false, out->host_link, sizeof out->host_link, d))
	    || (err = str_field(root, "peer_link", false, out->peer_link, sizeof out->peer_link, d))
	    || (err = sourced(root, "memory_GB", true, &mem_gb, d))
	    || (err = sourced(root, "hbm_bandwidth_GBps", true, &hbm, d)))
		goto out;
	out->memory_bytes = mem_gb * 1e9;
	out->hbm_bw = hbm * 1e9;
	json_t *peak = json_object_get(root, "peak_dense_tflops");
	if (!json_is_object(peak)) {
		err = kvw_fail(d, KVW_EINPUT, "required object 'peak_dense_tflops' is missing");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(peak, key, v) {
		kvw_dtype dt;
		double tf = 0;
		if (!kvw_dtype_parse(key, &dt)) {
			err = kvw_fail(d, KVW_EINPUT, "peak_dense_tflops: unknown dtype '%s'", key);
			goto out;
		}
		if ((err = sourced(peak, key, true, &tf, d)))
			goto out;
		out->peak_flops[dt] = tf * 1e12;
	}
	if (out->peak_flops[KVW_DT_BF16] <= 0)
		err = kvw_fail(d, KVW_EINPUT, "peak_dense_tflops has no bf16 entry");
out:
	json_decref(root);
	return err;
}

kvw_err kvw_hw_link_parse(const char *text, size_t len, kvw_hw_link *out, kvw_diag *d)
{
	json_t *root;
	kvw_err err = open_sheet(text, len, "link", &root, d);
	if (err)
		return err;
	memset(out, 0, sizeof *out);
	double gbps = 0, lat_us = 0;
	if ((err = str_field(root, "name", true, out->name, sizeof out->name, d))
	    || (err = str_field(root, "description", false, out->description, sizeof out->description, d))
	    || (err = str_field(root, "class", true, out->kind, sizeof out->kind, d))
	    || (err = sourced(root, "bandwidth_GBps", true, &gbps, d))
	    || (err = sourced(root, "latency_us", true, &lat_us, d)))
		goto out;
	out->efficiency = 1;
	if ((err = fraction(root, "achieved_fraction", &out->efficiency, out->efficiency_source,
	                    sizeof out->efficiency_source, d)))
		goto out;
	out->bw = gbps * 1e9;
	out->latency_s = lat_us * 1e-6;
out:
	json_decref(root);
	return err;
}
