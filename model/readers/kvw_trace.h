/* kvw_trace.h — reading public LLM serving traces into a kvw_workload.
 *
 * Formats (detected from the content, gzip or plain):
 *   Mooncake JSONL  one object per line: timestamp (ms since the start),
 *                   input_length, output_length (tokens) and hash_ids, one
 *                   id per 512-token block of the prompt (equal ids: equal
 *                   prefix blocks).  kvcache-ai/Mooncake FAST'25 traces.
 *   Azure CSV       a header naming TIMESTAMP, ContextTokens and
 *                   GeneratedTokens; TIMESTAMP is wall clock
 *                   "YYYY-MM-DD HH:MM:SS[.fraction]" or seconds.  The
 *                   Azure LLM inference traces (Splitwise, ISCA'24).
 * Arrival times become seconds after the first request.  Requests must be
 * in arrival order: a timestamp that goes backwards is refused with its
 * line (traces are logs; a shuffled one is more likely a wrong file than
 * something to sort silently).  Every error names the file and the line.
 */
#ifndef KVW_TRACE_H
#define KVW_TRACE_H

#include <stddef.h>

#include "kvw_err.h"
#include "kvw_workload.h"

/* Tokens per Mooncake hash id. */
#define KVW_MOONCAKE_BLOCK 512
/* Limits of one request (beyond them a trace is taken to be malformed). */
#define KVW_TRACE_MAX_TOKENS 10000000L
/* Largest trace text read, after decompression. */
#define KVW_TRACE_MAX_BYTES (2UL << 30)

typedef enum kvw_trace_format { KVW_TRACE_AUTO, KVW_TRACE_MOONCAKE, KVW_TRACE_AZURE } kvw_trace_format;

/* Parses trace text held in memory; name labels messages ("name:line: ...").
 * On error *out is left zeroed. */
kvw_err kvw_trace_parse(const char *text, size_t len, kvw_trace_format fmt, const char *name, kvw_workload *out,
                        kvw_diag *d);

/* Reads a trace file, gzip-compressed or not; refuses what is not a regular
 * file before opening it (a FIFO would block). */
kvw_err kvw_trace_load(const char *path, kvw_workload *out, kvw_diag *d);

/* A trace bundled in the catalog (catalog/traces/NAME.jsonl[.gz] or
 * NAME.csv[.gz]), case-insensitive; an unknown name lists the known ones.
 * A name containing '/' or ending in a known extension is read as a path. */
kvw_err kvw_trace_open(const char *name_or_path, kvw_workload *out, kvw_diag *d);

#endif
