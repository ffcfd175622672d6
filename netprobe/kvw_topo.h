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
 * what was done.  false when hwloc or CUDA is missing. */
bool kvw_topo_bind_near_gpu(int dev, char *where, size_t cap);

/* Can hwloc load this saved topology?  KVW_EINPUT naming it if not. */
#include "kvw_err.h"
kvw_err kvw_topo_check_xml(const char *path, kvw_diag *d);

#endif
