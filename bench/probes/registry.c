/* registry.c — the list of probes kvwall knows, checked once.  It sits with
 * the probes (it names every one of them, compute and transfer), above the
 * harness that defines what a probe is; a new probe is a new file plus one
 * line here. */
#include "registry.h"

#include <string.h>

extern const kvw_probe kvw_probe_null, kvw_probe_host_memcpy, kvw_probe_hbm, kvw_probe_kv_pack;
extern const kvw_probe kvw_probe_host_link, kvw_probe_peer, kvw_probe_prefill, kvw_probe_overlap, kvw_probe_tcp;
extern const kvw_probe kvw_probe_rdma, kvw_probe_nccl, kvw_probe_topology, kvw_probe_decode, kvw_probe_storage;

static const kvw_probe *const registry[] = {
	&kvw_probe_topology, &kvw_probe_null, &kvw_probe_host_memcpy, &kvw_probe_hbm, &kvw_probe_host_link, &kvw_probe_peer,
	&kvw_probe_prefill, &kvw_probe_decode, &kvw_probe_overlap, &kvw_probe_kv_pack, &kvw_probe_tcp,
	&kvw_probe_rdma, &kvw_probe_nccl, &kvw_probe_storage,
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
