/* probe.h — the one probe interface.
 *
 * A probe measures one thing on real hardware and returns result records
 * (record.h).  Every probe fills the same operations struct; the registry
 * checks each entry before the runner uses it.  A probe that lacks what it
 * needs says why through unavailable() and is recorded as skipped: it never
 * crashes and never fakes a number.  Probes may also add derived sections
 * to the profile being built (a link fit, a prefill curve, HBM figures).
 */
#ifndef KVW_PROBE_H
#define KVW_PROBE_H

#include <jansson.h>
#include <stdbool.h>

#include "kvw_err.h"
#include "kvw_mpi.h"
#include "opts.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kvw_need {
	KVW_NEED_NOTHING = 0,
	KVW_NEED_CUDA = 1u << 0,   /* one CUDA device */
	KVW_NEED_2GPU = 1u << 1,   /* two CUDA devices */
	KVW_NEED_NCCL = 1u << 2,
	KVW_NEED_RDMA = 1u << 3,   /* an RDMA device */
	KVW_NEED_MPI = 1u << 4,    /* a peer rank */
};

typedef struct kvw_probe_run {
	bool quick;            /* a short version: fewer sizes and repetitions */
	const kvw_args *args;  /* the command line (model for prefill, ...) */
	const kvw_mpi *mpi;    /* rank and size; one rank without a launcher */
	json_t *profile;       /* the profile being built; probes add sections */
	int n_records, cap;
	kvw_record *records;   /* owned by the runner */
} kvw_probe_run;

typedef struct kvw_probe {
	const char *name;
	const char *summary;
	unsigned needs;                    /* kvw_need bits, for --list */
	/* NULL when the probe can run here (mpi: this process's rank and size;
	 * NULL for a plain listing), else the reason it cannot */
	const char *(*unavailable)(const kvw_mpi *mpi);
	/* optional: state for run(); teardown accepts NULL */
	kvw_err (*setup)(kvw_probe_run *r, void **state, kvw_diag *d);
	kvw_err (*run)(kvw_probe_run *r, void *state, kvw_diag *d);
	void (*teardown)(void *state);
} kvw_probe;

/* Called by probes. */
kvw_err kvw_probe_emit(kvw_probe_run *r, const kvw_record *rec, kvw_diag *d);
/* A record for probe/variant with status ok and no numbers yet. */
kvw_record kvw_record_new(const char *probe, const char *variant);
/* profile[key], created as an object (or array when array) if absent */
json_t *kvw_probe_section(kvw_probe_run *r, const char *key, bool array);
/* The --config file or --model of the run (default Llama-3-8B). */
struct kvw_arch;
kvw_err kvw_probe_model(const kvw_probe_run *r, struct kvw_arch *a, kvw_diag *d);

/* KV-shaped traffic: the same KV bytes as one packed message, one per
 * layer, and one per (layer x block) of 256, 64 and 16 tokens. */
#define KVW_KV_PATTERNS 5
typedef struct kvw_kv_pattern {
	char mode[32];
	long messages;
	double message_bytes;
} kvw_kv_pattern;
typedef struct kvw_kv_plan {
	char model[96];
	long tokens; /* a multiple of 256 whose KV (bf16, one GPU) fits; 0: none fits */
	kvw_kv_pattern p[KVW_KV_PATTERNS];
	json_t *entry; /* profile.kv_messages entry {path, model, tokens, modes: []}, NULL when tokens is 0 */
} kvw_kv_plan;
/* Loads the run's model (kvw_probe_model), picks the prompt length (at most
 * 2048 tokens with --quick, else 8192, KV within max_bytes) and fills the
 * plan; the entry is added to profile.kv_messages. */
kvw_err kvw_probe_kv_plan(kvw_probe_run *r, const char *path, size_t max_bytes, kvw_kv_plan *plan, kvw_diag *d);
/* Records one pattern's median time (packed_s: the packed send's). */
void kvw_probe_kv_result(json_t *entry, const kvw_kv_pattern *p, double seconds, double packed_s);

/* The runner (cmd_probe.c): runs one probe, or records it skipped with the
 * reason; returns the exit severity it adds (0, 2 or 3). */
int kvw_probe_run_one(const kvw_probe *p, kvw_probe_run *r, kvw_diag *d);
/* A new profile object: schema, tool, time, command, host facts. */
json_t *kvw_profile_new(int argc, char **argv);

/* Appends a fitted link to profile.links, unless a record the fit rests
 * on failed (any of r->records[first ..]): nothing is fitted from data
 * that was verified wrong.  Returns whether the link was added. */
bool kvw_probe_add_link(kvw_probe_run *r, int first, const char *name, const char *klass, double alpha_s,
                        double bw, int points, double r2);
/* True when every record from first on is ok. */
bool kvw_probe_records_ok(const kvw_probe_run *r, int first);

#ifdef __cplusplus
}
#endif

#endif
