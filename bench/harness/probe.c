/* probe.c — the helpers probes call and the runner (see probe.h); the list
 * of probes is bench/probes/registry.c. */
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_config.h"
#include "kvw_model.h"
#include "out.h"

kvw_record kvw_record_new(const char *probe, const char *variant)
{
	kvw_record r;
	memset(&r, 0, sizeof r);
	snprintf(r.probe, sizeof r.probe, "%s", probe);
	snprintf(r.variant, sizeof r.variant, "%s", variant);
	r.gbps = r.tflops = NAN;
	r.time_s = (kvw_tstats){ NAN, NAN, NAN, NAN, NAN };
	r.status = KVW_ST_OK;
	return r;
}

kvw_err kvw_probe_emit(kvw_probe_run *r, const kvw_record *rec, kvw_diag *d)
{
	if (r->n_records == r->cap) {
		int cap = r->cap ? 2 * r->cap : 32;
		kvw_record *grown = realloc(r->records, (size_t)cap * sizeof *grown);
		if (!grown)
			return kvw_fail(d, KVW_ESYS, "out of memory storing results");
		r->records = grown;
		r->cap = cap;
	}
	r->records[r->n_records++] = *rec;
	return KVW_OK;
}

json_t *kvw_probe_section(kvw_probe_run *r, const char *key, bool array)
{
	json_t *s = json_object_get(r->profile, key);
	if (!s) {
		s = array ? json_array() : json_object();
		json_object_set_new(r->profile, key, s);
	}
	return s;
}

bool kvw_probe_records_ok(const kvw_probe_run *r, int first)
{
	for (int i = first < 0 ? 0 : first; i < r->n_records; i++)
		if (r->records[i].status != KVW_ST_OK)
			return false;
	return true;
}

bool kvw_probe_add_link(kvw_probe_run *r, int first, const char *name, const char *klass, double alpha_s,
                        double bw, int points, double r2)
{
	if (!kvw_probe_records_ok(r, first)) {
		fprintf(stderr, "kvwall probe: %s: not fitted, a measurement it rests on failed\n", name);
		return false;
	}
	json_t *l = json_object();
	json_object_set_new(l, "name", json_string(name));
	json_object_set_new(l, "class", json_string(klass));
	json_object_set_new(l, "alpha_us", kvw_num(alpha_s * 1e6));
	json_object_set_new(l, "bandwidth_GBps", kvw_num(bw / 1e9));
	json_object_set_new(l, "points", json_integer(points));
	json_object_set_new(l, "fit_r2", kvw_num(r2));
	json_array_append_new(kvw_probe_section(r, "links", true), l);
	return true;
}

kvw_err kvw_probe_model(const kvw_probe_run *r, struct kvw_arch *a, kvw_diag *d)
{
	const kvw_args *args = r->args;
	return args->config ? kvw_config_load(args->config, NULL, a, d)
		: kvw_catalog_model(args->model ? args->model : "llama-3-8b", a, d);
}

kvw_err kvw_probe_kv_plan(kvw_probe_run *r, const char *path, size_t max_bytes, kvw_kv_plan *plan, kvw_diag *d)
{
	static const int blocks[KVW_KV_PATTERNS] = { 0, -1, 256, 64, 16 }; /* 0 packed, -1 per layer */
	memset(plan, 0, sizeof *plan);
	kvw_arch *a = malloc(sizeof *a);
	kvw_err err = a ? kvw_probe_model(r, a, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err) {
		free(a);
		return err;
	}
	kvw_kvfmt f = { KVW_DT_BF16, 1 };
	double per_token = kvw_kv_bytes_per_token_layer(a, &f) * a->n_layers;
	long tokens = (long)((double)max_bytes / per_token) / 256 * 256, cap = r->quick ? 2048 : 8192;
	tokens = tokens > cap ? cap : tokens;
	snprintf(plan->model, sizeof plan->model, "%s", a->name);
	if (tokens >= 256) {
		plan->tokens = tokens;
		for (int i = 0; i < KVW_KV_PATTERNS; i++) {
			long m = blocks[i] == 0 ? 1 : blocks[i] < 0 ? a->n_layers : a->n_layers * (tokens / blocks[i]);
			snprintf(plan->p[i].mode, sizeof plan->p[i].mode, blocks[i] == 0 ? "packed" : blocks[i] < 0 ? "per_layer"
			         : "per_layer_block%d", blocks[i]);
			plan->p[i].messages = m;
			plan->p[i].message_bytes = per_token * (double)tokens / (double)m;
		}
		json_t *e = json_object();
		json_object_set_new(e, "path", json_string(path));
		json_object_set_new(e, "model", json_string(a->name));
		json_object_set_new(e, "tokens", json_integer(tokens));
		json_object_set_new(e, "modes", json_array());
		json_array_append_new(kvw_probe_section(r, "kv_messages", true), e);
		plan->entry = e;
	}
	free(a);
	return KVW_OK;
}

void kvw_probe_kv_result(json_t *entry, const kvw_kv_pattern *p, double seconds, double packed_s)
{
	json_t *m = json_object();
	json_object_set_new(m, "mode", json_string(p->mode));
	json_object_set_new(m, "messages", json_integer(p->messages));
	json_object_set_new(m, "message_bytes", kvw_num(p->message_bytes));
	json_object_set_new(m, "seconds", kvw_num(seconds));
	json_object_set_new(m, "extra_us_per_message",
	                    p->messages > 1 ? kvw_num((seconds - packed_s) / (double)(p->messages - 1) * 1e6) : json_null());
	json_array_append_new(json_object_get(entry, "modes"), m);
}
