/* scenario.h — from command-line options to a model scenario.
 *
 * Resolves the model (--model NAME from the catalog, or --config PATH),
 * its tensor parallelism (--tp N, a list where a command compares, or
 * auto: the smallest that fits the --hw GPU's memory), the compute rate
 * (--tflops X; else the prefill curve of --profile FILE when it has one;
 * else the --hw NAME spec sheet x efficiency), the link (--gbps Y
 * [--alpha-us A], or --link NAME looked up first in the profile, then in
 * the catalog, whose sheets are taken at their achieved fraction), the
 * intra-node link the tensor-parallel all-reduces cross, the memory a
 * deployment must fit in and the HBM bandwidth for the decode side, and
 * says where each number came from.
 */
#ifndef KVW_SCENARIO_H
#define KVW_SCENARIO_H

#include "kvw_model.h"
#include "opts.h"
#include "out.h"
#include "profile.h"

#define KVW_MAX_TPS 16

/* vLLM's defaults, the engine a cluster owner most likely runs: KV
 * blocks of 16 tokens (engine argument --block-size, default 16 on CUDA)
 * and 90% of GPU memory for the engine (--gpu-memory-utilization 0.9) */
#define KVW_DEFAULT_BLOCK_TOKENS 16
#define KVW_DEFAULT_GPU_MEM_UTIL 0.9
/* kvwall's assumption, not a measurement: activations, CUDA graphs and the
 * CUDA context on top of the weights (vLLM profiles this at start-up) */
#define KVW_DEFAULT_MEM_RESERVE_GB 2.0

typedef struct kvw_setup {
	kvw_arch arch;
	kvw_scenario sc;        /* sc.arch points at arch: do not copy a kvw_setup */
	char model_source[600];
	long tps[KVW_MAX_TPS];  /* --tp values (one unless a command compares) */
	int n_tps;
	bool tp_auto;           /* --tp auto: chosen by kvw_setup_auto_tp */
	char tp_choice[160];    /* how the TP was chosen */
	long ctx;               /* --ctx, else its default cut to the model's window */
	char ctx_note[200];     /* why ctx is not what was asked, "" if it is */
	/* the GPU (--hw) and what of its memory a deployment may use */
	bool have_gpu;
	char gpu_name[KVW_NAME_LEN];
	char peer_link[KVW_NAME_LEN];
	kvw_mem_budget mem;
	double weight_bytes;    /* per parameter */
	char weight_source[120];
	char compute_source[300];
	char link_name[KVW_NAME_LEN];
	char link_source[700];
	double link_line_bw;    /* bytes/s before the achieved fraction */
	double link_eff;        /* achieved fraction applied (1: measured or given) */
	char link_eff_source[512];
	bool link_loopback;     /* TCP over loopback: not a network path */
	bool link_storage;      /* a file system or SSD: a stored prefix's path, not a handoff's */
	char tp_link_name[KVW_NAME_LEN]; /* "" at TP 1 or when none is known */
	char tp_link_source[400];
	double hbm_bw;          /* bytes/s, 0 when unknown */
	char hbm_source[200];
	kvw_profile profile;
	bool have_profile;
} kvw_setup;

/* Model, KV format, TP list and context (kvwall kv); --hw when given, for
 * the memory a deployment must fit in. */
kvw_err kvw_setup_model(const kvw_args *a, kvw_setup *s, kvw_diag *d);
/* Everything (crossover, split, sweep); need_link: a link is required.
 * These take one TP (auto resolved). */
kvw_err kvw_setup_full(const kvw_args *a, kvw_setup *s, bool need_link, kvw_diag *d);

/* The same with a profile already parsed (where: its name in messages). */
kvw_err kvw_setup_with_profile(const kvw_args *a, const json_t *profile, const char *where, kvw_setup *s,
                               bool need_link, kvw_diag *d);

/* --tp auto: the smallest power-of-two TP (up to 64) whose weights and the
 * KV of one ctx-token request fit the GPU; needs --hw. */
kvw_err kvw_setup_auto_tp(kvw_setup *s, kvw_diag *d);

/* A link by name besides --link (a cache tier's): the profile's link of
 * that name when the setup has a profile with one, else the catalog's spec
 * sheet; source (cap bytes) says which, with the numbers.  kind, when not
 * NULL, receives the link's class (16 bytes). */
kvw_err kvw_setup_named_link(const kvw_setup *s, const char *name, kvw_link *out, char *source, size_t cap,
                             char *kind, kvw_diag *d);

/* A note when ctx tokens is beyond the model's context window
 * (max_position_embeddings, when its config gives one); true if noted. */
bool kvw_setup_ctx_note(const kvw_setup *s, long ctx, kvw_out *o);

/* Summary fields and notes every model command prints. */
void kvw_setup_describe(const kvw_setup *s, kvw_out *o, bool with_link);
/* Does the deployment (s->sc.kv.tp) fit the GPU: weights per GPU, KV
 * capacity left, the KV of one ctx-token request, and the smallest TP
 * that would fit; a flag in the human output when it does not. */
void kvw_setup_describe_fit(const kvw_setup *s, kvw_out *o);
/* false when --hw is given and the deployment does not fit it */
bool kvw_setup_fits(const kvw_setup *s);

/* Shared option rows. */
#define KVW_OPTS_OUTPUT \
	{ "json", KVW_OPT_FLAG, KVW_ARG(json), NULL, 0, 0, "JSON output" }, \
	{ "csv", KVW_OPT_FLAG, KVW_ARG(csv), NULL, 0, 0, "CSV output" }, \
	{ "output", KVW_OPT_STR, KVW_ARG(output), NULL, 0, 0, "write to this file (whole or not at all)" }, \
	{ "catalog", KVW_OPT_STR, KVW_ARG(catalog), NULL, 0, 0, "catalog directory [default $KVWALL_CATALOG or the built-in one]" }

#define KVW_OPTS_MODEL \
	{ "model", KVW_OPT_STR, KVW_ARG(model), NULL, 0, 0, "model from the catalog (kvwall models)" }, \
	{ "config", KVW_OPT_STR, KVW_ARG(config), NULL, 0, 0, "any Hugging Face config.json instead of --model" }, \
	{ "kv-dtype", KVW_OPT_STR, KVW_ARG(kv_dtype), "bf16", 0, 0, "KV cache dtype: bf16, fp16, fp8, int4, or vLLM's auto, fp8_e4m3, fp8_e5m2" }, \
	{ "tp", KVW_OPT_STR, KVW_ARG(tp_text), "1", 0, 0, "tensor-parallel degree, or auto: the smallest that fits the --hw GPU" }

/* what a deployment must fit in (with --hw) */
#define KVW_OPTS_MEMORY \
	{ "weight-dtype", KVW_OPT_STR, KVW_ARG(weight_dtype), "auto", 0, 0, "weight dtype: auto (the config's: fp8 when quantized so, else 2 bytes), bf16, fp16, fp8, int4, fp32" }, \
	{ "gpu-memory-utilization", KVW_OPT_DBL, KVW_ARG(gpu_mem_util), "0.9", 0.05, 1, "fraction of GPU memory the engine may use (vLLM's default)" }, \
	{ "mem-reserve-gb", KVW_OPT_DBL, KVW_ARG(mem_reserve_gb), "2", 0, 1e4, "memory for activations, CUDA graphs and context besides weights and KV, GB (assumed)" }

#define KVW_OPTS_HARDWARE \
	{ "hw", KVW_OPT_STR, KVW_ARG(hw), NULL, 0, 0, "GPU spec sheet from the catalog (kvwall hw)" }, \
	{ "link", KVW_OPT_STR, KVW_ARG(link), NULL, 0, 0, "link: a profile link or a catalog link" }, \
	{ "link-efficiency", KVW_OPT_DBL, KVW_ARG(link_efficiency), NULL, 1e-3, 1, "fraction of a link's line rate achieved [default: the spec sheet's achieved fraction; 1 for --gbps]" }, \
	{ "tp-link", KVW_OPT_STR, KVW_ARG(tp_link), NULL, 0, 0, "link the tensor-parallel all-reduces cross [default: the profile's nccl fit, else the --hw GPU's peer link]" }, \
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
	{ "message-tokens", KVW_OPT_LONG, KVW_ARG(message_tokens), "0", 0, 1L << 24, "send the KV as one message per layer x N-token block (0: packed); N is also the smallest handoff" }, \
	{ "non-causal", KVW_OPT_FLAG, KVW_ARG(non_causal), NULL, 0, 0, "count full L x L attention (as some papers do)" }, \
	{ "layerwise", KVW_OPT_FLAG, KVW_ARG(layerwise), NULL, 0, 0, "transfer layer by layer, overlapped with prefill" }, \
	KVW_OPTS_MEMORY

#endif
