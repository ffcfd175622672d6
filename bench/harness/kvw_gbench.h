/* kvw_gbench.h — repetitions and statistics through Google Benchmark,
 * from C.
 *
 * The operation is timed by the caller (CUDA events, or a host clock
 * around a synchronised region) and handed to Google Benchmark as manual
 * time; Google Benchmark runs the iterations and repetitions and computes
 * the aggregates (median, stddev, and min / p90 / max registered here).
 * One untimed run comes first (the warm-up: lazy module loading, a
 * library's first call, a lazy connect).  Statistics are over repetitions
 * of the mean time per iteration.
 */
#ifndef KVW_GBENCH_H
#define KVW_GBENCH_H

#include "kvw_err.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the operation once and returns its duration in seconds; a negative
 * value reports a failure (the shim stops and returns KVW_EDRIVER). */
typedef double (*kvw_timed_fn)(void *arg);

kvw_err kvw_gbench_measure(const char *name, kvw_timed_fn fn, void *arg, long iterations,
                           long repetitions, kvw_tstats *out, kvw_diag *d);

#ifdef __cplusplus
}
#endif

#endif
