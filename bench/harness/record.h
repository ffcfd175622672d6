/* record.h — the one result record every probe fills and every writer reads.
 *
 * Conventions: time statistics in seconds over the repetitions; gbps is
 * payload bytes / median time in GB/s (1 GB = 1e9 B), one direction unless
 * the variant says "bidir"; tflops is achieved 1e12 FLOP/s; a probe that
 * could not run says "skipped" with the reason and carries no numbers.
 * JSON form (in profile.json "results"):
 *   {"probe", "variant", "bytes", "iterations", "repetitions",
 *    "time_s": {"min", "median", "p90", "max", "stddev"},
 *    "gbps", "tflops", "verify": {"checked", "wrong"}, "status", "reason"}
 * with null for what does not apply.
 */
#ifndef KVW_RECORD_H
#define KVW_RECORD_H

#include <jansson.h>

#include "kvw_err.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum kvw_status { KVW_ST_OK, KVW_ST_SKIPPED, KVW_ST_FAILED } kvw_status;

typedef struct kvw_tstats {
	double min, median, p90, max, stddev;
} kvw_tstats;

typedef struct kvw_record {
	char probe[48];
	char variant[96];
	double bytes;      /* payload bytes per iteration; 0 when not a transfer */
	long iterations;   /* per repetition */
	long repetitions;
	kvw_tstats time_s;
	double gbps;       /* NAN when not applicable */
	double tflops;     /* NAN when not applicable */
	long long checked; /* elements verified */
	long long wrong;   /* of those, wrong */
	kvw_status status;
	char reason[256];  /* why skipped or failed */
} kvw_record;

const char *kvw_status_name(kvw_status s);
json_t *kvw_record_to_json(const kvw_record *r);
/* Validates and converts; errors name the field. */
kvw_err kvw_record_from_json(const json_t *j, kvw_record *r, kvw_diag *d);

#ifdef __cplusplus
}
#endif

#endif
