/* opts.h — command-line options as tables read by one parser.
 *
 * Every command declares a table of kvw_opt rows (name, type, where the
 * value goes in kvw_args, default, range, help); kvw_opts_parse fills a
 * kvw_args from argv and kvw_opts_help prints the same table as help.
 */
#ifndef KVW_OPTS_H
#define KVW_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kvw_err.h"

#define KVW_MAX_POSITIONAL 32
#define KVW_MAX_SEEN 64

#define KVW_MAX_LIST 16

/* a repeatable option's values */
typedef struct kvw_strlist {
	const char *v[KVW_MAX_LIST];
	int n;
} kvw_strlist;

/* Every option of every command; a command's table names the ones it takes. */
typedef struct kvw_args {
	const char *model, *config, *hw, *link, *profile, *kv_dtype, *dtype;
	const char *output, *catalog, *weight_dtype, *out_dir, *tolerance, *junit, *from, *bind, *peer, *rdma_peer, *topology_xml;
	const char *tp_text, *tp_link, *scenario;
	/* kvwall plan (trace, route, max_requests, gpus_per_node: below, shared with kvwall cache) */
	const char *isl, *osl, *tps, *chunks, *deployments, *intra_link;
	long synthetic, seed, gpus, threshold, jobs, prefill_chunk, decode_chunk;
	double rate, cv, rate_scale, ttft_ms, tpot_ms, percentile, attainment;
	double handshake_us, desc_us, launch_us;
	bool prefix_cache;       /* plan --prefix-cache (its tiers: the kvwall cache fields below) */
	const char *cache_route;
	kvw_strlist metrics, models, links;
	/* kvwall cache, probe storage */
	const char *trace, *hbm, *dram, *ssd, *remote, *dram_link, *ssd_link, *remote_link, *policy, *route;
	const char *storage_dir, *storage_size, *storage_file;
	long instances, gpus_per_node, block_tokens, points, max_requests;
	double dram_gbps, ssd_gbps, remote_gbps;
	bool no_prefetch, write_through, unique_without_hashes;
	long ctx, tp, max_ctx, min_ctx, batch, ctx_steps, bw_steps, streams, port, idle_s, message_tokens;
	double tflops, gbps, alpha_us, efficiency, hbm_gbps, overhead_us;
	double compute_slowdown, copy_slowdown, bw_min, bw_max, sigma;
	double link_efficiency, gpu_mem_util, mem_reserve_gb;
	bool json, csv, layerwise, non_causal, help, list, quick, allow_hw_change, allow_missing, no_kv;
	const char *positional[KVW_MAX_POSITIONAL];
	int n_positional;
	const char *seen[KVW_MAX_SEEN]; /* names of options given on the command line */
	int n_seen;
} kvw_args;

/* KVW_OPT_LIST: repeatable, collects into a kvw_strlist */
typedef enum kvw_opt_type { KVW_OPT_STR, KVW_OPT_LONG, KVW_OPT_DBL, KVW_OPT_FLAG, KVW_OPT_LIST } kvw_opt_type;

typedef struct kvw_opt {
	const char *name;  /* without the leading "--"; NULL ends a table */
	kvw_opt_type type;
	size_t offset;     /* of the field in kvw_args */
	const char *def;   /* default as text, NULL: none (or false) */
	double lo, hi;     /* inclusive range of numbers */
	const char *help;
} kvw_opt;

#define KVW_OPT_END { NULL, KVW_OPT_FLAG, 0, NULL, 0, 0, NULL }
#define KVW_ARG(field) offsetof(kvw_args, field)

/* Fills args from the defaults, then argv (argv[0] is the command name).
 * max_positional bounds the positional arguments.  --help sets args->help. */
kvw_err kvw_opts_parse(const kvw_opt *table, int max_positional, int argc, char **argv,
                       kvw_args *args, kvw_diag *d);
bool kvw_opts_seen(const kvw_args *args, const char *name);
void kvw_opts_help(const kvw_opt *table, FILE *f);
/* A whole number in [lo, hi], with an optional multiplier k M G Ki Mi Gi
 * ("128k", "128Ki"); name is the option's, for the message. */
kvw_err kvw_opts_count(const char *name, const char *text, double lo, double hi, long *out, kvw_diag *d);
/* A comma list of such numbers ("1,2,4,8"), at most max, none twice. */
kvw_err kvw_opts_count_list(const char *name, const char *text, double lo, double hi, long *out, int max, int *n,
                            kvw_diag *d);
/* A size in bytes: a number with an optional unit, B, kB/KB, MB, GB, TB,
 * PB (powers of 1000: 1 GB = 1e9 B) or KiB, MiB, GiB, TiB, PiB (powers of
 * 1024), case-insensitive; "unbounded" (or "inf") is +INFINITY.  Refused:
 * negative, not finite, an unknown unit.  opt names the option in errors. */
kvw_err kvw_opts_bytes(const char *opt, const char *text, double *out, kvw_diag *d);
/* --tolerance TEXT: "5%" or "0.05", in [0, 10] */
kvw_err kvw_opts_tolerance(const char *text, double *out, kvw_diag *d);

#endif
