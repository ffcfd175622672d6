/* compare.h — is a change in one metric a regression?  Pure arithmetic.
 *
 * drop = (baseline - current) / baseline for higher-is-better metrics and
 * (current - baseline) / baseline for lower-is-better ones.  A drop is a
 * regression only when it exceeds both the tolerance and what the two
 * runs' own spread explains: sigma * sqrt(s_b^2 + s_c^2), with s the
 * relative standard deviation of each run's repetitions.  (Repetition
 * stddev, not the standard error of the median: nightly runs on one node
 * wobble by more than their in-run error suggests.)
 */
#ifndef KVW_COMPARE_H
#define KVW_COMPARE_H

#include "metrics.h"

typedef enum kvw_verdict {
	KVW_CMP_OK,           /* within the tolerance */
	KVW_CMP_IMPROVED,     /* better by more than the tolerance */
	KVW_CMP_NOISE,        /* worse by more than the tolerance, but within the spread */
	KVW_CMP_REGRESSION,   /* worse by more than both */
	KVW_CMP_MISSING,      /* in the baseline, not in the current run */
	KVW_CMP_NEW,          /* in the current run only */
	KVW_CMP_NOT_COMPARED, /* hardware differs */
} kvw_verdict;

const char *kvw_verdict_name(kvw_verdict v);

/* change: signed relative change, positive = better; noise: the spread
 * bound the drop must exceed. */
kvw_verdict kvw_compare_metric(const kvw_metric *base, const kvw_metric *cur, double tolerance,
                               double sigma, double *change, double *noise);

#endif
