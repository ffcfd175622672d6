/* kvw_cuda.h — what the GPU probes share: the check macro, event timing,
 * host-side pattern fill and check.  C, on the CUDA runtime API. */
#ifndef KVW_CUDA_H
#define KVW_CUDA_H

#include <cuda_runtime_api.h>
#include <stddef.h>

#include "kvw_err.h"
#include "kvw_gpuplan.h"

/* Needs `kvw_err err` and `kvw_diag *d` in scope and an `out:` label that
 * frees what the function owns: prints the failed call with file and line
 * and jumps there, never returning past owned resources. */
#define KVW_CU(call) \
	do { \
		cudaError_t e_ = (call); \
		if (e_ != cudaSuccess) { \
			err = kvw_fail(d, KVW_EDRIVER, "%s:%d: %s: %s", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
			goto out; \
		} \
	} while (0)

/* In a function returning cudaError_t: returns the failed call's error. */
#define KVW_CU_RET(call) \
	do { \
		cudaError_t c_ = (call); \
		if (c_ != cudaSuccess) \
			return c_; \
	} while (0)

#ifdef __cplusplus
extern "C" {
#endif

/* a pair of events on one stream */
typedef struct kvw_evtimer {
	cudaStream_t stream;
	cudaEvent_t start, stop;
} kvw_evtimer;

cudaError_t kvw_evtimer_init(kvw_evtimer *t, cudaStream_t s);
void kvw_evtimer_destroy(kvw_evtimer *t); /* accepts a zeroed timer */
/* seconds between the events after synchronising on stop; < 0 on error */
double kvw_evtimer_seconds(kvw_evtimer *t);

/* the timer's events as kvw_time_loop's marks: a loop of launches between
 * one pair of events (BabelStream, nvbandwidth) */
kvw_marks kvw_evtimer_marks(kvw_evtimer *t);

/* host buffers: n 16-byte elements of pattern(seed) (hbm.cu) */
void kvw_pattern_fill_host(void *p, size_t n, unsigned seed);
unsigned long long kvw_pattern_check_host(const void *p, size_t n, unsigned seed);

#ifdef __cplusplus
}
#endif

#endif
