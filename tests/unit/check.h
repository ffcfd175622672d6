/* check.h — the smallest harness for table-driven C unit tests.
 * CHECK* print the failed expression with file and line and count it;
 * check_done() prints "N passed, N failed" (a line CI reads) and returns
 * the exit status. */
#ifndef KVW_CHECK_H
#define KVW_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond) \
	do { \
		if (cond) \
			check_pass++; \
		else { \
			check_fail++; \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

/* |got - want| <= rel * |want| (or <= rel when want == 0) */
#define CHECK_NEAR(got, want, rel) \
	do { \
		double g_ = (got), w_ = (want), tol_ = (rel) * (w_ != 0 ? fabs(w_) : 1.0); \
		if (fabs(g_ - w_) <= tol_) \
			check_pass++; \
		else { \
			check_fail++; \
			fprintf(stderr, "%s:%d: %s = %.17g, want %.17g (rel %g)\n", __FILE__, __LINE__, \
			        #got, g_, w_, (double)(rel)); \
		} \
	} while (0)

static inline int check_done(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_pass, check_fail);
	return check_fail ? 1 : 0;
}

#endif
