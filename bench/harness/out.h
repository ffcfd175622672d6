/* out.h — one result, three formats.
 *
 * A command fills one kvw_out: summary fields (key, label, value, format),
 * notes (the conventions behind the numbers) and at most one table.  The
 * writers render the same kvw_out as a human table, CSV (the table, or the
 * summary as one row) or JSON (an envelope with schema, tool version, argv
 * and host facts; the summary keys; "notes"; the table as an array of
 * objects).  Values are jansson values; JSON is built by jansson, never
 * printed by hand.  Output goes to stdout or, with --output, to a file
 * written whole or not at all.
 */
#ifndef KVW_OUT_H
#define KVW_OUT_H

#include <jansson.h>

#include "kvw_err.h"
#include "opts.h"

#define KVW_OUT_MAX_FIELDS 64
#define KVW_OUT_MAX_COLS 48
#define KVW_OUT_MAX_NOTES 24

typedef struct kvw_field {
	const char *key;   /* JSON / CSV name */
	const char *label; /* human label; NULL: in JSON only (add such fields last) */
	const char *fmt;   /* printf format for numbers, NULL: %g */
	json_t *value;     /* owned */
} kvw_field;

typedef struct kvw_out {
	const char *schema; /* e.g. "kvwall.crossover/1" */
	char title[256];
	int n_fields;
	kvw_field fields[KVW_OUT_MAX_FIELDS];
	int n_notes;
	char *notes[KVW_OUT_MAX_NOTES];
	const char *table_key; /* JSON name of the table, NULL: no table */
	int n_cols;
	kvw_field cols[KVW_OUT_MAX_COLS]; /* value unused */
	json_t *rows; /* array of arrays, owned */
	unsigned long alloc_failures; /* kvw_alloc_failures() at init */
	bool oom;     /* something could not be stored */
} kvw_out;

void kvw_out_init(kvw_out *o, const char *schema);
void kvw_out_free(kvw_out *o); /* accepts a zeroed or freed kvw_out */

/* The value is stolen (jansson "new" reference); NULL stores JSON null. */
void kvw_out_field(kvw_out *o, const char *key, const char *label, const char *fmt, json_t *value);
void kvw_out_note(kvw_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kvw_out_table(kvw_out *o, const char *table_key);
void kvw_out_col(kvw_out *o, const char *key, const char *label, const char *fmt);
/* Appends a row of n_cols stolen values. */
void kvw_out_row(kvw_out *o, json_t *const *values);

/* JSON number, or null when x is not finite. */
json_t *kvw_num(double x);

/* Renders in the format args select and writes it to stdout or
 * args->output (atomically).  argc/argv go into the JSON envelope. */
kvw_err kvw_out_emit(const kvw_out *o, const kvw_args *args, int argc, char **argv, kvw_diag *d);

/* The rendered text of o (what kvw_out_emit writes); *text is malloc'd,
 * the caller frees it.  Out of memory anywhere in building o (jansson, a
 * note, the rendering) is KVW_ESYS here, never a shorter output. */
kvw_err kvw_out_render(const kvw_out *o, const kvw_args *args, int argc, char **argv, char **text, size_t *len,
                       kvw_diag *d);

/* ---- files (outfile.c: what a path may be, and what happens to it) ---------- */

/* A whole JSON document, indented, with a final newline: to path
 * (atomically) or, when path is NULL, to stdout. */
kvw_err kvw_write_json(const char *path, const json_t *doc, kvw_diag *d);
/* The same text in memory (*text malloc'd, the caller frees it). */
kvw_err kvw_json_text(const json_t *doc, char **text, size_t *len, kvw_diag *d);

/* mkdir -p; a file in the way of a directory is an error */
kvw_err kvw_mkdir_p(const char *dir, kvw_diag *d);

/* One output: path NULL is stdout. */
typedef struct kvw_output {
	const char *path;
	const char *data;
	size_t len;
} kvw_output;

/* All outputs written whole or none: every file is written under a
 * temporary name and every device or FIFO opened first; then devices,
 * stdout, and the renames.  Regular files are replaced (mode and owner
 * kept; a new one gets 0666 less the umask), symlinks followed to an
 * existing target, character devices and FIFOs written through;
 * directories, block devices and sockets refused. */
kvw_err kvw_write_outputs(const kvw_output *outs, int n, kvw_diag *d);
/* One output the same way. */
kvw_err kvw_write_atomic(const char *path, const char *data, size_t len, kvw_diag *d);
/* Could path be written?  (Before minutes of measuring: its directory
 * exists and is writable, and it is nothing kvwall refuses.) */
kvw_err kvw_check_output(const char *path, kvw_diag *d);

/* A FILE that writes into memory and, unlike open_memstream (whose text is
 * silently cut short when it cannot grow), says when memory ran out:
 * kvw_memclose is then KVW_ESYS and *text NULL.  *text is malloc'd and
 * NUL-terminated; the caller frees it. */
typedef struct kvw_membuf {
	char *data;
	size_t len, cap;
	bool failed;
} kvw_membuf;
FILE *kvw_memopen(kvw_membuf *b);
kvw_err kvw_memclose(FILE *f, kvw_membuf *b, char **text, size_t *len, kvw_diag *d);

/* How many allocations inside jansson have failed so far (installs the
 * counting allocator on first use; kvw_out_init calls it). */
unsigned long kvw_alloc_failures(void);

#endif
