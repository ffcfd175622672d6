/* kvw_fit.h — fitting t(s) = alpha + s / B to a size sweep of one link.
 *
 * Sizes span 4 KiB to 1 GiB, so absolute least squares would let the big
 * messages decide alone; the fit minimises relative residuals instead,
 * sum ((t_i - alpha - s_i / B) / t_i)^2, which is ordinary weighted least
 * squares with weights 1 / t_i^2.  A negative intercept (latency below
 * resolution) is clamped: the fit is redone through the origin.
 */
#ifndef KVW_FIT_H
#define KVW_FIT_H

#include <stdbool.h>

typedef struct kvw_linkfit {
	double alpha_s; /* fixed cost per message, >= 0 */
	double bw;      /* asymptotic bandwidth, bytes/s */
	double r2;      /* weighted coefficient of determination */
	int n;          /* points used */
} kvw_linkfit;

/* false when fewer than 2 positive points, or the slope is not positive */
bool kvw_fit_link(const double *bytes, const double *seconds, int n, kvw_linkfit *out);

#endif
