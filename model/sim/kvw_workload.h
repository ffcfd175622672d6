/* kvw_workload.h — a workload the cluster simulation replays: requests in
 * arrival order, with the prefix structure of the prompt where the trace
 * has it.  Filled by the trace readers (model/readers/kvw_trace.h) or by a
 * synthetic generator; pure data, no I/O.
 */
#ifndef KVW_WORKLOAD_H
#define KVW_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct kvw_request {
	double arrival_s;   /* seconds after the workload's first request, non-decreasing */
	long input_tokens;  /* prompt, >= 1 */
	long output_tokens; /* tokens generated, >= 1 */
	size_t hash_off;    /* this request's block hashes: hashes[hash_off .. hash_off + n_hash) */
	int n_hash;         /* prefix blocks of hash_block tokens (the last may be partial); 0: none */
} kvw_request;

typedef struct kvw_workload {
	kvw_request *req;  /* n requests */
	size_t n;
	uint64_t *hashes;  /* every request's block hashes, concatenated; equal ids = equal prefix blocks */
	size_t n_hashes;
	long hash_block;   /* tokens per block hash (Mooncake traces: 512); 0 when there are none */
	char name[160];    /* where it came from, for output */
} kvw_workload;

/* Frees what w holds and zeroes it; accepts NULL and a zeroed workload. */
void kvw_workload_free(kvw_workload *w);

#endif
