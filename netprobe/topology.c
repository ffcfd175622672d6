/* topology.c — GPUs, NICs and NUMA nodes through hwloc, and how close each
 * GPU is to each NIC on the PCIe tree.
 *
 *   topology  writes profile.topology: packages, NUMA nodes, GPUs (PCI
 *             class 03xx of NVIDIA or AMD) and NICs (class 0200 Ethernet,
 *             0207 InfiniBand, with their OS names such as mlx5_0), and for
 *             every GPU x NIC pair the relation, closest first:
 *               same_switch       their nearest common ancestor is a PCIe
 *                                 switch (a PCI-to-PCI bridge)
 *               same_host_bridge  ... a host bridge (root complex)
 *               same_numa         ... a CPU-side object, both on one NUMA node
 *               cross_socket      on different NUMA nodes
 *             and the closest NIC of each GPU.  --topology-xml FILE loads a
 *             saved topology (lstopo --of xml) instead of this machine.
 * kvw_topo_closest_nic() gives the RDMA and NCCL probes the NIC to use for
 * their GPU.  Built without hwloc: skipped with that reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvw_topo.h"
#include "out.h"
#include "probe.h"

#ifdef KVW_HAVE_HWLOC
#include <hwloc.h>

static const char *const rel_names[] = { "same_switch", "same_host_bridge", "same_numa", "cross_socket" };

static bool is_gpu(hwloc_obj_t o)
{
	unsigned v = o->attr->pcidev.vendor_id;
	return (o->attr->pcidev.class_id >> 8) == 0x03 && (v == 0x10de || v == 0x1002);
}

static bool is_nic(hwloc_obj_t o)
{
	return o->attr->pcidev.class_id == 0x0200 || o->attr->pcidev.class_id == 0x0207;
}

static void busid(hwloc_obj_t o, char *out, size_t cap)
{
	snprintf(out, cap, "%04x:%02x:%02x.%x", o->attr->pcidev.domain, o->attr->pcidev.bus, o->attr->pcidev.dev,
	         o->attr->pcidev.func);
}

static int numa_of(hwloc_topology_t t, hwloc_obj_t o)
{
	hwloc_obj_t a = hwloc_get_non_io_ancestor_obj(t, o);
	return a && a->nodeset ? hwloc_bitmap_first(a->nodeset) : -1;
}

static int relation(hwloc_topology_t t, hwloc_obj_t g, hwloc_obj_t n)
{
	hwloc_obj_t c = hwloc_get_common_ancestor_obj(t, g, n);
	if (c && c->type == HWLOC_OBJ_BRIDGE)
		return c->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST ? 1 : 0;
	return numa_of(t, g) == numa_of(t, n) ? 2 : 3;
}

/* the first OS device name under a NIC ("mlx5_0"), or its bus id */
static void nic_name(hwloc_obj_t o, char *out, size_t cap)
{
	for (hwloc_obj_t c = o->io_first_child; c; c = c->next_sibling)
		if (c->type == HWLOC_OBJ_OS_DEVICE && c->name) {
			snprintf(out, cap, "%s", c->name);
			return;
		}
	busid(o, out, cap);
}

static kvw_err load(const char *xml, hwloc_topology_t *t, kvw_diag *d)
{
	if (hwloc_topology_init(t))
		return kvw_fail(d, KVW_ESYS, "hwloc_topology_init failed");
	hwloc_topology_set_io_types_filter(*t, HWLOC_TYPE_FILTER_KEEP_ALL);
	if (xml && hwloc_topology_set_xml(*t, xml)) {
		hwloc_topology_destroy(*t);
		return kvw_fail(d, KVW_EINPUT, "hwloc cannot read the topology in %s", xml);
	}
	if (hwloc_topology_load(*t)) {
		hwloc_topology_destroy(*t);
		return kvw_fail(d, xml ? KVW_EINPUT : KVW_ESYS, "hwloc cannot load the topology%s%s", xml ? " of " : "",
		                xml ? xml : "");
	}
	return KVW_OK;
}

static json_t *describe(hwloc_topology_t t, const char *source)
{
	json_t *topo = json_object(), *gpus = json_array(), *nics = json_array(), *pairs = json_array();
	json_t *closest = json_object();
	json_object_set_new(topo, "source", json_string(source));
	json_object_set_new(topo, "packages", json_integer(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE)));
	json_object_set_new(topo, "numa_nodes", json_integer(hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE)));
	for (hwloc_obj_t o = NULL; (o = hwloc_get_next_pcidev(t, o));) {
		char id[32], name[64];
		if (!is_gpu(o) && !is_nic(o))
			continue;
		busid(o, id, sizeof id);
		json_t *e = json_object();
		json_object_set_new(e, "pci", json_string(id));
		json_object_set_new(e, "numa", json_integer(numa_of(t, o)));
		if (is_nic(o)) {
			nic_name(o, name, sizeof name);
			json_object_set_new(e, "name", json_string(name));
			json_object_set_new(e, "kind", json_string(o->attr->pcidev.class_id == 0x0207 ? "InfiniBand" : "Ethernet"));
		}
		json_array_append_new(is_gpu(o) ? gpus : nics, e);
	}
	for (hwloc_obj_t g = NULL; (g = hwloc_get_next_pcidev(t, g));) {
		if (!is_gpu(g))
			continue;
		char gid[32], best_name[64] = "";
		int best = 4;
		busid(g, gid, sizeof gid);
		for (hwloc_obj_t n = NULL; (n = hwloc_get_next_pcidev(t, n));) {
			if (!is_nic(n))
				continue;
			char nname[64];
			int rel = relation(t, g, n);
			nic_name(n, nname, sizeof nname);
			json_t *p = json_object();
			json_object_set_new(p, "gpu", json_string(gid));
			json_object_set_new(p, "nic", json_string(nname));
			json_object_set_new(p, "relation", json_string(rel_names[rel]));
			json_array_append_new(pairs, p);
			if (rel < best)
				best = rel, snprintf(best_name, sizeof best_name, "%s", nname);
		}
		json_object_set_new(closest, gid, best_name[0] ? json_string(best_name) : json_null());
	}
	json_object_set_new(topo, "gpus", gpus);
	json_object_set_new(topo, "nics", nics);
	json_object_set_new(topo, "pairs", pairs);
	json_object_set_new(topo, "closest_nic", closest);
	return topo;
}

bool kvw_topo_closest_nic(const char *gpu_pci, char *name, size_t cap)
{
	hwloc_topology_t t;
	kvw_diag d;
	if (load(NULL, &t, &d))
		return false;
	json_t *topo = describe(t, "hwloc");
	hwloc_topology_destroy(t);
	char key[32];
	/* CUDA writes 0000:01:00.0 in upper case hex; hwloc's ids here are lower case */
	snprintf(key, sizeof key, "%s", gpu_pci);
	for (char *p = key; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	const char *nic = json_string_value(json_object_get(json_object_get(topo, "closest_nic"), key));
	bool ok = nic != NULL;
	if (ok)
		snprintf(name, cap, "%s", nic);
	json_decref(topo);
	return ok;
}

kvw_err kvw_topo_check_xml(const char *path, kvw_diag *d)
{
	hwloc_topology_t t;
	kvw_err err = load(path, &t, d);
	if (!err)
		hwloc_topology_destroy(t);
	return err;
}

static const char *topo_unavailable(const kvw_mpi *mpi)
{
	(void)mpi;
	return NULL;
}

static kvw_err topo_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	const char *xml = r->args->topology_xml;
	hwloc_topology_t t;
	kvw_err err = load(xml, &t, d);
	if (err)
		return err;
	char source[600];
	snprintf(source, sizeof source, "hwloc %s%s%s", HWLOC_VERSION, xml ? " from " : " on this machine", xml ? xml : "");
	json_t *topo = describe(t, source);
	hwloc_topology_destroy(t);
	fprintf(stderr, "kvwall probe: topology     %zu GPUs, %zu NICs, %lld NUMA nodes\n",
	        json_array_size(json_object_get(topo, "gpus")), json_array_size(json_object_get(topo, "nics")),
	        (long long)json_integer_value(json_object_get(topo, "numa_nodes")));
	json_object_set_new(r->profile, "topology", topo);
	return KVW_OK;
}

/* a thread's binding before kvwall changed it (kvw_topo.h) */
struct kvw_topo_saved {
	hwloc_topology_t t;
	hwloc_bitmap_t cpus, nodes;
	hwloc_membind_policy_t policy;
	bool have_cpus, have_mem;
};

void kvw_topo_unbind(kvw_topo_saved *s)
{
	if (!s)
		return;
	if (s->have_cpus)
		hwloc_set_cpubind(s->t, s->cpus, HWLOC_CPUBIND_THREAD);
	if (s->have_mem)
		hwloc_set_membind(s->t, s->nodes, s->policy, HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET);
	hwloc_bitmap_free(s->cpus);
	hwloc_bitmap_free(s->nodes);
	hwloc_topology_destroy(s->t);
	free(s);
}

/* saves the calling thread's CPU and memory binding, then binds both to
 * set (t is taken over); NULL when hwloc refused */
static kvw_topo_saved *bind_set(hwloc_topology_t t, hwloc_const_cpuset_t set, char *nodes_text, size_t cap)
{
	kvw_topo_saved *s = calloc(1, sizeof *s);
	hwloc_bitmap_t want = hwloc_bitmap_alloc();
	if (!s || !want || !(s->cpus = hwloc_bitmap_alloc()) || !(s->nodes = hwloc_bitmap_alloc())) {
		hwloc_bitmap_free(want);
		if (s) {
			hwloc_bitmap_free(s->cpus);
			free(s);
		}
		hwloc_topology_destroy(t);
		return NULL;
	}
	s->t = t;
	s->have_cpus = hwloc_get_cpubind(t, s->cpus, HWLOC_CPUBIND_THREAD) == 0;
	s->have_mem = hwloc_get_membind(t, s->nodes, &s->policy, HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) == 0;
	if (!s->have_cpus || hwloc_set_cpubind(t, set, HWLOC_CPUBIND_THREAD) != 0) {
		hwloc_bitmap_free(want);
		s->have_cpus = s->have_mem = false;
		kvw_topo_unbind(s);
		return NULL;
	}
	hwloc_cpuset_to_nodeset(t, set, want);
	hwloc_set_membind(t, want, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET);
	char *txt = NULL;
	hwloc_bitmap_list_asprintf(&txt, want);
	snprintf(nodes_text, cap, "%s", txt ? txt : "?");
	free(txt);
	hwloc_bitmap_free(want);
	return s;
}

kvw_topo_saved *kvw_topo_bind_cpus(const char *cpulist)
{
	hwloc_topology_t t;
	kvw_diag d;
	char nodes[64];
	if (load(NULL, &t, &d))
		return NULL;
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	if (!set || hwloc_bitmap_list_sscanf(set, cpulist) != 0) {
		hwloc_bitmap_free(set);
		hwloc_topology_destroy(t);
		return NULL;
	}
	kvw_topo_saved *s = bind_set(t, set, nodes, sizeof nodes);
	hwloc_bitmap_free(set);
	return s;
}

#ifdef KVW_HAVE_CUDA
#include <hwloc/cudart.h>

kvw_topo_saved *kvw_topo_bind_near_gpu(int dev, char *where, size_t cap)
{
	hwloc_topology_t t;
	kvw_diag d;
	char nodes[64];
	if (load(NULL, &t, &d))
		return NULL;
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	if (!set || hwloc_cudart_get_device_cpuset(t, dev, set) != 0) {
		hwloc_bitmap_free(set);
		hwloc_topology_destroy(t);
		return NULL;
	}
	kvw_topo_saved *s = bind_set(t, set, nodes, sizeof nodes);
	hwloc_bitmap_free(set);
	if (s)
		snprintf(where, cap, "pinned buffers allocated by a thread bound to NUMA node(s) %s, nearest GPU %d (the "
		         "binding is undone after the probe)", nodes, dev);
	return s;
}
#else
kvw_topo_saved *kvw_topo_bind_near_gpu(int dev, char *where, size_t cap)
{
	(void)dev, (void)where, (void)cap;
	return NULL;
}
#endif

#else /* built without hwloc */

kvw_topo_saved *kvw_topo_bind_near_gpu(int dev, char *where, size_t cap)
{
	(void)dev, (void)where, (void)cap;
	return NULL;
}

kvw_topo_saved *kvw_topo_bind_cpus(const char *cpulist)
{
	(void)cpulist;
	return NULL;
}

void kvw_topo_unbind(kvw_topo_saved *s)
{
	(void)s;
}

kvw_err kvw_topo_check_xml(const char *path, kvw_diag *d)
{
	(void)path, (void)d;
	return KVW_OK; /* the probe will say it is built without hwloc */
}

bool kvw_topo_closest_nic(const char *gpu_pci, char *name, size_t cap)
{
	(void)gpu_pci, (void)name, (void)cap;
	return false;
}

static const char *topo_unavailable(const kvw_mpi *mpi)
{
	(void)mpi;
	return "built without hwloc";
}

static kvw_err topo_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without hwloc");
}

#endif

const kvw_probe kvw_probe_topology = {
	.name = "topology",
	.summary = "GPUs, NICs and NUMA nodes (hwloc) and each GPU-NIC pair's PCIe relation; the closest NIC per GPU",
	.needs = KVW_NEED_NOTHING,
	.unavailable = topo_unavailable,
	.run = topo_run,
};
