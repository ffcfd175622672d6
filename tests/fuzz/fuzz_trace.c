/* fuzz_trace.c — libFuzzer target for the trace readers (Mooncake JSONL,
 * Azure CSV).  Any input either parses into a workload whose requests are
 * in arrival order with lengths in range and hashes inside the hash array,
 * or is refused with a one-line message; never a crash, leak or
 * out-of-bounds read (run under ASan + UBSan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kvw_workload w;
	kvw_diag d = { "" };
	if (kvw_trace_parse((const char *)data, size, KVW_TRACE_AUTO, "fuzz", &w, &d) == KVW_OK) {
		for (size_t i = 0; i < w.n; i++) {
			const kvw_request *r = &w.req[i];
			if (r->input_tokens < 1 || r->output_tokens < 1 || r->arrival_s < 0 ||
			    (i && r->arrival_s < w.req[i - 1].arrival_s) || r->hash_off + (size_t)r->n_hash > w.n_hashes)
				abort();
		}
		kvw_workload_free(&w);
	} else if (strchr(d.msg, '\n') || w.req || w.n) {
		abort();
	}
	return 0;
}
