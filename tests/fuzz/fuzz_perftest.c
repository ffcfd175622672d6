/* fuzz_perftest.c — libFuzzer target for the perftest output parser: any
 * text parses into finite non-negative rows or is refused with one line. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perftest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kvw_perftest *pt = malloc(sizeof *pt);
	kvw_diag d;
	if (!pt)
		return 0;
	if (kvw_perftest_parse((const char *)data, size, pt, &d) == KVW_OK) {
		for (int i = 0; i < pt->n; i++)
			if (!(pt->rows[i].bytes >= 1) || !isfinite(pt->rows[i].avg_gbps) || pt->rows[i].avg_gbps < 0)
				abort();
	} else if (strchr(d.msg, '\n')) {
		abort();
	}
	free(pt);
	return 0;
}
