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

/* one process per GPU: this process uses device local_rank % devices */
void kvw_gpu_select(int local_rank);

#ifdef __cplusplus
}
#endif

#endif
