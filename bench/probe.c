/* probe.c — the probe registry and the helpers probes call (see probe.h). */
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

extern const kvw_probe kvw_probe_null, kvw_probe_host_memcpy, kvw_probe_hbm, kvw_probe_kv_pack;
extern const kvw_probe kvw_probe_host_link, kvw_probe_peer, kvw_probe_prefill, kvw_probe_overlap, kvw_probe_tcp;
extern const kvw_probe kvw_probe_rdma, kvw_probe_nccl, kvw_probe_topology;

static const kvw_probe *const registry[] = {
	&kvw_probe_topology, &kvw_probe_null, &kvw_probe_host_memcpy, &kvw_probe_hbm, &kvw_probe_host_link, &kvw_probe_peer,
	&kvw_probe_prefill, &kvw_probe_overlap, &kvw_probe_kv_pack, &kvw_probe_tcp,
	&kvw_probe_rdma, &kvw_probe_nccl,
};
#define N_PROBES ((int)(sizeof registry / sizeof registry[0]))

static kvw_err check_entry(int i, kvw_diag *d)
{
	const kvw_probe *p = registry[i];
	if (!p->name || !*p->name || !p->summary || !p->run || !p->unavailable)
		return kvw_fail(d, KVW_ESYS, "probe registry entry %d is incomplete", i);
	for (int j = 0; j < i; j++)
		if (strcmp(registry[j]->name, p->name) == 0)
			return kvw_fail(d, KVW_ESYS, "probe name '%s' registered twice", p->name);
	return KVW_OK;
}

const kvw_probe *const *kvw_probes(int *n, kvw_diag *d)
{
	static int checked;
	if (!checked) {
		for (int i = 0; i < N_PROBES; i++)
			if (check_entry(i, d))
				return NULL;
		checked = 1;
	}
	*n = N_PROBES;
	return registry;
}

const kvw_probe *kvw_probe_find(const char *name)
{
	for (int i = 0; i < N_PROBES; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

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

void kvw_probe_add_link(kvw_probe_run *r, const char *name, const char *klass, double alpha_s,
                        double bw, int points, double r2)
{
	json_t *l = json_object();
	json_object_set_new(l, "name", json_string(name));
	json_object_set_new(l, "class", json_string(klass));
	json_object_set_new(l, "alpha_us", kvw_num(alpha_s * 1e6));
	json_object_set_new(l, "bandwidth_GBps", kvw_num(bw / 1e9));
	json_object_set_new(l, "points", json_integer(points));
	json_object_set_new(l, "fit_r2", kvw_num(r2));
	json_array_append_new(kvw_probe_section(r, "links", true), l);
}
