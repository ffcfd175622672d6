/* cmd_compare.c — kvwall compare (the regression gate) and kvwall
 * baseline save.
 *
 *   kvwall compare BASELINE CURRENT [--tolerance 5%] [--sigma 2] [--metric GLOB]...
 *                  [--junit FILE] [--allow-missing] [--allow-hardware-change]
 *   kvwall baseline save DIR --from PROFILE [--json | --csv] [--output FILE]
 *
 * compare exits 4 when a metric regressed, when a baseline metric is
 * missing from the current run, or when the hardware differs (each unless
 * allowed), 0 otherwise; the table (and --junit XML) says which and why.
 */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "compare.h"
#include "kvw_config.h"
#include "metrics.h"
#include "out.h"
#include "profile.h"
#include "scenario.h"

static const kvw_opt compare_opts[] = {
	{ "tolerance", KVW_OPT_STR, KVW_ARG(tolerance), "5%", 0, 0, "a drop must exceed this (5% or 0.05)" },
	{ "sigma", KVW_OPT_DBL, KVW_ARG(sigma), "2", 0, 100, "and this many combined relative stddevs of the repetitions" },
	{ "metric", KVW_OPT_LIST, KVW_ARG(metrics), NULL, 0, 0, "compare only metrics matching this glob (repeatable)" },
	{ "junit", KVW_OPT_STR, KVW_ARG(junit), NULL, 0, 0, "also write JUnit XML here" },
	{ "allow-missing", KVW_OPT_FLAG, KVW_ARG(allow_missing), NULL, 0, 0, "a baseline metric absent now does not fail" },
	{ "allow-hardware-change", KVW_OPT_FLAG, KVW_ARG(allow_hw_change), NULL, 0, 0, "compare even if GPU, driver or CPU differ" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const kvw_opt baseline_opts[] = {
	{ "from", KVW_OPT_STR, KVW_ARG(from), NULL, 0, 0, "the profile.json to keep as the baseline (required)" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

typedef struct row {
	const char *name;
	double base, cur, change, noise;
	kvw_verdict v;
} row;

static bool selected(const kvw_args *a, const char *name)
{
	if (a->metrics.n == 0)
		return true;
	for (int i = 0; i < a->metrics.n; i++)
		if (fnmatch(a->metrics.v[i], name, 0) == 0)
			return true;
	return false;
}

static void xml_escaped(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
}

/* the JUnit XML text (*text malloc'd) */
static kvw_err junit_text(const row *rows, int n, int failures, char **text, size_t *len, kvw_diag *d)
{
	kvw_membuf mb;
	FILE *f = kvw_memopen(&mb);
	if (!f)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	           "<testsuites>\n<testsuite name=\"kvwall.compare\" tests=\"%d\" failures=\"%d\">\n", n, failures);
	for (int i = 0; i < n; i++) {
		fputs("  <testcase classname=\"kvwall.compare\" name=\"", f);
		xml_escaped(f, rows[i].name);
		fputs("\">", f);
		char msg[256];
		snprintf(msg, sizeof msg, "%s: baseline %.6g, current %.6g, change %+.2f%%, noise bound %.2f%%",
		         kvw_verdict_name(rows[i].v), rows[i].base, rows[i].cur, 100 * rows[i].change, 100 * rows[i].noise);
		if (rows[i].v == KVW_CMP_REGRESSION || rows[i].v == KVW_CMP_MISSING) {
			fputs("<failure message=\"", f);
			xml_escaped(f, msg);
			fputs("\"/>", f);
		} else if (rows[i].v == KVW_CMP_NOT_COMPARED) {
			fputs("<skipped message=\"hardware differs\"/>", f);
		} else {
			fputs("<system-out>", f);
			xml_escaped(f, msg);
			fputs("</system-out>", f);
		}
		fputs("</testcase>\n", f);
	}
	fputs("</testsuite>\n</testsuites>\n", f);
	return kvw_memclose(f, &mb, text, len, d);
}

/* The table (stdout or --output) and --junit together: both whole, or
 * neither and nothing printed. */
static kvw_err emit_all(const kvw_out *o, const kvw_args *a, int argc, char **argv, const row *rows, int n,
                        int failures, kvw_diag *d)
{
	char *table = NULL, *junit = NULL;
	size_t tl = 0, jl = 0;
	kvw_err err = kvw_out_render(o, a, argc, argv, &table, &tl, d);
	if (!err && a->junit)
		err = junit_text(rows, n, failures, &junit, &jl, d);
	kvw_output outs[2] = { { a->junit, junit, jl }, { a->output, table, tl } };
	if (!err)
		err = a->junit ? kvw_write_outputs(outs, 2, d) : kvw_write_outputs(outs + 1, 1, d);
	free(table);
	free(junit);
	return err;
}

/* rows for every selected metric; returns the number of rows */
static int build_rows(const kvw_args *a, const kvw_metricset *b, const kvw_metricset *c, bool hw_same,
                      double tol, row *rows)
{
	int n = 0;
	for (int i = 0; i < b->n; i++) {
		if (!selected(a, b->m[i].name))
			continue;
		const kvw_metric *cm = kvw_metrics_find(c, b->m[i].name);
		row r = { b->m[i].name, b->m[i].value, cm ? cm->value : NAN, NAN, NAN, KVW_CMP_MISSING };
		if (cm && !hw_same && !a->allow_hw_change)
			r.v = KVW_CMP_NOT_COMPARED;
		else if (cm)
			r.v = kvw_compare_metric(&b->m[i], cm, tol, a->sigma, &r.change, &r.noise);
		rows[n++] = r;
	}
	for (int i = 0; i < c->n; i++)
		if (selected(a, c->m[i].name) && !kvw_metrics_find(b, c->m[i].name))
			rows[n++] = (row){ c->m[i].name, NAN, c->m[i].value, NAN, NAN, KVW_CMP_NEW };
	return n;
}

static void fill_out(kvw_out *o, const kvw_args *a, const kvw_metricset *b, const kvw_metricset *c,
                     const row *rows, int n, double tol)
{
	snprintf(o->title, sizeof o->title, "Compare %s -> %s", a->positional[0], a->positional[1]);
	kvw_out_field(o, "baseline", "baseline", NULL, json_string(a->positional[0]));
	kvw_out_field(o, "current", "current", NULL, json_string(a->positional[1]));
	kvw_out_field(o, "baseline_hardware", "baseline hardware", NULL, json_string(b->hardware));
	kvw_out_field(o, "current_hardware", "current hardware", NULL, json_string(c->hardware));
	kvw_out_field(o, "hardware_match", "same hardware", NULL, json_boolean(strcmp(b->hardware, c->hardware) == 0));
	kvw_out_field(o, "tolerance", "tolerance", "%.3g", kvw_num(tol));
	kvw_out_field(o, "sigma", "sigma", "%.3g", kvw_num(a->sigma));
	kvw_out_table(o, "metrics");
	kvw_out_col(o, "metric", "metric", NULL);
	kvw_out_col(o, "baseline", "baseline", "%.5g");
	kvw_out_col(o, "current", "current", "%.5g");
	kvw_out_col(o, "change_pct", "change %", "%+.2f");
	kvw_out_col(o, "noise_pct", "noise bound %", "%.2f");
	kvw_out_col(o, "verdict", "verdict", NULL);
	for (int i = 0; i < n; i++) {
		json_t *cells[] = { json_string(rows[i].name), kvw_num(rows[i].base), kvw_num(rows[i].cur),
		                    kvw_num(100 * rows[i].change), kvw_num(100 * rows[i].noise),
		                    json_string(kvw_verdict_name(rows[i].v)) };
		kvw_out_row(o, cells);
	}
	kvw_out_note(o, "a drop fails only beyond both the tolerance and sigma x sqrt(s_b^2 + s_c^2), s = relative "
	             "stddev of each run's repetitions; change > 0 is better");
}

static kvw_err run_compare(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->n_positional != 2)
		return kvw_fail(d, KVW_EUSAGE, "compare needs BASELINE and CURRENT files");
	double tol = 0;
	kvw_err err = kvw_opts_tolerance(a->tolerance, &tol, d);
	if (err)
		return err;
	kvw_metricset b, c = { 0 };
	if ((err = kvw_metrics_load(a->positional[0], &b, d)))
		return err;
	row *rows = NULL;
	kvw_out o;
	kvw_out_init(&o, "kvwall.compare/1");
	if ((err = kvw_metrics_load(a->positional[1], &c, d)))
		goto out;
	if (strcmp(b.kind, c.kind) != 0) {
		err = kvw_fail(d, KVW_EUSAGE, "cannot compare a %s file with a %s file", b.kind, c.kind);
		goto out;
	}
	rows = calloc((size_t)(b.n + c.n + 1), sizeof *rows);
	if (!rows) {
		err = kvw_fail(d, KVW_ESYS, "out of memory");
		goto out;
	}
	bool hw_same = strcmp(b.hardware, c.hardware) == 0;
	int n = build_rows(a, &b, &c, hw_same, tol, rows), bad = 0, regress = 0, missing = 0, compared = 0;
	for (int i = 0; i < n; i++) {
		regress += rows[i].v == KVW_CMP_REGRESSION;
		missing += rows[i].v == KVW_CMP_MISSING;
		compared += rows[i].v <= KVW_CMP_REGRESSION;
	}
	if (n == 0 || (compared == 0 && missing == 0 && hw_same)) {
		err = kvw_fail(d, KVW_EUSAGE, "no metric of %s matches the selection", a->positional[0]);
		goto out;
	}
	bad = regress + (a->allow_missing ? 0 : missing);
	bool hw_fail = !hw_same && !a->allow_hw_change;
	fill_out(&o, a, &b, &c, rows, n, tol);
	kvw_out_field(&o, "regressions", "regressions", NULL, json_integer(regress));
	kvw_out_field(&o, "missing", "missing", NULL, json_integer(missing));
	kvw_out_field(&o, "verdict", "verdict", NULL, json_string(bad || hw_fail ? "fail" : "pass"));
	if ((err = emit_all(&o, a, argc, argv, rows, n, bad + (hw_fail ? 1 : 0), d)))
		goto out;
	if (hw_fail)
		err = kvw_fail(d, KVW_EREGRESSION, "hardware differs (%s vs %s): not compared; "
		               "--allow-hardware-change compares anyway", b.hardware, c.hardware);
	else if (bad)
		err = kvw_fail(d, KVW_EREGRESSION, "%d metric(s) regressed, %d missing", regress,
		               a->allow_missing ? 0 : missing);
out:
	kvw_out_free(&o);
	free(rows);
	kvw_metrics_free(&b);
	kvw_metrics_free(&c);
	return err;
}

/* A baseline must be a clean measurement: hand-written examples, profiles
 * with nothing to compare and profiles with failed records (whose fits
 * may rest on wrong data) are refused. */
static kvw_err check_baseline(const char *from, const json_t *doc, const kvw_profile *p, const kvw_metricset *m,
                              kvw_diag *d)
{
	if (p->example)
		return kvw_fail(d, KVW_EUSAGE, "%s is a hand-written example, not a measurement", from);
	if (p->n_failed == 0)
		return m->n ? KVW_OK : kvw_fail(d, KVW_EUSAGE, "%s has no ok measurement to keep", from);
	size_t i;
	const json_t *r = NULL;
	json_array_foreach(json_object_get(doc, "results"), i, r)
		if (json_is_string(json_object_get(r, "status"))
		    && strcmp(json_string_value(json_object_get(r, "status")), "failed") == 0)
			break;
	const char *probe = json_string_value(json_object_get(r, "probe"));
	const char *variant = json_string_value(json_object_get(r, "variant"));
	const char *reason = json_string_value(json_object_get(r, "reason"));
	return kvw_fail(d, KVW_EUSAGE, "%s has %d failed record(s) (results[%zu] %s %s: %s): a baseline must come from "
	                "a run whose probes all passed", from, p->n_failed, i, probe ? probe : "?", variant ? variant : "",
	                reason ? reason : "?");
}

static void baseline_out(kvw_out *o, const char *path, const char *from, const kvw_metricset *m)
{
	snprintf(o->title, sizeof o->title, "Baseline saved");
	kvw_out_field(o, "baseline", "baseline", NULL, json_string(path));
	kvw_out_field(o, "from", "from", NULL, json_string(from));
	kvw_out_field(o, "hardware", "hardware", NULL, json_string(m->hardware));
	kvw_out_field(o, "n_metrics", "metrics", NULL, json_integer(m->n));
	kvw_out_table(o, "metrics");
	kvw_out_col(o, "metric", "metric", NULL);
	kvw_out_col(o, "value", "value", "%.5g");
	kvw_out_col(o, "higher_is_better", "higher is better", NULL);
	for (int i = 0; i < m->n; i++) {
		json_t *cells[] = { json_string(m->m[i].name), kvw_num(m->m[i].value), json_boolean(m->m[i].higher_better) };
		kvw_out_row(o, cells);
	}
}

static kvw_err run_baseline(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->n_positional != 2 || strcmp(a->positional[0], "save") != 0)
		return kvw_fail(d, KVW_EUSAGE, "usage: kvwall baseline save DIR --from PROFILE");
	if (!a->from)
		return kvw_fail(d, KVW_EUSAGE, "baseline save needs --from PROFILE (a kvwall probe profile.json)");
	/* read once, check it is a clean measured profile, keep it */
	json_t *doc = NULL;
	kvw_metricset m = { 0 };
	kvw_out o;
	kvw_out_init(&o, "kvwall.baseline/1");
	char *text = NULL, *table = NULL, path[4096];
	size_t len = 0, tl = 0;
	const char *dir = a->positional[1];
	kvw_profile *p = calloc(1, sizeof *p);
	kvw_err err = p ? kvw_read_json(a->from, 1u << 26, &doc, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (!err) {
		snprintf(p->path, sizeof p->path, "%s", a->from);
		if ((err = kvw_profile_parse(doc, p, d)) || (err = kvw_metrics_parse(doc, &m, d)))
			kvw_prefix(d, err, a->from);
	}
	if (!err)
		err = check_baseline(a->from, doc, p, &m, d);
	if (!err && !(err = kvw_path_join(path, sizeof path, dir, "baseline.json", d))
	    && !(err = a->output ? kvw_check_output(a->output, d) : KVW_OK) && !(err = kvw_json_text(doc, &text, &len, d))) {
		baseline_out(&o, path, a->from, &m);
		err = kvw_out_render(&o, a, argc, argv, &table, &tl, d);
	}
	kvw_output outs[2] = { { path, text, len }, { a->output, table, tl } };
	if (!err && !(err = kvw_mkdir_p(dir, d)))
		err = kvw_write_outputs(outs, 2, d);
	free(p);
	free(text);
	free(table);
	kvw_out_free(&o);
	kvw_metrics_free(&m);
	json_decref(doc);
	return err;
}

const kvw_cmd kvw_cmd_compare = {
	"compare", "BASELINE CURRENT [--tolerance 5%] [--metric GLOB]... [--junit FILE]",
	"the regression gate: compare two profile.json (or Google Benchmark JSON) files, noise-aware; exit 4 on a regression",
	compare_opts, 2, run_compare,
};

const kvw_cmd kvw_cmd_baseline = {
	"baseline", "save DIR --from PROFILE",
	"keep a measured profile as DIR/baseline.json for later kvwall compare runs",
	baseline_opts, 2, run_baseline,
};
