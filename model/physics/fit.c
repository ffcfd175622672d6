/* fit.c — weighted least squares for t = alpha + beta s, beta = 1 / B
 * (see kvw_fit.h).  With w = 1 / t^2 and sums S_w, S_ws, S_wss, S_wt,
 * S_wst the normal equations give
 *     beta  = (S_w S_wst - S_ws S_wt) / (S_w S_wss - S_ws^2)
 *     alpha = (S_wt - beta S_ws) / S_w
 * and through the origin beta = S_wst / S_wss.
 */
#include "kvw_fit.h"

#include <math.h>

bool kvw_fit_link(const double *bytes, const double *seconds, int n, kvw_linkfit *out)
{
	double sw = 0, sws = 0, swss = 0, swt = 0, swst = 0;
	int used = 0;
	for (int i = 0; i < n; i++) {
		double s = bytes[i], t = seconds[i];
		if (!(s > 0) || !(t > 0) || !isfinite(s) || !isfinite(t))
			continue;
		double w = 1.0 / (t * t);
		sw += w, sws += w * s, swss += w * s * s, swt += w * t, swst += w * s * t;
		used++;
	}
	if (used < 2)
		return false;
	double det = sw * swss - sws * sws, beta, alpha;
	beta = det > 0 ? (sw * swst - sws * swt) / det : 0;
	alpha = (swt - beta * sws) / sw;
	if (!(alpha >= 0) || !(beta > 0)) {
		alpha = 0;
		beta = swst / swss;
	}
	if (!(beta > 0))
		return false;
	double mean = swt / sw, ss_res = 0, ss_tot = 0;
	for (int i = 0; i < n; i++) {
		double s = bytes[i], t = seconds[i];
		if (!(s > 0) || !(t > 0) || !isfinite(s) || !isfinite(t))
			continue;
		double w = 1.0 / (t * t), r = t - alpha - beta * s, m = t - mean;
		ss_res += w * r * r;
		ss_tot += w * m * m;
	}
	*out = (kvw_linkfit){ alpha, 1.0 / beta, ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0, used };
	return true;
}
