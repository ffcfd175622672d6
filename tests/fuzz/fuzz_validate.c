/* fuzz_validate.c — libFuzzer target for kvwall validate --from: any
 * document is analysed or refused with one line; an analysed one has a
 * pass flag and, for every pair, the predicted crossovers of a regime and
 * times that are positive numbers. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return 0;
	kvw_args a = { 0 };
	kvw_diag d = { "" };
	bool pass = false;
	if (kvw_validate_analyse(root, &a, 0.1, &pass, &d) == KVW_OK) {
		const json_t *an = json_object_get(root, "analysis");
		if (!json_is_boolean(json_object_get(an, "pass")) || json_array_size(json_object_get(an, "pairs")) == 0)
			abort();
		size_t i, j;
		const json_t *p, *pt;
		json_array_foreach(json_object_get(an, "pairs"), i, p) {
			if (!json_is_string(json_object_get(json_object_get(p, "predicted"), "regime")))
				abort();
			json_array_foreach(json_object_get(p, "points"), j, pt)
				if (!(json_number_value(json_object_get(pt, "transfer_predicted_s")) > 0)
				    || !(json_number_value(json_object_get(pt, "transfer_measured_s")) > 0))
					abort();
		}
	} else if (strchr(d.msg, '\n') || !d.msg[0]) {
		abort();
	}
	json_decref(root);
	return 0;
}
