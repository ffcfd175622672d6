/* metrics.h — the comparable numbers of one run, for kvwall compare.
 *
 * From a kvwall.profile/1: every ok record gives "probe/variant:gbps" or
 * ":tflops" (higher is better) or else ":time_s" (lower is better), with
 * the relative spread of its repetitions (stddev / median of the time);
 * every fitted link gives "link/name:bandwidth_GBps" (no spread).
 * Skipped and failed records give no metric: to compare they are missing.
 * From Google Benchmark JSON (--benchmark_out): each benchmark's median
 * real time (lower is better), or its bytes_per_second when reported,
 * with the spread of its repetitions.
 * The hardware key names what was measured: GPU models and driver, CPU
 * model and count; runs on different hardware are not compared silently.
 */
#ifndef KVW_METRICS_H
#define KVW_METRICS_H

#include <stdbool.h>

#include "kvw_err.h"

typedef struct kvw_metric {
	char name[192];
	double value;
	double rel_spread;  /* stddev / median of the repetitions; 0 when unknown */
	bool higher_better;
} kvw_metric;

typedef struct kvw_metricset {
	char kind[24];      /* "kvwall.profile/1" or "gbench" */
	char hardware[512]; /* what the numbers were measured on */
	int n, cap;
	kvw_metric *m;      /* owned */
} kvw_metricset;

kvw_err kvw_metrics_load(const char *path, kvw_metricset *out, kvw_diag *d);
/* The same on a parsed document. */
typedef struct json_t json_t;
kvw_err kvw_metrics_parse(const json_t *root, kvw_metricset *out, kvw_diag *d);
void kvw_metrics_free(kvw_metricset *s); /* accepts a zeroed set */
const kvw_metric *kvw_metrics_find(const kvw_metricset *s, const char *name);

#endif
