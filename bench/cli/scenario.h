/* scenario.h — from command-line options to a model scenario.
 *
 * Resolves the model (--model NAME from the catalog, or --config PATH),
 * the compute rate (--tflops X; else the prefill curve of --profile FILE
 * when it has one; else the --hw NAME spec sheet x efficiency), the link (--gbps Y [--alpha-us A], or --link NAME
 * looked up first in the profile, then in the catalog) and the HBM
 * bandwidth for the decode side, and says where each number came from.
 */
#ifndef KVW_SCENARIO_H
#define KVW_SCENARIO_H

#include "kvw_model.h"
#include "opts.h"
#include "out.h"
#include "profile.h"

typedef struct kvw_setup {
	kvw_arch arch;
	kvw_scenario sc;        /* sc.arch points at arch: do not copy a kvw_setup */
	char model_source[600];
	char compute_source[300];
	char link_name[KVW_NAME_LEN];
	char link_source[300];
	double hbm_bw;          /* bytes/s, 0 when unknown */
	char hbm_source[200];
	kvw_profile profile;
	bool have_profile;
} kvw_setup;

/* Model and KV format only (kvwall kv). */
kvw_err kvw_setup_model(const kvw_args *a, kvw_setup *s, kvw_diag *d);
/* Everything (crossover, split, sweep); need_link: a link is required. */
kvw_err kvw_setup_full(const kvw_args *a, kvw_setup *s, bool need_link, kvw_diag *d);

/* The same with a profile already parsed (where: its name in messages). */
kvw_err kvw_setup_with_profile(const kvw_args *a, const json_t *profile, const char *where, kvw_setup *s,
                               bool need_link, kvw_diag *d);

/* A note when ctx tokens is beyond the model's context window
 * (max_position_embeddings, when its config gives one); true if noted. */
bool kvw_setup_ctx_note(const kvw_setup *s, long ctx, kvw_out *o);

/* Summary fields and notes every model command prints. */
void kvw_setup_describe(const kvw_setup *s, kvw_out *o, bool with_link);

/* Shared option rows. */
#define KVW_OPTS_OUTPUT \
	{ "json", KVW_OPT_FLAG, KVW_ARG(json), NULL, 0, 0, "JSON output" }, \
	{ "csv", KVW_OPT_FLAG, KVW_ARG(csv), NULL, 0, 0, "CSV output" }, \
	{ "output", KVW_OPT_STR, KVW_ARG(output), NULL, 0, 0, "write to this file (whole or not at all)" }, \
	{ "catalog", KVW_OPT_STR, KVW_ARG(catalog), NULL, 0, 0, "catalog directory [default $KVWALL_CATALOG or the built-in one]" }

#define KVW_OPTS_MODEL \
	{ "model", KVW_OPT_STR, KVW_ARG(model), NULL, 0, 0, "model from the catalog (kvwall models)" }, \
	{ "config", KVW_OPT_STR, KVW_ARG(config), NULL, 0, 0, "any Hugging Face config.json instead of --model" }, \
	{ "kv-dtype", KVW_OPT_STR, KVW_ARG(kv_dtype), "bf16", 0, 0, "KV cache dtype: bf16, fp16, fp8, int4" }, \
	{ "tp", KVW_OPT_LONG, KVW_ARG(tp), "1", 1, 1024, "tensor-parallel degree" }

#define KVW_OPTS_HARDWARE \
	{ "hw", KVW_OPT_STR, KVW_ARG(hw), NULL, 0, 0, "GPU spec sheet from the catalog (kvwall hw)" }, \
	{ "link", KVW_OPT_STR, KVW_ARG(link), NULL, 0, 0, "link: a profile link or a catalog link" }, \
	{ "profile", KVW_OPT_STR, KVW_ARG(profile), NULL, 0, 0, "measured profile.json (kvwall.profile/1)" }, \
	{ "tflops", KVW_OPT_DBL, KVW_ARG(tflops), NULL, 1e-3, 1e6, "compute rate of one GPU, TFLOP/s (taken as achieved)" }, \
	{ "gbps", KVW_OPT_DBL, KVW_ARG(gbps), NULL, 1e-6, 1e6, "link bandwidth, GB/s (1 GB = 1e9 B)" }, \
	{ "alpha-us", KVW_OPT_DBL, KVW_ARG(alpha_us), NULL, 0, 1e9, "link latency per message with --gbps, microseconds [default 0]" }, \
	{ "efficiency", KVW_OPT_DBL, KVW_ARG(efficiency), NULL, 1e-3, 1, "fraction of the rate achieved [default 0.6 with --hw, 1 with --tflops]" }, \
	{ "dtype", KVW_OPT_STR, KVW_ARG(dtype), "bf16", 0, 0, "compute dtype for --hw peaks: bf16, fp16, fp8" }, \
	{ "overhead-us", KVW_OPT_DBL, KVW_ARG(overhead_us), NULL, 0, 1e9, "fixed cost of one prefill, microseconds [default: profile's, else 0]" }, \
	{ "compute-slowdown", KVW_OPT_DBL, KVW_ARG(compute_slowdown), NULL, 1, 100, "prefill slowdown while a copy runs [default: profile's, else 1]" }, \
	{ "copy-slowdown", KVW_OPT_DBL, KVW_ARG(copy_slowdown), NULL, 1, 100, "copy slowdown while a prefill runs [default: profile's, else 1]" }, \
	{ "hbm-gbps", KVW_OPT_DBL, KVW_ARG(hbm_gbps), NULL, 1e-3, 1e6, "HBM bandwidth for the decode side, GB/s" }, \
	{ "message-tokens", KVW_OPT_LONG, KVW_ARG(message_tokens), "0", 0, 1L << 24, "send the KV as one message per layer x N-token block (0: packed)" }, \
	{ "non-causal", KVW_OPT_FLAG, KVW_ARG(non_causal), NULL, 0, 0, "count full L x L attention (as some papers do)" }, \
	{ "layerwise", KVW_OPT_FLAG, KVW_ARG(layerwise), NULL, 0, 0, "transfer layer by layer, overlapped with prefill" }

#endif
