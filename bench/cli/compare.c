/* compare.c — the regression rule of kvwall compare (see compare.h). */
#include "compare.h"

#include <math.h>

const char *kvw_verdict_name(kvw_verdict v)
{
	switch (v) {
	case KVW_CMP_OK: return "ok";
	case KVW_CMP_IMPROVED: return "improved";
	case KVW_CMP_NOISE: return "within_noise";
	case KVW_CMP_REGRESSION: return "regression";
	case KVW_CMP_MISSING: return "missing";
	case KVW_CMP_NEW: return "new";
	case KVW_CMP_NOT_COMPARED: return "not_compared";
	}
	return "?";
}

kvw_verdict kvw_compare_metric(const kvw_metric *base, const kvw_metric *cur, double tolerance,
                               double sigma, double *change, double *noise)
{
	double drop = base->higher_better ? (base->value - cur->value) / base->value
	                                  : (cur->value - base->value) / base->value;
	*change = -drop;
	*noise = sigma * sqrt(base->rel_spread * base->rel_spread + cur->rel_spread * cur->rel_spread);
	if (drop > tolerance)
		return drop > *noise ? KVW_CMP_REGRESSION : KVW_CMP_NOISE;
	if (-drop > tolerance)
		return KVW_CMP_IMPROVED;
	return KVW_CMP_OK;
}
