/* kvw_sim.h — the planner's discrete-event simulation of a GPU cluster
 * serving a workload: pure C11 + libm, no I/O, every time from the
 * per-request physics of ../physics (kvw_model.h).
 *
 * A cluster (kvw_cluster: the model, its KV format, the prefill compute
 * curves, HBM, the intra- and inter-node links, the handoff costs) runs a
 * deployment (kvw_deploy: groups of instances with a role and a TP degree)
 * over a workload (kvw_workload, arrivals scaled by a rate factor).  The
 * simulation adds queues, batches and links; it invents no physics:
 *
 *   iteration of an instance (one forward pass; mixed batches allowed)
 *     = D(b, sum ctx) + max(0, linear(T) - weights read) + attention(chunks)
 *       + elementwise + prefill overhead + TP all-reduces of T tokens
 *   with T the tokens of the pass (prefill chunk tokens + b decode tokens),
 *   linear / attention / elementwise the prefill physics (timing.c's terms,
 *   split per chunk so a chunk at offset o pays attention over o + its own
 *   tokens), and D the decode part: the measured decode step of a profile
 *   (kvw_decode_table, interpolated in log batch and log ctx, scaled by
 *   the bytes) or, without one, the HBM bound kvw_decode_step_bytes / HBM
 *   plus a fixed cost per layer (launches).  A pure prefill pass therefore
 *   costs kvw_recompute_s + per-layer fixed costs + all-reduces.
 *
 *   handoff P -> D of L tokens: handshake + alpha + min(scatter, pack)
 *     scatter = (descriptors - 1) x cost per descriptor; descriptors per
 *               sending GPU = layers x ceil(L / block) x (K and V apart: 2,
 *               MLA: 1) x max(1, TP_d / TP_p)
 *     pack    = 2 x KV bytes per GPU / pack bandwidth (gather + scatter back)
 *   then the bytes (what the TP_d decode GPUs must receive) over the link,
 *   each instance's port capacity (TP x link bandwidth, per link class)
 *   shared equally by the transfers using it: a transfer runs at
 *   min(sender capacity / its transfers, receiver capacity / its transfers),
 *   re-rated whenever one starts or ends.  Layer-wise: the transfer starts
 *   with the prefill and cannot end before prefill end + the last layer's
 *   share, which is kvw_pipeline_exposed_uniform's x + (n-1)(x-c) when the
 *   link is the bottleneck and x when it is not.
 *
 * Choices the issue leaves open, stated:
 *   admission   FCFS per instance, head of line blocks: a prefill chunk is
 *               scheduled only when its KV fits (its tokens, plus one block
 *               of headroom for a request's first chunk); a decode instance
 *               admits a handoff when it can hold the prompt's KV plus a
 *               block, else the KV waits on the prefill side, holding its
 *               memory, in FIFO order (backpressure).
 *   preemption  when the next decode step's tokens do not fit, the most
 *               recently admitted running request is preempted (vLLM's
 *               default, recompute mode): its KV is dropped and it is
 *               queued first, to recompute its prompt and the tokens it had
 *               generated, counted as wasted recompute.
 *   KV memory   per instance, in tokens: (utilisation x GPU memory - weights
 *               per GPU - reserve) / KV bytes one token costs on one GPU of
 *               the instance (memory.c's capacity; each of the TP GPUs holds
 *               its share of every token); a running request holds its
 *               context + one block (the fragmentation bound).
 *   ties        events at one time run in the order they were scheduled
 *               (heap ordered by (time, sequence)); arrivals first; among
 *               equally loaded instances the lowest index wins.
 *   TTFT        arrival -> first token delivered: the end of the pass that
 *               finishes the prefill on a mixed instance; under
 *               disaggregation the moment the decode instance holds all the
 *               KV (transfer and any recompute done) — the decode side
 *               streams the output, as vLLM's and SGLang's PD setups do.
 *   TPOT        (finish - first token) / (output tokens - 1); a one-token
 *               output has none and meets every TPOT budget.
 *   percentiles nearest rank on the sorted sample: p-th = x[ceil(p n / 100)].
 *   prefix      with a prefix cache (kvw_sim_opts.prefix; the tiered one is
 *   cache       kvw_sim_cache.h): looked up when a request is placed, priced
 *               (load / recompute / split) when its instance could start its
 *               first chunk, which then waits for the load's exposed part and
 *               computes only the tokens not taken from the cache; its blocks
 *               are cached when its prefill ends.  Decode instances keep no
 *               prefix cache; a preempted request recomputes everything.
 *   SLOs met    when at least `attainment` of requests meet both budgets
 *               (DistServe's SLO attainment) and the `percentile`-th TTFT
 *               and TPOT are within them (implied when percentile <=
 *               attainment).
 *
 * Threads: a simulation is single-threaded and deterministic; all its state
 * lives in one struct allocated by kvw_sim_run, so simulations run side by
 * side on threads (the CLI does).  Inputs are read only.
 */
#ifndef KVW_SIM_H
#define KVW_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvw_err.h"
#include "kvw_model.h"
#include "kvw_workload.h"

#define KVW_SIM_GRID 16        /* decode table: distinct batches / contexts */
#define KVW_SIM_MAX_GROUPS 2   /* instance groups of one deployment */
#define KVW_SIM_MAX_INST 1024
#define KVW_SIM_WTAB 1024      /* weights-touched table (MoE) up to this batch */

/* ---- measured decode steps (profile "decode", see the CLI's reader) -------- */

/* One layer's decode step of the profiled model at TP 1 on a batch x ctx
 * grid: its fixed part (launches, sync: layer time - bytes / HBM bound)
 * and the bandwidth it achieved on its bytes.  Interpolated bilinearly in
 * log batch and log ctx, held at the edges; another model or TP reads its
 * own bytes at that bandwidth and pays the same fixed part per layer. */
typedef struct kvw_decode_table {
	int n_batch, n_ctx;
	double batch[KVW_SIM_GRID], ctx[KVW_SIM_GRID];   /* ascending */
	double fixed_s[KVW_SIM_GRID][KVW_SIM_GRID];      /* [batch][ctx], per layer */
	double bw[KVW_SIM_GRID][KVW_SIM_GRID];           /* bytes/s */
} kvw_decode_table;

/* Fixed part and achieved bandwidth at (batch, ctx). */
void kvw_decode_table_at(const kvw_decode_table *t, double batch, double ctx, double *fixed_s, double *bw);

/* ---- the cluster ------------------------------------------------------------ */

typedef struct kvw_cluster {
	const kvw_scenario *sc;     /* model, KV dtype (its tp is ignored), prefill compute, causal */
	double weight_bytes;        /* bytes per parameter */
	double hbm_bw;              /* bytes/s, HBM bound of the decode side */
	kvw_mem_budget mem;         /* one GPU */
	int gpus, gpus_per_node;
	kvw_link intra;             /* within a node: TP all-reduce, same-node handoffs */
	kvw_link inter;             /* between nodes: handoffs */
	double intra_desc_s, inter_desc_s; /* each further descriptor of a scattered handoff */
	double handshake_s;         /* fixed cost of one handoff (metadata, connection) */
	double pack_bw;             /* bytes/s gathering paged KV into one buffer */
	double layer_fixed_s;       /* per layer per pass without a decode table (launches) */
	const kvw_decode_table *decode; /* NULL: HBM bound + layer_fixed_s */
	int block_tokens;           /* paged KV block (16) */
	double act_bytes;           /* activation bytes in the all-reduces (2) */
} kvw_cluster;

/* ---- deployments -------------------------------------------------------- */

typedef enum kvw_role { KVW_ROLE_MIXED, KVW_ROLE_PREFILL, KVW_ROLE_DECODE } kvw_role;

typedef struct kvw_inst_group {
	kvw_role role;
	int tp;
	int count;
	long chunk;     /* token budget of one pass (chunked prefill); prefill-only: prefill batch budget */
	int max_prefill_reqs; /* requests whose prefill one pass may hold; 0: 64 */
} kvw_inst_group;

typedef struct kvw_deploy {
	const char *kind;   /* "aggregated", "disaggregated", "hybrid" (kvw_deploy_find) */
	const char *route;  /* routing of the decode side's recompute (kvw_route_find); NULL: "transfer" */
	int n_groups;
	kvw_inst_group g[KVW_SIM_MAX_GROUPS]; /* disaggregated: [0] prefill, [1] decode; hybrid: [0] P-heavy, [1] D-heavy */
	bool layerwise;     /* handoffs layer by layer, overlapped with the prefill */
	long threshold;     /* route "threshold": prompts up to this many uncached tokens prefill on the decode side */
} kvw_deploy;

/* ---- SLOs and options --------------------------------------------------- */

typedef struct kvw_slo {
	double ttft_s, tpot_s;
	double percentile;  /* 0..100 */
	double attainment;  /* 0..1 */
} kvw_slo;

/* ---- a prefix cache (the tiered one: kvw_sim_cache.h) ---------------------- */

struct kvw_sim_result;

/* What a prefix cache decided for one request's prefill. */
typedef struct kvw_prefix_use {
	long hit_tokens;    /* cached prefix tokens found at placement */
	long used_tokens;   /* prompt tokens taken from the cache, not computed (<= input - 1) */
	double wait_s;      /* from now until the prefill may start: the load's exposed part */
	double load_s;      /* the loads from the lower tiers, from their start to the slowest's end */
	double hidden_s;    /* of that, the part before now (prefetch while queued) */
	int choice;         /* 0 none, 1 load, 2 recompute, 3 split (kvw_cache_choice) */
} kvw_prefix_use;

/* A prefix cache the simulation consults: one ops struct per kind (the
 * tiered cache of kvw_cache.h is kvw_prefix_tiered).  Every request whose
 * prefill is placed on an instance that is not a decode instance goes
 * through it:
 *   place   at arrival (optional): the instance the deployment chose is
 *           `inst`, one of [first, first + count) (its group); the cache may
 *           pick another of them (cache-aware routing); backlog_s[i] is the
 *           prefill work queued on instance i, in seconds
 *   lookup  at arrival, on the instance chosen: the cached prefix tokens
 *           found (what prefetch starts loading)
 *   price   before the request's first prefill chunk is scheduled (the
 *           instance could start it now): load, recompute or split, *u
 *   insert  when its prefill is done: its blocks are cached on inst
 *   finish  once at the end: the cache's own results (evictions, ...)
 * free_tokens is the instance's KV no request holds now (the engine's
 * free pool, where vLLM's and SGLang's prefix caches keep their blocks).
 * Decode instances keep no prefix cache: a prompt prefilled there (local
 * prefill, recompute routing) computes all its tokens.  A preempted
 * request recomputes everything (no second lookup).  All calls of one
 * simulation go to the state open() made for it. */
typedef struct kvw_prefix_ops {
	const char *name;
	kvw_err (*open)(const void *cfg, const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, size_t n,
	                void **st, kvw_diag *d);
	void (*close)(void *st);
	int (*place)(void *st, size_t req, int inst, int first, int count, const double *backlog_s);
	long (*lookup)(void *st, size_t req, int inst, double now, double free_tokens);
	void (*price)(void *st, size_t req, int inst, double arrival, double now, double free_tokens, kvw_prefix_use *u);
	void (*insert)(void *st, size_t req, int inst, double now, double free_tokens);
	void (*finish)(void *st, struct kvw_sim_result *r);
} kvw_prefix_ops;

typedef struct kvw_sim_opts {
	double rate_scale;     /* arrivals at t / rate_scale; > 0 */
	size_t max_requests;   /* 0: all */
	bool early_stop;       /* stop once the SLOs can no longer be met (searches) */
	bool percentiles;      /* sort the samples for p50/p90/p99 (final runs) */
	long max_waiting;      /* a queue longer than this: overloaded; 0: 100000 */
	const kvw_prefix_ops *prefix; /* a prefix cache, or NULL: none */
	const void *prefix_cfg;       /* its configuration (for the tiered cache a kvw_sim_cache_cfg) */
} kvw_sim_opts;

typedef enum kvw_sim_status {
	KVW_SIM_DONE,       /* every request finished */
	KVW_SIM_STOPPED,    /* early_stop: too many misses to meet the SLOs */
	KVW_SIM_OVERLOADED, /* a queue grew past max_waiting: the queue grows without bound */
	KVW_SIM_INVALID,    /* the deployment cannot run (why in the result) */
} kvw_sim_status;

typedef struct kvw_sim_result {
	kvw_sim_status status;
	char why[200];
	size_t n, done;                 /* requests, requests finished */
	double makespan_s, offered_rps, throughput_rps;
	double ttft[3], tpot[3], e2e[3]; /* p50, p90, p99 (with opts.percentiles) */
	double ttft_pct, tpot_pct;      /* at slo.percentile (with opts.percentiles) */
	double mean_ttft, mean_tpot, mean_e2e;
	double attain, attain_ttft, attain_tpot; /* fractions of all requests */
	bool slo_met;
	double util_prefill, util_decode; /* busy GPU-time share of prefill-side and decode-side instances */
	double link_util;               /* bytes moved / (port capacity x makespan), over the ports used */
	double kv_peak;                 /* highest KV use / capacity of any instance */
	long preemptions;
	double recompute_s;             /* GPU-seconds the decode side spent recomputing shipped-or-shippable KV */
	double wasted_s;                /* GPU-seconds of KV computed twice that a policy knowing the future avoids */
	long handoffs, handoffs_inter, handoffs_split, local_prefills, layerwise_fallbacks;
	double handoff_fixed_s, handoff_mean_s; /* mean fixed cost and mean handoff time */
	double tokens_in, tokens_out;   /* prompt tokens, output tokens generated (per instance counts) */
	double little_l, little_lw;     /* time-average requests in system, and arrival rate x mean sojourn */
	long kv_overflows;              /* times an instance's KV exceeded its capacity (must be 0) */
	/* the prefix cache (all 0 without one) */
	double prefill_tokens;          /* prompt tokens first prefills computed; + prefix_tokens = tokens_in */
	double prefix_tokens;           /* prompt tokens taken from the cache instead */
	double prefix_hit_tokens;       /* cached prefix tokens found at placement */
	double prefix_load_s, prefix_hidden_s; /* sums of the load and split decisions' load times, and of their parts hidden while queued */
	double prefix_wait_s;           /* sum of the waits for loads once a prefill could start */
	long prefix_requests;           /* requests that found a cached prefix */
	long prefix_choice[4];          /* requests by decision: none, load, recompute, split */
	long prefix_evictions[4];       /* blocks evicted per tier (hbm, dram, ssd, remote) */
	double prefix_mem_peak;         /* highest (KV held + HBM cache) / capacity of an instance at a cache call */
	double events;
} kvw_sim_result;

/* Runs one simulation.  Returns KVW_OK and fills *out (its status says how
 * the run ended); KVW_ESYS when memory runs out; KVW_EUSAGE with d naming
 * the problem when the inputs are inconsistent (unknown policy, no GPUs).
 * A deployment that cannot run (weights or a request do not fit) is not an
 * error: out->status = KVW_SIM_INVALID with out->why. */
kvw_err kvw_sim_run(const kvw_cluster *c, const kvw_deploy *dep, const kvw_workload *w, const kvw_slo *slo,
                    const kvw_sim_opts *o, kvw_sim_result *out, kvw_diag *d);

/* Checks that a deployment can run on the cluster (GPUs, TP per node,
 * weights, a request of max_tokens fits); why says what does not. */
bool kvw_deploy_check(const kvw_cluster *c, const kvw_deploy *dep, double max_tokens, char *why, int whylen);

/* "agg tp2 x4 chunk 2048", "disagg 3P(tp2) + 5D(tp2) transfer bulk", ... */
void kvw_deploy_name(const kvw_deploy *dep, char *buf, size_t len);
int kvw_deploy_gpus(const kvw_deploy *dep);

/* ---- costs (cost.c), exposed for tests and the routing estimates -------- */

/* Time of one pass of an instance of TP tp: n_chunks prefill chunks
 * (ctx_before[i] tokens already in the KV, tokens[i] computed now) and
 * n_dec decode tokens over sum_ctx tokens of context. */
double kvw_sim_pass_s(const kvw_cluster *c, int tp, int n_chunks, const double *ctx_before, const double *tokens,
                      int n_dec, double sum_ctx);
/* One decode step alone (the pass with no prefill). */
double kvw_sim_decode_step_s(const kvw_cluster *c, int tp, int batch, double sum_ctx);
/* KV tokens an instance of TP tp holds; <= 0 when the weights do not fit. */
double kvw_sim_kv_tokens(const kvw_cluster *c, int tp);
/* Fixed cost of handing off L tokens from TP tp_p to TP tp_d over a link
 * class (0 intra, 1 inter); *packed says whether packing beat scattering. */
double kvw_sim_handoff_fixed_s(const kvw_cluster *c, int tp_p, int tp_d, int cls, double L, bool *packed);
/* Bytes the decode GPUs receive for L tokens. */
double kvw_sim_handoff_bytes(const kvw_cluster *c, int tp_d, double L);
/* Effective bandwidth of one GPU's port on a link class (the link's, times
 * its achieved fraction once spec sheets carry one). */
double kvw_sim_link_bw(const kvw_cluster *c, int cls);

/* ---- policies: one ops struct each, registered by name -------------------- */

typedef struct kvw_sim kvw_sim; /* the state of one simulation (sim_internal.h) */

/* A deployment: where a new request's prefill goes, and where it decodes
 * once its prefill is done (the instance itself, or another: a handoff). */
typedef struct kvw_deploy_ops {
	const char *name;
	const char *summary;
	int (*route_prefill)(kvw_sim *s, int32_t r);
	int (*route_decode)(kvw_sim *s, int32_t r, int from);
} kvw_deploy_ops;

/* Routing of a disaggregated handoff: prefill on the decode side instead
 * (no handoff), and how much of the prompt the decode side recomputes
 * while the rest is shipped. */
typedef struct kvw_route_ops {
	const char *name;
	const char *summary;
	/* at arrival: true to prefill on the decode side; *d: the instance */
	bool (*local_prefill)(kvw_sim *s, int32_t r, int *d);
	/* at the handoff from p to d: tokens of the prompt d recomputes (0: ship all) */
	long (*recompute_prefix)(kvw_sim *s, int32_t r, int p, int d);
} kvw_route_ops;

const kvw_deploy_ops *kvw_deploy_find(const char *name);
const kvw_route_ops *kvw_route_find(const char *name);
/* the registered names, NULL-terminated */
const char *const *kvw_deploy_names(void);
const char *const *kvw_route_names(void);

/* ---- percentiles (metrics.c) ---------------------------------------------- */

/* Nearest-rank percentile of a sorted sample: x[ceil(p n / 100) - 1]
 * (x[0] for p = 0); NAN when n == 0. */
double kvw_percentile_sorted(const double *x, size_t n, double p);
/* Sorts x in place (ascending). */
void kvw_sort_doubles(double *x, size_t n);

#endif
