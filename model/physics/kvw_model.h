/* kvw_model.h — the analytic model of kvwall: pure arithmetic, no I/O.
 *
 * An architecture (kvw_arch, filled from a Hugging Face config.json by
 * kvw_config.h) plus a KV format (dtype, tensor parallelism) gives KV bytes
 * and prefill FLOPs; a compute rate (spec peak x efficiency, or a measured
 * prefill curve) and a link (alpha + s / B) give recompute and transfer
 * times; the solvers find the crossover context, the bandwidth threshold
 * and the best recompute/transfer split.  The formulas and the conventions
 * behind them are written beside each function in the .c files and follow
 * ../shared/DESIGN.md "Physics conventions".
 *
 * Units: bytes, seconds, FLOP, FLOP/s, bytes/s (1 GB = 1e9 B).  Context
 * lengths are doubles so the solvers can bisect continuously.
 */
#ifndef KVW_MODEL_H
#define KVW_MODEL_H

#include <stdbool.h>

#define KVW_MAX_LAYERS 1024
#define KVW_MAX_GROUPS 8
#define KVW_MAX_CURVE 64
#define KVW_NAME_LEN 96

/* int4 KV: 4-bit values plus one fp16 scale per KVW_INT4_GROUP elements of
 * each cached vector (per head for MHA/GQA, per latent for MLA). */
#define KVW_INT4_GROUP 32

typedef enum kvw_attn_kind {
	KVW_ATTN_MHA, /* n_kv_heads == n_heads */
	KVW_ATTN_GQA, /* 1 < n_kv_heads < n_heads */
	KVW_ATTN_MQA, /* n_kv_heads == 1 */
	KVW_ATTN_MLA, /* compressed latent (kv_lora_rank + rope dims) */
} kvw_attn_kind;

/* Layers that share window and FFN kind share one group. */
typedef struct kvw_layer_group {
	int count;            /* layers in the group */
	long window;          /* sliding window in tokens; 0 = full attention */
	bool moe;             /* FFN is a mixture of experts */
	double linear_params; /* active parameters in the layer's matmuls */
} kvw_layer_group;

typedef struct kvw_arch {
	char name[KVW_NAME_LEN];
	char model_type[32];
	kvw_attn_kind attn;
	int n_layers;
	long hidden;
	int n_heads;
	int n_kv_heads;
	int head_dim;         /* per-head K/V size (MHA/GQA/MQA) */
	int qk_head_dim;      /* query/key size used by attention FLOPs */
	int v_head_dim;       /* value size used by attention FLOPs */
	int kv_lora_rank;     /* MLA only: compressed KV latent */
	int q_lora_rank;      /* MLA only: 0 = full-rank query projection */
	int qk_rope_head_dim; /* MLA only: decoupled RoPE key, cached */
	int qk_nope_head_dim; /* MLA only */
	long vocab;
	long max_position;    /* 0 when the config does not say */
	/* bytes per weight as vLLM's --dtype auto loads the checkpoint: 1 for
	 * an fp8 quantization_config, else 2 (bf16/fp16; fp32 configs load as
	 * fp16); 0 when unknown.  weight_dtype names it ("fp8", "bf16", ...) */
	double weight_bytes;
	char weight_dtype[16];
	bool tied_embeddings;
	/* FFN */
	bool ffn_gated;
	long intermediate;     /* dense FFN width */
	int n_experts;         /* 0 = dense model */
	int experts_per_token;
	int n_shared_experts;
	long moe_intermediate; /* width of one expert */
	/* layer map */
	int n_groups;
	kvw_layer_group groups[KVW_MAX_GROUPS];
	unsigned char layer_group[KVW_MAX_LAYERS];
	/* parameter counts, filled by kvw_arch_finish() */
	double attn_params_per_layer;
	double active_params;     /* non-embedding, active experts only */
	double total_params;      /* every expert, embeddings and LM head */
	double embedding_params;  /* input embedding + untied LM head */
} kvw_arch;

typedef enum kvw_dtype {
	KVW_DT_BF16,
	KVW_DT_FP16,
	KVW_DT_FP8,
	KVW_DT_INT4,
	KVW_DT_FP32,
	KVW_DT_TF32,
	KVW_DT_COUNT
} kvw_dtype;

typedef struct kvw_kvfmt {
	kvw_dtype dtype; /* bf16, fp16, fp8 or int4 */
	int tp;          /* tensor-parallel degree, >= 1 */
} kvw_kvfmt;

/* ---- architecture ------------------------------------------------------ */

/* Appends layer number a->n_layers (call n_layers times, in order after
 * setting a->n_layers = 0): its sliding window (0 = full) and FFN kind. */
bool kvw_arch_add_layer(kvw_arch *a, long window, bool moe);

/* Derives attention kind, parameter counts and checks consistency; the
 * config parser calls it after filling the fields.  Returns false and a
 * reason when the fields cannot describe a model. */
bool kvw_arch_finish(kvw_arch *a, char *why, int whylen);

/* KV-holding layers: all layers of the supported architectures. */
int kvw_arch_kv_layers(const kvw_arch *a);

/* ---- KV size (kv.c) ----------------------------------------------------- */

const char *kvw_dtype_name(kvw_dtype dt);
bool kvw_dtype_parse(const char *s, kvw_dtype *out);
/* A KV cache dtype, also under vLLM's --kv-cache-dtype names: auto (the
 * model's 16-bit dtype, taken as bf16), fp8, fp8_e4m3, fp8_e5m2 (both
 * 1 byte: fp8). */
bool kvw_kv_dtype_parse(const char *s, kvw_dtype *out);
bool kvw_kvfmt_check(const kvw_arch *a, const kvw_kvfmt *f, char *why, int whylen);

/* KV heads one GPU holds under tensor parallelism (replicated when
 * tp > n_kv_heads); MLA's latent is replicated on every rank. */
int kvw_kv_heads_per_gpu(const kvw_arch *a, int tp);
/* bytes one token costs in one layer on one GPU */
double kvw_kv_bytes_per_token_layer(const kvw_arch *a, const kvw_kvfmt *f);
/* bytes one token costs across all layers (before windows trim it) */
double kvw_kv_bytes_per_token(const kvw_arch *a, const kvw_kvfmt *f);
/* tokens a layer of the group holds for a context of L tokens */
double kvw_tokens_held(long window, double L);
/* KV bytes on one GPU for a context of L tokens */
double kvw_kv_bytes(const kvw_arch *a, const kvw_kvfmt *f, double L);

/* ---- FLOPs (flops.c) ---------------------------------------------------- */

/* query-key pairs one layer scores for L tokens (window 0 = full) */
double kvw_attn_pairs(long window, double L, bool causal);
/* FLOPs of one layer of a group: matmuls, and the attention scores + PV */
double kvw_group_linear_flops(const kvw_arch *a, int g, double L);
double kvw_group_attn_flops(const kvw_arch *a, int g, double L, bool causal);
/* whole model, all GPUs together */
double kvw_linear_flops(const kvw_arch *a, double L);
double kvw_attn_flops(const kvw_arch *a, double L, bool causal);

/* ---- compute and links (timing.c) -------------------------------------- */

typedef struct kvw_curve_pt {
	double tokens;
	double flops; /* achieved FLOP/s */
} kvw_curve_pt;

/* Achieved FLOP/s as a function of tokens: constant (peak x efficiency)
 * when n == 0, else interpolated linearly in log(tokens) between points
 * and held constant beyond the ends. */
typedef struct kvw_curve {
	double constant;
	int n;
	kvw_curve_pt pt[KVW_MAX_CURVE];
} kvw_curve;

typedef struct kvw_compute {
	kvw_curve gemm;
	kvw_curve attn;
	/* the layer's other kernels (norms, RoPE and the KV write, activation,
	 * residual adds), memory-bound: an achieved rate in token-layers per
	 * second versus tokens (in the curve's .flops); n == 0 and constant
	 * 0: not counted */
	kvw_curve elementwise;
	double overhead_s; /* fixed cost of one prefill (launches, sync) */
} kvw_compute;

typedef struct kvw_link {
	double alpha_s; /* fixed latency per message */
	double bw;      /* asymptotic bandwidth, bytes/s, one direction */
} kvw_link;

double kvw_curve_at(const kvw_curve *c, double tokens);

/* Pipelined layer-wise transfer: layer i computes for c[i] seconds, then
 * its KV is sent in x[i] seconds over one link, in layer order.  Returns
 * the time the last send ends after the last layer's compute ends. */
double kvw_pipeline_exposed(int n, const double *c, const double *x);
/* the same for n identical layers: x + (n - 1) max(0, x - c) */
double kvw_pipeline_exposed_uniform(int n, double c, double x);

/* ---- scenario: one model on one compute rate and one link -------------- */

typedef struct kvw_scenario {
	const kvw_arch *arch;
	kvw_kvfmt kv;
	kvw_compute compute;
	kvw_link link;
	bool causal;           /* false: full L x L attention, as some papers */
	bool layerwise;        /* transfer layer by layer, overlapped */
	long message_tokens;   /* 0: one message per transfer (bulk) or per layer;
	                          N: one message per layer x N-token block */
	double message_s;      /* cost of each further message of a send; 0: alpha */
	double compute_slowdown; /* >= 1: prefill slowed by a concurrent copy */
	double copy_slowdown;    /* >= 1: copy slowed by a concurrent prefill */
	/* tensor parallelism: the link the kv.tp GPUs all-reduce over (two
	 * per layer, comm.c) and the activation bytes per element (0: 2, bf16);
	 * a link with bw 0 and alpha 0 costs nothing */
	kvw_link tp_link;
	double act_bytes;
} kvw_scenario;

/* Recompute L tokens of KV on the tp GPUs (each does 1/tp of the FLOPs,
 * and all of them pay the layers' all-reduces over tp_link). */
double kvw_recompute_s(const kvw_scenario *s, double L);
/* The part of kvw_recompute_s that is all-reduce time (0 at tp 1). */
double kvw_recompute_allreduce_s(const kvw_scenario *s, double L);
/* Layer-wise: per-layer compute c[i] and send x[i] seconds for a prefill
 * of L tokens, slowdowns applied; a->n_layers entries each. */
void kvw_layerwise_times(const kvw_scenario *s, double L, double *c, double *x);
/* Bulk: alpha + (m - 1) c + KV_bytes(L) / B with m messages (1, or one per
 * layer x block) each further message costing c (message_s, else alpha).  Layer-wise: exposed time after the last layer of a prefill of L
 * tokens on the sending side.  0 when L <= 0. */
double kvw_transfer_s(const kvw_scenario *s, double L);
/* Messages a bulk transfer of L tokens takes, and their fixed cost. */
double kvw_transfer_messages(const kvw_scenario *s, double L);
double kvw_transfer_overhead_s(const kvw_scenario *s, double L);

/* ---- solvers (solve.c) -------------------------------------------------- */

typedef enum kvw_regime {
	KVW_TRANSFER_ALWAYS,   /* transfer faster over the whole range */
	KVW_RECOMPUTE_ALWAYS,  /* recompute faster over the whole range */
	KVW_RECOMPUTE_BELOW,   /* recompute wins below L*, transfer above */
	KVW_TRANSFER_BELOW,    /* transfer wins below L*, recompute above */
	KVW_MULTIPLE,          /* the winner changes more than once */
} kvw_regime;

#define KVW_MAX_ROOTS 8

typedef struct kvw_crossover {
	kvw_regime regime;
	int n_roots;
	double roots[KVW_MAX_ROOTS]; /* context lengths where the winner flips */
	double lo, hi;               /* the searched range */
	/* kvw_crossover_handoff only: the smallest handoff (one KV block) and,
	 * when recompute wins only below it, the last flip there (else 0) */
	double block;
	double latency_bound_below;
} kvw_crossover;

const char *kvw_regime_name(kvw_regime r);

/* Finds every L in [lo, hi] where recompute and transfer times cross:
 * a log-spaced scan brackets sign changes, bisection refines each to
 * below one token. */
void kvw_crossover_find(const kvw_scenario *s, double lo, double hi,
                        kvw_crossover *out);

/* The crossover an engine that hands off whole KV blocks of `block`
 * tokens can see.  Below one block no handoff is smaller, so a flip there
 * is not a crossover: roots in [max(lo, block), hi] give L* and the
 * regime; when recompute wins at lo and loses again before one block,
 * latency_bound_below is that last flip ("latency-bound below N tokens":
 * the link's fixed cost, not its bandwidth, decides there). */
void kvw_crossover_handoff(const kvw_scenario *s, double lo, double hi, double block, kvw_crossover *out);

/* The same for measured curves: r[i] and t[i] (seconds, > 0) at tokens[i]
 * (ascending); each root interpolates log(r / t) linearly in log L
 * between the two samples that bracket it. */
void kvw_crossover_sampled(int n, const double *tokens, const double *r, const double *t, kvw_crossover *out);

/* Bandwidth (bytes/s) at which transfer of L tokens takes as long as
 * recomputing them; +INFINITY when recompute wins at any bandwidth (it is
 * faster than the link's fixed latency alone). */
double kvw_bandwidth_threshold(const kvw_scenario *s, double L);

typedef struct kvw_split {
	long best_prefix;  /* tokens recomputed; the rest is transferred */
	double split_s;    /* time with the best prefix, both concurrent */
	double recompute_s; /* all L recomputed */
	double transfer_s;  /* all L transferred */
} kvw_split;

/* Recompute a prefix of k tokens while the KV of the other L - k tokens is
 * transferred; time(k) = max(recompute(k) * cs, transfer(L - k) * xs) with
 * the slowdowns applied only while both run (0 < k < L). */
double kvw_split_time(const kvw_scenario *s, double L, double k);
void kvw_split_best(const kvw_scenario *s, long L, kvw_split *out);

/* ---- tensor-parallel communication (comm.c) ------------------------------ */

/* One ring all-reduce of `bytes` over tp ranks: 2 (tp - 1) link->alpha_s
 * + 2 (tp - 1) / tp x bytes / link->bw; 0 when tp <= 1. */
double kvw_allreduce_s(double bytes, int tp, const kvw_link *link);
/* The all-reduces a forward pass of `tokens` tokens pays at TP tp: two per
 * layer of tokens x hidden x act_bytes each (prefill: the prompt's tokens;
 * a decode step: the batch).  0 when tp <= 1. */
double kvw_tp_allreduce_s(const kvw_arch *a, double tokens, int tp, double act_bytes, const kvw_link *link);

/* ---- memory: does a deployment fit (memory.c) ------------------------------ */

typedef struct kvw_mem_budget {
	double gpu_bytes;     /* memory of one GPU */
	double utilization;   /* fraction the engine may use (vLLM default 0.9) */
	double reserve_bytes; /* activations, CUDA graphs, runtime, on top of the weights */
} kvw_mem_budget;

/* total parameters x bytes per parameter / tp */
double kvw_weight_bytes_per_gpu(const kvw_arch *a, double bytes_per_param, int tp);
/* utilization x gpu_bytes - weights per GPU - reserve; negative when the
 * weights alone do not fit */
double kvw_kv_capacity_per_gpu(const kvw_arch *a, double bytes_per_param, int tp, const kvw_mem_budget *m);
/* the KV of min_tokens tokens (at f's dtype and TP) fits beside the weights */
bool kvw_deployment_fits(const kvw_arch *a, double bytes_per_param, const kvw_kvfmt *f, const kvw_mem_budget *m,
                         double min_tokens);
/* the smallest power-of-two TP <= max_tp that the heads allow and that
 * fits; 0 when none does */
int kvw_smallest_tp_that_fits(const kvw_arch *a, double bytes_per_param, kvw_kvfmt f, const kvw_mem_budget *m,
                              double min_tokens, int max_tp);

/* ---- decode side (decode.c) --------------------------------------------- */

/* Bytes one decode step reads from HBM: the weights it touches (for a MoE
 * layer, the experts a batch of b tokens is expected to hit) plus the KV of
 * b sequences of ctx tokens. */
double kvw_decode_step_bytes(const kvw_arch *a, const kvw_kvfmt *f,
                             double weight_bytes_per_param, int batch, double ctx);
/* Expected distinct experts hit by b tokens choosing k of E uniformly. */
double kvw_expected_experts(int n_experts, int k, int batch);

#endif
