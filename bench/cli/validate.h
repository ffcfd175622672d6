/* validate.h — kvwall validate: the crossover measured directly on a GPU
 * against the crossover the model predicts from the profile of the same run.
 *
 * A validation document, schema "kvwall.validation/1":
 *
 *   {"schema": "kvwall.validation/1", "tool": {...}, "created_utc", "command",
 *    "label", "synthetic": false,        true: made-up numbers for tests
 *    "host": {...},
 *    "profile": {kvwall.profile/1 without "prefill"},   links, interference, hbm
 *    "models": [{"model": "llama-3-8b", "status": "ok" | "skipped", "reason",
 *                "layers", "distinct_layers",
 *                "prefill": {profile.prefill of this model's layer shapes},
 *                "recompute": [{"tokens", "seconds", "stddev_s"}],
 *                "transfers": [{"path", "profile_link",
 *                               "points": [{"tokens", "seconds", "stddev_s"}]}],
 *                "splits": [{"path", "tokens", "prefix", "seconds", "stddev_s"}]}]}
 *
 * The measurements (validate_gpu.c) fill "models"; the analysis below reads
 * them back, predicts every time with the model from the profile plus the
 * model's prefill curve (what `kvwall crossover --profile` computes from
 * DIR/profile-<model>.json), and adds "analysis":
 *
 *   {"tolerance", "gated_from_tokens",
 *    "pairs": [{"model", "path", "profile_link", "predict_command",
 *               "measured": {"regime", "crossovers": [...]},
 *               "predicted": {"regime", "crossovers": [...]},
 *               "crossover_error", "max_time_error", "pass", "why",
 *               "recompute_fit", "transfer_fit": {"overhead_s", "scale"}:
 *                   measured ~ overhead + scale x predicted over all points,
 *               "points": [{"tokens", "recompute_measured_s", "recompute_predicted_s",
 *                           "recompute_error", "transfer_measured_s",
 *                           "transfer_predicted_s", "transfer_error"}],
 *               "splits": [{"tokens", "prefix", "measured_s", "predicted_s", "error"}]}],
 *    "pairs_with_crossover", "pass"}
 *
 * Errors are (predicted - measured) / measured; crossover_error is the
 * largest in size of the roots' (signed), max_time_error the largest
 * |error| of the gated times.  The target: |error| <=
 * tolerance on every time at >= gated_from_tokens tokens, on each split
 * and on L*; the measured and predicted regimes must agree.
 */
#ifndef KVW_VALIDATE_H
#define KVW_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>

#include "kvw_err.h"
#include "opts.h"

#define KVW_VALIDATE_SCHEMA "kvwall.validation/1"
#define KVW_VALIDATE_GATED_FROM 1024

/* Checks doc (naming the first malformed part), then sets doc["analysis"].
 * a: the catalog directory.  *pass: every pair within tolerance. */
kvw_err kvw_validate_analyse(json_t *doc, const kvw_args *a, double tolerance, bool *pass, kvw_diag *d);

/* The profile a model's predictions come from: doc's profile with the
 * model's prefill curve (a new reference). */
json_t *kvw_validate_model_profile(const json_t *doc, const json_t *model);

/* Measures on this GPU (validate_gpu.c) and fills a new document; without
 * CUDA or a device: KVW_EDRIVER with the reason. */
kvw_err kvw_validate_measure(const kvw_args *a, int argc, char **argv, json_t **doc, kvw_diag *d);

#endif
