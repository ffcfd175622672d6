/* fuzz_config.c — libFuzzer target for the catalog parsers: Hugging Face
 * config.json and kvwall.hw/1 sheets.  Any input must either parse into a
 * model the arithmetic accepts, or be refused with a one-line message;
 * never crash, leak or read out of bounds (run under ASan + UBSan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_config.h"
#include "kvw_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kvw_arch *a = malloc(sizeof *a);
	kvw_diag d;
	if (!a)
		return 0;
	if (kvw_config_parse((const char *)data, size, NULL, a, &d) == KVW_OK) {
		kvw_kvfmt f = { KVW_DT_INT4, 1 };
		/* what a parsed model feeds must give finite, non-negative numbers */
		double kv = kvw_kv_bytes(a, &f, 4096), fl = kvw_linear_flops(a, 4096) + kvw_attn_flops(a, 4096, true);
		if (!(kv >= 0) || !(fl >= 0))
			abort();
	} else if (strchr(d.msg, '\n')) {
		abort();
	}
	free(a);
	kvw_hw_gpu g;
	kvw_hw_link l;
	kvw_hw_gpu_parse((const char *)data, size, &g, &d);
	kvw_hw_link_parse((const char *)data, size, &l, &d);
	return 0;
}
