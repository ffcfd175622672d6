/* profile.h — profile.json, schema "kvwall.profile/1": everything measured
 * on one node (or one cluster run).
 *
 *   {"schema": "kvwall.profile/1",
 *    "tool": {"name": "kvwall", "version": "..."},
 *    "label": "...", "example": false,           example: hand-written, not measured
 *    "created_utc": "...", "command": "...",
 *    "host": {"hostname": ..., "gpus": [{"name", "driver", "cuda"}], ...},
 *    "topology": {...},                           (netprobe issue)
 *    "results": [record, ...],                    see record.h
 *    "links": [{"name", "class": "host|peer|network", "alpha_us",
 *               "bandwidth_GBps", "points", "fit_r2"}],
 *    "prefill": {"model", "dtype", "overhead_us",
 *                "gemm": [{"tokens", "tflops"}], "attention": [{"tokens", "tflops"}],
 *                "elementwise": [{"tokens", "us_per_token"}]},    optional, per layer
 *    "hbm": {"copy_GBps", "read_GBps", ...},
 *    "interference": {"compute_slowdown", "copy_slowdown"},
 *    "kv_messages": [{"path", "model", "tokens", "modes": [{"mode", "messages",
 *                     "message_bytes", "seconds", "extra_us_per_message"}]}],
 *    "decode": {"model", "dtype", "kv_dtype", "tp": 1, "n_layers", "block_tokens",
 *               "backend": "cudnn"|"own", "bound_source",          optional, the decode probe
 *               "points": [{"batch", "ctx", "layer_s", "step_s", "bytes",
 *                           "achieved_GBps", "bound_s", "fixed_s"}]},
 *    "decode_fp8": {...the same, fp8 weights}}
 * decode points: layer_s the median time of one layer's decode step (a CUDA
 * graph replay), step_s = layer_s x n_layers, bytes what one layer reads
 * (weights + the batch's KV), achieved_GBps = bytes / layer_s / 1e9,
 * bound_s = bytes / HBM read bandwidth (bound_source says whose), fixed_s =
 * layer_s - bound_s, the time per layer the bytes do not explain.
 * Links are alpha + s / B fits of size sweeps; prefill curves are achieved
 * TFLOP/s of one GPU versus tokens, GEMM and attention apart.
 */
#ifndef KVW_PROFILE_H
#define KVW_PROFILE_H

#include <stdbool.h>

#include "kvw_err.h"
#include "kvw_model.h"

#define KVW_PROFILE_MAX_LINKS 64
#define KVW_PROFILE_MAX_DECODE 64

typedef struct kvw_profile_decode_pt {
	int batch;
	long ctx;
	double layer_s, step_s, bytes, achieved_gbps, bound_s, fixed_s;
} kvw_profile_decode_pt;

typedef struct kvw_profile_link {
	char name[KVW_NAME_LEN];
	char kind[16];
	kvw_link link;
	double fit_r2; /* NAN when not given */
	char failed[200]; /* "" or the failed record the fit rests on (older profiles) */
} kvw_profile_link;

typedef struct kvw_profile {
	char path[512];
	char label[256];
	bool example;
	char gpu[KVW_NAME_LEN]; /* first GPU's name, "" when none */
	int n_results, n_ok, n_skipped, n_failed;
	int n_links;
	kvw_profile_link links[KVW_PROFILE_MAX_LINKS];
	bool has_prefill;
	char prefill_model[KVW_NAME_LEN];
	kvw_compute compute; /* valid when has_prefill */
	double hbm_bw;       /* bytes/s of the copy kernel, 0 when absent */
	double compute_slowdown, copy_slowdown; /* 1 when absent */
	bool has_decode;           /* profile.decode (bf16 weights) read and valid */
	char decode_model[KVW_NAME_LEN], decode_dtype[16], decode_backend[16];
	int decode_layers, decode_block_tokens, n_decode;
	kvw_profile_decode_pt decode[KVW_PROFILE_MAX_DECODE];
	int n_msgcost;
	struct {
		char path[KVW_NAME_LEN];
		double cost_s; /* median measured extra cost of one more message */
	} msgcost[16];
} kvw_profile;

kvw_err kvw_profile_load(const char *path, kvw_profile *p, kvw_diag *d);
/* The same on a parsed document (p->path is kept for messages). */
typedef struct json_t json_t;
kvw_err kvw_profile_parse(const json_t *root, kvw_profile *p, kvw_diag *d);
/* The measured extra cost per message on the path a link name starts with
 * (profile.kv_messages), or 0 when none was measured. */
double kvw_profile_message_cost(const kvw_profile *p, const char *link);
/* NULL when the profile has no link of that name. */
const kvw_profile_link *kvw_profile_find_link(const kvw_profile *p, const char *name);

#endif
