/* kvw_gpu.h — what the GPU probes share: is there a device, what is it.
 *
 * Built without CUDA, every function answers "built without CUDA"; built
 * with it but run where no device or driver is, they answer "no CUDA
 * device" with the runtime's reason.  Probes turn that into "skipped".
 */
#ifndef KVW_GPU_H
#define KVW_GPU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NULL when at least min_devices CUDA devices are usable, else why not
 * (a static string). */
const char *kvw_gpu_unavailable(int min_devices);

/* New array of {"index", "name", "driver", "runtime", "memory_bytes",
 * "sm_count", "cc"} for every device; empty without CUDA or devices. */
json_t *kvw_gpu_facts(void);

/* PCI bus id of the current device ("0000:01:00.0"); false without one */
bool kvw_gpu_pci(char *out, int cap);

/* Staging for host-side transfer paths: a device buffer holding a copy of
 * n host bytes (NULL without CUDA or on failure), a device-to-host copy,
 * and its release (accepts NULL). */
void *kvw_gpu_copy_of(const void *host, size_t n);
bool kvw_gpu_to_host(void *dst, const void *dev, size_t n);
void kvw_gpu_free(void *dev);

/* one process per GPU: this process uses device local_rank % devices */
void kvw_gpu_select(int local_rank);

/* the current device computes in fp8 (compute capability >= 8.9: Ada,
 * Hopper and later); false without CUDA */
bool kvw_gpu_has_fp8(void);

#ifdef __cplusplus
}
#endif

#endif
