/* out.c — the human, CSV and JSON writers of a kvw_out (see out.h). */
#define _GNU_SOURCE
#include "out.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

void kvw_out_init(kvw_out *o, const char *schema)
{
	memset(o, 0, sizeof *o);
	o->schema = schema;
	o->alloc_failures = kvw_alloc_failures();
	o->rows = json_array();
	o->oom = !o->rows;
}

void kvw_out_free(kvw_out *o)
{
	if (!o)
		return;
	for (int i = 0; i < o->n_fields; i++)
		json_decref(o->fields[i].value);
	for (int i = 0; i < o->n_notes; i++)
		free(o->notes[i]);
	json_decref(o->rows);
	memset(o, 0, sizeof *o);
}

json_t *kvw_num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

void kvw_out_field(kvw_out *o, const char *key, const char *label, const char *fmt, json_t *value)
{
	if (o->n_fields == KVW_OUT_MAX_FIELDS) {
		json_decref(value);
		return;
	}
	o->fields[o->n_fields++] = (kvw_field){ key, label, fmt, value ? value : json_null() };
}

void kvw_out_note(kvw_out *o, const char *fmt, ...)
{
	if (o->n_notes == KVW_OUT_MAX_NOTES)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&o->notes[o->n_notes], fmt, ap) >= 0)
		o->n_notes++;
	else
		o->oom = true;
	va_end(ap);
}

void kvw_out_table(kvw_out *o, const char *table_key)
{
	o->table_key = table_key;
}

void kvw_out_col(kvw_out *o, const char *key, const char *label, const char *fmt)
{
	if (o->n_cols < KVW_OUT_MAX_COLS)
		o->cols[o->n_cols++] = (kvw_field){ key, label, fmt, NULL };
}

void kvw_out_row(kvw_out *o, json_t *const *values)
{
	json_t *row = json_array();
	for (int i = 0; i < o->n_cols; i++)
		if (json_array_append_new(row, values[i] ? values[i] : json_null()) != 0)
			o->oom = true;
	if (json_array_append_new(o->rows, row) != 0)
		o->oom = true;
}

/* ---- rendering -------------------------------------------------------------- */

static void render_value(char *buf, size_t cap, const json_t *v, const char *fmt, bool human)
{
	/* arrays render as their elements joined */
	if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, cap, human && fmt ? fmt : "%.10g", json_real_value(v));
	else if (json_is_string(v))
		snprintf(buf, cap, "%s", json_string_value(v));
	else if (json_is_array(v) && json_array_size(v) > 0) {
		size_t used = 0, i;
		const json_t *e;
		buf[0] = '\0';
		json_array_foreach(v, i, e) {
			char one[64];
			render_value(one, sizeof one, e, fmt, human);
			used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s", i ? (human ? ", " : ";") : "", one);
			if (used >= cap)
				break;
		}
	} else if (json_is_boolean(v))
		snprintf(buf, cap, "%s", json_is_true(v) ? (human ? "yes" : "true") : (human ? "no" : "false"));
	else
		snprintf(buf, cap, "%s", human ? "-" : "");
}

static void render_human(const kvw_out *o, FILE *f)
{
	char buf[2048]; /* long enough for a sentence (crossover's answer, plan's why) */
	if (o->title[0])
		fprintf(f, "%s\n", o->title);
	for (int i = 0; i < o->n_fields; i++) {
		if (!o->fields[i].label)
			continue; /* JSON only */
		render_value(buf, sizeof buf, o->fields[i].value, o->fields[i].fmt, true);
		fprintf(f, "  %-34s %s\n", o->fields[i].label, buf);
	}
	if (o->table_key && o->n_cols) {
		int w[KVW_OUT_MAX_COLS];
		for (int c = 0; c < o->n_cols; c++)
			w[c] = (int)strlen(o->cols[c].label);
		size_t r;
		json_t *row;
		json_array_foreach(o->rows, r, row)
			for (int c = 0; c < o->n_cols; c++) {
				render_value(buf, sizeof buf, json_array_get(row, (size_t)c), o->cols[c].fmt, true);
				int l = (int)strlen(buf);
				w[c] = l > w[c] ? l : w[c];
			}
		fputc('\n', f);
		json_t *first = json_array_get(o->rows, 0);
		for (int c = 0; c < o->n_cols; c++) {
			bool left = json_is_string(json_array_get(first, (size_t)c));
			fprintf(f, "%s%*s", c ? "  " : "", left ? -w[c] : w[c], o->cols[c].label);
		}
		fputc('\n', f);
		json_array_foreach(o->rows, r, row) {
			for (int c = 0; c < o->n_cols; c++) {
				const json_t *v = json_array_get(row, (size_t)c);
				render_value(buf, sizeof buf, v, o->cols[c].fmt, true);
				fprintf(f, "%s%*s", c ? "  " : "", json_is_string(v) ? -w[c] : w[c], buf);
			}
			fputc('\n', f);
		}
	}
	if (o->n_notes)
		fputc('\n', f);
	for (int i = 0; i < o->n_notes; i++)
		fprintf(f, "note: %s\n", o->notes[i]);
}

static void csv_cell(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void render_csv(const kvw_out *o, FILE *f)
{
	char buf[2048]; /* long enough for a sentence (crossover's answer, plan's why) */
	bool table = o->table_key && o->n_cols;
	int n = table ? o->n_cols : o->n_fields;
	while (!table && n > 0 && !o->fields[n - 1].label)
		n--; /* JSON-only fields come last */
	for (int c = 0; c < n; c++) {
		fputs(c ? "," : "", f);
		csv_cell(f, table ? o->cols[c].key : o->fields[c].key);
	}
	fputc('\n', f);
	if (!table) {
		for (int c = 0; c < n; c++) {
			render_value(buf, sizeof buf, o->fields[c].value, NULL, false);
			fputs(c ? "," : "", f);
			csv_cell(f, buf);
		}
		fputc('\n', f);
		return;
	}
	size_t r;
	json_t *row;
	json_array_foreach(o->rows, r, row) {
		for (int c = 0; c < n; c++) {
			render_value(buf, sizeof buf, json_array_get(row, (size_t)c), NULL, false);
			fputs(c ? "," : "", f);
			csv_cell(f, buf);
		}
		fputc('\n', f);
	}
}

static json_t *build_json(const kvw_out *o, int argc, char **argv)
{
	json_t *root = json_object(), *av = json_array(), *notes = json_array();
	json_object_set_new(root, "schema", json_string(o->schema));
	json_object_set_new(root, "tool", json_string("kvwall"));
	json_object_set_new(root, "version", json_string(KVW_VERSION));
	for (int i = 0; i < argc; i++)
		json_array_append_new(av, json_string(argv[i]));
	json_object_set_new(root, "argv", av);
	json_object_set_new(root, "host", kvw_host_facts());
	for (int i = 0; i < o->n_fields; i++)
		json_object_set(root, o->fields[i].key, o->fields[i].value);
	for (int i = 0; i < o->n_notes; i++)
		json_array_append_new(notes, json_string(o->notes[i]));
	json_object_set_new(root, "notes", notes);
	if (o->table_key) {
		json_t *rows = json_array();
		size_t r;
		json_t *row;
		json_array_foreach(o->rows, r, row) {
			json_t *obj = json_object();
			for (int c = 0; c < o->n_cols; c++)
				json_object_set(obj, o->cols[c].key, json_array_get(row, (size_t)c));
			json_array_append_new(rows, obj);
		}
		json_object_set_new(root, o->table_key, rows);
	}
	return root;
}

kvw_err kvw_out_render(const kvw_out *o, const kvw_args *args, int argc, char **argv, char **text, size_t *len,
                       kvw_diag *d)
{
	*text = NULL;
	*len = 0;
	kvw_membuf mb;
	FILE *f = kvw_memopen(&mb);
	if (!f)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	bool failed = o->oom;
	if (args->json) {
		json_t *root = build_json(o, argc, argv);
		failed |= !root || json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0;
		fputc('\n', f);
		json_decref(root);
	} else if (args->csv) {
		render_csv(o, f);
	} else {
		render_human(o, f);
	}
	kvw_err err = kvw_memclose(f, &mb, text, len, d);
	if (!err && (failed || kvw_alloc_failures() != o->alloc_failures)) {
		free(*text);
		*text = NULL;
		err = KVW_ESYS;
	}
	return err ? kvw_fail(d, KVW_ESYS, "out of memory building the output (%zu rows): nothing written",
	                      json_array_size(o->rows)) : KVW_OK;
}

kvw_err kvw_out_emit(const kvw_out *o, const kvw_args *args, int argc, char **argv, kvw_diag *d)
{
	char *text;
	size_t len;
	kvw_err err = kvw_out_render(o, args, argc, argv, &text, &len, d);
	if (err)
		return err;
	kvw_output out = { args->output, text, len };
	err = kvw_write_outputs(&out, 1, d);
	free(text);
	return err;
}
