/* fuzz_profile.c — libFuzzer target for the readers of measured data:
 * profile.json (kvwall.profile/1, its records, links and curves) and the
 * metric extraction of kvwall compare (profiles and Google Benchmark
 * JSON), and kvwall plan's reader of the profile's decode table.  Any
 * document is read or refused with one line; what is read gives finite
 * metrics, increasing curves and a full decode grid of positive rates. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "plan.h"
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
	kvw_decode_table t;
	bool have;
	char src[300];
	if (plan_read_decode(root, "fuzz", &t, &have, src, sizeof src, &d) == KVW_OK) {
		for (int i = 0; have && i < t.n_batch; i++)
			for (int j = 0; j < t.n_ctx; j++)
				if (!(t.bw[i][j] > 0) || !isfinite(t.bw[i][j]) || !(t.fixed_s[i][j] >= 0)
				    || (i && !(t.batch[i] > t.batch[i - 1])) || (j && !(t.ctx[j] > t.ctx[j - 1])))
					abort();
	} else if (strchr(d.msg, '\n')) {
		abort();
	}
	free(p);
	json_decref(root);
	return 0;
}
