/* plan.h — the parts of `kvwall plan`: its inputs (plan_input.c: the
 * cluster from the options and the profile, the workload from a trace or a
 * synthetic spec), the parallel runner (plan_run.c: configurations on
 * threads, progress on a terminal), the engines' launch settings for the
 * winner (plan_engines.c) and the command itself (cmd_plan.c).
 */
#ifndef KVW_PLAN_H
#define KVW_PLAN_H

#include <jansson.h>

#include "cache_opts.h"
#include "kvw_search.h"
#include "kvw_sim.h"
#include "kvw_sim_cache.h"
#include "opts.h"
#include "scenario.h"

/* Defaults with their sources (README "kvwall plan"). */
#define PLAN_DESC_US 2.0       /* per descriptor: vllm-project/vllm#50913 (see plan_input.c) */
#define PLAN_HANDSHAKE_US 1000 /* per handoff: kvwall estimate, see plan_input.c */
#define PLAN_LAUNCH_US 30.0    /* per layer per pass: ~12 kernels x ~2.5 us, see plan_input.c */

typedef struct plan_inputs {
	kvw_setup *setup;            /* model, compute, inter-node link, HBM, profile */
	kvw_cluster cluster;
	kvw_decode_table decode;
	bool have_decode;
	char decode_source[300];
	char intra_name[KVW_NAME_LEN], intra_source[300];
	char inter_source[300];
	char costs_source[600];
	char gpu_name[KVW_NAME_LEN];
	kvw_workload w;
	char workload_source[400];
	double max_tokens;
	kvw_slo slo;
	kvw_space space;
	kvw_bisect bisect;   /* with the prefix cache in it when --prefix-cache */
	int jobs;
	/* --prefix-cache */
	bool cache_on;
	kvw_sim_cache_cfg cache;
	kvw_cache_ids ids;   /* the workload's block ids, built once for every simulation */
	char tier_source[KVW_TIERS][KVW_CACHE_SOURCE_LEN];
	char cache_words[900]; /* the cache in one line, for the output */
} plan_inputs;

kvw_err plan_inputs_read(const kvw_args *a, plan_inputs *in, kvw_diag *d);
void plan_inputs_free(plan_inputs *in);

/* profile "decode" (hand-written fixtures say so): the table, or false
 * when the profile has none; an ill-formed section is an error. */
kvw_err plan_read_decode(const json_t *profile, const char *where, kvw_decode_table *t, bool *have, char *source,
                         size_t len, kvw_diag *d);

/* ---- the parallel runner ---------------------------------------------------------- */

typedef struct plan_job {
	kvw_cluster cluster;  /* a copy: link sweeps change the bandwidth */
	kvw_deploy dep;
	double scale;         /* > 0: one full simulation at this scale; 0: a goodput search */
	bool nocache;         /* without the prefix cache even when --prefix-cache (the comparison) */
	kvw_goodput g;        /* the search's answer */
	kvw_sim_result r;     /* the fixed-scale run's answer */
	kvw_err err;
	kvw_diag d;
} plan_job;

/* Runs every job on up to `threads` threads (each simulation on one);
 * progress goes to stderr when it is a terminal.  Returns the first
 * job's error, in job order. */
kvw_err plan_run_jobs(plan_job *jobs, int n, const plan_inputs *in, int threads, const char *what, kvw_diag *d);
/* The node's cores (at least 1). */
int plan_cores(void);

/* ---- engines ------------------------------------------------------------------------- */

/* Launch settings of vLLM, SGLang, llm-d and Dynamo for a deployment, each
 * with the page it was checked against, and a note where an engine cannot
 * express it.  A JSON array of {"engine", "settings", "source", "note"}. */
json_t *plan_engine_settings(const kvw_deploy *dep, const char *model, bool mla);

#endif
