/* metrics.c — percentiles of a sample, stated: nearest rank on the sorted
 * sample (the p-th percentile is the smallest value with at least p% of
 * the sample at or below it), as vidur's metrics report from sorted data;
 * no interpolation, so a reported p90 is a latency some request saw. */
#include "kvw_sim.h"

#include <math.h>
#include <stdlib.h>

double kvw_percentile_sorted(const double *x, size_t n, double p)
{
	if (n == 0)
		return NAN;
	double rank = ceil(p / 100.0 * (double)n - 1e-9);
	size_t k = rank < 1 ? 0 : (size_t)rank - 1;
	return x[k < n ? k : n - 1];
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void kvw_sort_doubles(double *x, size_t n)
{
	if (n > 1)
		qsort(x, n, sizeof *x, cmp);
}
