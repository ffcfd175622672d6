/* cmd_validate.c — kvwall validate: is the model right on this GPU?
 *
 *   kvwall validate [--model M]... [--link PATH]... [--quick] [--out DIR]
 *   kvwall validate --from DIR/validation.json      (re-analyse, no GPU)
 *
 * Measures recompute (the model's real-shaped layers, all of them) and
 * layer-by-layer transfer of the same KV over real paths for L = 128 ..
 * 131072 tokens, and a concurrent partial split; then predicts each time
 * and each crossover from the profile measured in the same run and prints
 * predicted vs measured (see validate.h).  Exit 4 when a prediction misses
 * the tolerance; the outputs are written either way.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "kvw_config.h"
#include "out.h"
#include "scenario.h"
#include "validate.h"

static const kvw_opt opts[] = {
	{ "model", KVW_OPT_LIST, KVW_ARG(models), NULL, 0, 0,
	  "model to validate, repeatable [default llama-2-7b (MHA), llama-3-8b (GQA), deepseek-v3 (MLA)]" },
	{ "link", KVW_OPT_LIST, KVW_ARG(links), NULL, 0, 0,
	  "transfer path, repeatable: pinned_h2d, pageable_h2d, tcp_gpu_staged, d2d [default all]" },
	{ "min-ctx", KVW_OPT_LONG, KVW_ARG(min_ctx), "128", 16, 1L << 20, "shortest prompt, tokens" },
	{ "max-ctx", KVW_OPT_LONG, KVW_ARG(max_ctx), "131072", 16, 1L << 20, "longest prompt, tokens (prompts double from --min-ctx)" },
	{ "quick", KVW_OPT_FLAG, KVW_ARG(quick), NULL, 0, 0, "fewer repetitions, prompts up to 32768 tokens" },
	{ "tolerance", KVW_OPT_STR, KVW_ARG(tolerance), "10%", 0, 0, "target for every error (10% or 0.1)" },
	{ "from", KVW_OPT_STR, KVW_ARG(from), NULL, 0, 0, "re-analyse a validation.json instead of measuring" },
	{ "out", KVW_OPT_STR, KVW_ARG(out_dir), NULL, 0, 0,
	  "write DIR/validation.json, DIR/validation.csv and DIR/profile-<model>.json" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const char *pct(double e, bool sign, char *buf, size_t cap)
{
	if (!isfinite(e))
		return "-";
	snprintf(buf, cap, sign ? "%+.1f%%" : "%.1f%%", 100 * e);
	return buf;
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *crossovers_text(const json_t *side)
{
	const json_t *roots = json_object_get(side, "crossovers");
	if (json_array_size(roots) == 0)
		return json_string(json_string_value(json_object_get(side, "regime")));
	char buf[200] = "";
	size_t i, used = 0;
	const json_t *r;
	json_array_foreach(roots, i, r)
		used += (size_t)snprintf(buf + used, used < sizeof buf ? sizeof buf - used : 0, "%s%.0f", i ? ", " : "",
		                         json_number_value(r));
	return json_string(buf);
}

static void pairs_table(const json_t *an, kvw_out *o)
{
	kvw_out_table(o, "pairs");
	kvw_out_col(o, "model", "model", NULL);
	kvw_out_col(o, "path", "path", NULL);
	kvw_out_col(o, "measured_crossover", "L* measured", NULL);
	kvw_out_col(o, "predicted_crossover", "L* predicted", NULL);
	kvw_out_col(o, "crossover_error", "L* error", NULL);
	kvw_out_col(o, "max_time_error", "worst |time error|", NULL);
	kvw_out_col(o, "split_error", "worst |split error|", NULL);
	kvw_out_col(o, "pass", "pass", NULL);
	kvw_out_col(o, "why", "first miss", NULL);
	size_t i, j;
	const json_t *p, *sp;
	json_array_foreach(json_object_get(an, "pairs"), i, p) {
		double worst_split = NAN;
		json_array_foreach(json_object_get(p, "splits"), j, sp) {
			double e = fabs(num(sp, "error"));
			worst_split = isnan(worst_split) || e > worst_split ? e : worst_split;
		}
		char b1[32], b2[32], b3[32];
		const json_t *why = json_object_get(p, "why");
		json_t *row[] = {
			json_deep_copy(json_object_get(p, "model")), json_deep_copy(json_object_get(p, "path")),
			crossovers_text(json_object_get(p, "measured")), crossovers_text(json_object_get(p, "predicted")),
			json_string(pct(num(p, "crossover_error"), true, b1, sizeof b1)),
			json_string(pct(num(p, "max_time_error"), false, b2, sizeof b2)),
			json_string(pct(worst_split, false, b3, sizeof b3)),
			json_string(json_is_true(json_object_get(p, "pass")) ? "yes" : "NO"),
			json_string(json_is_string(why) ? json_string_value(why) : ""),
		};
		kvw_out_row(o, row);
	}
}

/* DIR/validation.csv: one row per (model, path, tokens); *text malloc'd */
static kvw_err csv_text(const json_t *an, char **text, size_t *len, kvw_diag *d)
{
	kvw_membuf mb;
	FILE *f = kvw_memopen(&mb);
	if (!f)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	fputs("model,path,tokens,recompute_measured_s,recompute_predicted_s,recompute_error,"
	      "transfer_measured_s,transfer_predicted_s,transfer_error\n", f);
	size_t i, j;
	const json_t *p, *pt;
	json_array_foreach(json_object_get(an, "pairs"), i, p) {
		json_array_foreach(json_object_get(p, "points"), j, pt)
			fprintf(f, "%s,%s,%.0f,%.9g,%.9g,%.6g,%.9g,%.9g,%.6g\n", json_string_value(json_object_get(p, "model")),
			        json_string_value(json_object_get(p, "path")), num(pt, "tokens"), num(pt, "recompute_measured_s"),
			        num(pt, "recompute_predicted_s"), num(pt, "recompute_error"), num(pt, "transfer_measured_s"),
			        num(pt, "transfer_predicted_s"), num(pt, "transfer_error"));
	}
	return kvw_memclose(f, &mb, text, len, d);
}

/* The files of --out DIR, to be written with the table in one go. */
typedef struct dir_files {
	int n;
	char (*path)[4096];
	kvw_output *out;
} dir_files;

static void dir_files_free(dir_files *f)
{
	for (int i = 0; i < f->n; i++)
		free((char *)f->out[i].data);
	free(f->path);
	free(f->out);
}

static kvw_err add_file(dir_files *f, const char *dir, const char *name, char *text, size_t len, kvw_diag *d)
{
	int k = f->n;
	f->out[k] = (kvw_output){ f->path[k], text, len };
	f->n++; /* text is owned from here on, even on an error */
	return kvw_path_join(f->path[k], sizeof f->path[k], dir, name, d);
}

static kvw_err dir_outputs(const char *dir, const json_t *doc, dir_files *f, kvw_diag *d)
{
	size_t cap = json_array_size(json_object_get(doc, "models")) + 2;
	*f = (dir_files){ 0, calloc(cap, sizeof *f->path), calloc(cap, sizeof *f->out) };
	if (!f->path || !f->out)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_err err = KVW_OK;
	size_t i;
	const json_t *m;
	json_array_foreach(json_object_get(doc, "models"), i, m) {
		if (err || !json_object_get(m, "prefill"))
			continue;
		char name[300], *text = NULL;
		size_t len = 0;
		snprintf(name, sizeof name, "profile-%s.json", json_string_value(json_object_get(m, "model")));
		for (char *c = name; *c; c++) /* a file name, never a path */
			*c = *c == '/' || (unsigned char)*c < 0x20 ? '_' : *c;
		json_t *p = kvw_validate_model_profile(doc, m);
		err = kvw_json_text(p, &text, &len, d);
		json_decref(p);
		if (!err)
			err = add_file(f, dir, name, text, len, d);
	}
	char *text = NULL;
	size_t len = 0;
	if (!err && !(err = csv_text(json_object_get(doc, "analysis"), &text, &len, d)))
		err = add_file(f, dir, "validation.csv", text, len, d);
	if (!err && !(err = kvw_json_text(doc, &text, &len, d)))
		err = add_file(f, dir, "validation.json", text, len, d);
	return err;
}

/* --out DIR's files and the table (stdout or --output): all, or none */
static kvw_err emit_all(const kvw_args *a, const kvw_out *o, const json_t *doc, int argc, char **argv, kvw_diag *d)
{
	dir_files f = { 0 };
	char *table = NULL;
	size_t tl = 0;
	kvw_err err = a->out_dir ? dir_outputs(a->out_dir, doc, &f, d)
	              : (f.out = calloc(1, sizeof *f.out)) ? KVW_OK : kvw_fail(d, KVW_ESYS, "out of memory");
	if (!err)
		err = kvw_out_render(o, a, argc, argv, &table, &tl, d);
	if (!err && a->out_dir)
		err = kvw_mkdir_p(a->out_dir, d);
	if (!err) {
		f.out[f.n++] = (kvw_output){ a->output, table, tl };
		table = NULL; /* freed with f */
		err = kvw_write_outputs(f.out, f.n, d);
	}
	free(table);
	dir_files_free(&f);
	return err;
}

static kvw_err run(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	double tol;
	kvw_err err = kvw_opts_tolerance(a->tolerance, &tol, d);
	if (err)
		return err;
	if (a->catalog)
		kvw_catalog_set_dir(a->catalog);
	if (a->min_ctx > a->max_ctx)
		return kvw_fail(d, KVW_EUSAGE, "--min-ctx %ld is above --max-ctx %ld", a->min_ctx, a->max_ctx);
	json_t *doc = NULL;
	if (a->from) {
		if (a->models.n || a->links.n || a->quick || kvw_opts_seen(a, "min-ctx") || kvw_opts_seen(a, "max-ctx"))
			return kvw_fail(d, KVW_EUSAGE, "--from re-analyses recorded measurements: --model, --link, --quick "
			                               "and the context range belong to a measuring run");
		if ((err = kvw_read_json(a->from, 1u << 26, &doc, d)))
			return err;
	} else if ((err = kvw_validate_measure(a, argc, argv, &doc, d))) {
		return err;
	}
	bool pass = false;
	if ((err = kvw_validate_analyse(doc, a, tol, &pass, d))) {
		json_decref(doc);
		return a->from ? kvw_prefix(d, err, a->from) : err;
	}
	const json_t *an = json_object_get(doc, "analysis");
	kvw_out o;
	kvw_out_init(&o, "kvwall.validate/1");
	snprintf(o.title, sizeof o.title, "Crossover measured vs predicted%s", a->from ? " (re-analysed)" : "");
	const char *label = json_string_value(json_object_get(doc, "label"));
	bool synthetic = json_is_true(json_object_get(doc, "synthetic"));
	kvw_out_field(&o, "source", "measurements", NULL,
	              json_string(a->from ? a->from : "this run"));
	kvw_out_field(&o, "label", "label", NULL, json_string(label ? label : ""));
	kvw_out_field(&o, "tolerance", "target", "%.3g", kvw_num(tol));
	kvw_out_field(&o, "pairs_with_crossover", "pairs with a measured crossover", NULL,
	              json_deep_copy(json_object_get(an, "pairs_with_crossover")));
	kvw_out_field(&o, "pass", "all within target", NULL, json_boolean(pass));
	kvw_out_field(&o, "validation", NULL, NULL, json_deep_copy(doc));
	if (synthetic)
		kvw_out_note(&o, "SYNTHETIC document: its numbers were made up for a test, not measured");
	kvw_out_note(&o, "error = (predicted - measured) / measured; gated: times at >= %d tokens, each L*, each split",
	             KVW_VALIDATE_GATED_FROM);
	kvw_out_note(&o, "predictions: the model on the profile of the same run with the model's own prefill curve, "
	             "one message per layer (each pair's predict_command in the JSON repeats it)");
	if (json_integer_value(json_object_get(an, "pairs_with_crossover")) == 0)
		kvw_out_note(&o, "no (model, path) pair crossed inside the range: L* was not tested (add a slower path or "
		             "a longer range)");
	/* what each miss is made of */
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(an, "pairs"), i, p) {
		if (json_is_true(json_object_get(p, "pass")))
			continue;
		const json_t *rf = json_object_get(p, "recompute_fit"), *tf = json_object_get(p, "transfer_fit");
		kvw_out_note(&o, "%s over %s: measured recompute ~ %.3f ms + %.3f x predicted; transfer ~ %.3f ms + %.3f x "
		             "predicted (a fixed term: overheads the model leaves out; a scale: a rate it has wrong)",
		             json_string_value(json_object_get(p, "model")), json_string_value(json_object_get(p, "path")),
		             1e3 * num(rf, "overhead_s"), num(rf, "scale"), 1e3 * num(tf, "overhead_s"), num(tf, "scale"));
	}
	pairs_table(an, &o);
	err = emit_all(a, &o, doc, argc, argv, d);
	kvw_out_free(&o);
	if (!err && !pass) {
		const char *why = NULL;
		size_t i;
		const json_t *p;
		json_array_foreach(json_object_get(an, "pairs"), i, p)
			if (!why && json_is_string(json_object_get(p, "why")))
				why = json_string_value(json_object_get(p, "why"));
		err = kvw_fail(d, KVW_EREGRESSION, "the model missed the %.3g target: %s", tol,
		               why ? why : "no pair crossed inside the range, L* untested");
	}
	json_decref(doc);
	return err;
}

const kvw_cmd kvw_cmd_validate = {
	"validate", "[--model M]... [--link PATH]... [--quick] [--out DIR] | --from validation.json",
	"measure recompute and transfer on this GPU and check the model's times and crossovers against them",
	opts, 0, run,
};
