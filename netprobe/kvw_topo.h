/* kvw_topo.h — what the transfer probes ask of the topology (topology.c). */
#ifndef KVW_TOPO_H
#define KVW_TOPO_H

#include <stdbool.h>
#include <stddef.h>

/* The NIC (its OS name, e.g. mlx5_0) closest on the PCIe tree to the GPU
 * at gpu_pci ("0000:01:00.0"); false when hwloc or a NIC is missing. */
bool kvw_topo_closest_nic(const char *gpu_pci, char *name, size_t cap);

/* Binds the calling thread (CPU and memory) to the NUMA node nearest CUDA
 * device dev, so pinned buffers it allocates land there; fills where with
 * what was done.  Returns the thread's binding before (NULL when hwloc or
 * CUDA is missing, nothing changed), which kvw_topo_unbind restores and
 * frees, so later probes do not inherit the binding. */
typedef struct kvw_topo_saved kvw_topo_saved;
kvw_topo_saved *kvw_topo_bind_near_gpu(int dev, char *where, size_t cap);
/* The same for a CPU list ("0", "0-3,8"): for tests, and callers that know
 * their CPUs. */
kvw_topo_saved *kvw_topo_bind_cpus(const char *cpulist);
void kvw_topo_unbind(kvw_topo_saved *saved); /* accepts NULL */

/* Can hwloc load this saved topology?  KVW_EINPUT naming it if not. */
#include "kvw_err.h"
kvw_err kvw_topo_check_xml(const char *path, kvw_diag *d);

#endif
