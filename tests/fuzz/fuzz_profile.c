/* fuzz_profile.c — libFuzzer target for the readers of measured data:
 * profile.json (kvwall.profile/1, its records, links and curves) and the
 * metric extraction of kvwall compare (profiles and Google Benchmark
 * JSON).  Any document is read or refused with one line; what is read
 * gives finite metrics and increasing curves. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return 0;
	kvw_profile *p = calloc(1, sizeof *p);
	kvw_metricset m;
	kvw_diag d;
	if (!p)
		abort();
	if (kvw_profile_parse(root, p, &d) == KVW_OK) {
		for (int i = 1; i < p->compute.gemm.n; i++)
			if (!(p->compute.gemm.pt[i].tokens > p->compute.gemm.pt[i - 1].tokens))
				abort();
		for (int i = 0; i < p->n_links; i++)
			if (!(p->links[i].link.bw > 0) || !(p->links[i].link.alpha_s >= 0))
				abort();
	} else if (strchr(d.msg, '\n')) {
		abort();
	}
	if (kvw_metrics_parse(root, &m, &d) == KVW_OK) {
		for (int i = 0; i < m.n; i++)
			if (!isfinite(m.m[i].value) || !(m.m[i].rel_spread >= 0))
				abort();
		kvw_metrics_free(&m);
	} else if (strchr(d.msg, '\n')) {
		abort();
	}
	free(p);
	json_decref(root);
	return 0;
}
