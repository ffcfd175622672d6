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

/* A whole JSON document, indented, with a final newline: to path
 * (atomically) or, when path is NULL, to stdout. */
kvw_err kvw_write_json(const char *path, const json_t *doc, kvw_diag *d);

/* mkdir -p */
kvw_err kvw_mkdir_p(const char *dir, kvw_diag *d);

/* Writes len bytes to path through a temporary file and rename(2). */
kvw_err kvw_write_atomic(const char *path, const char *data, size_t len, kvw_diag *d);

#endif
