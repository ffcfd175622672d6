/* validate.c — the analysis half of kvwall validate (see validate.h):
 * measured curves in, predictions, crossovers and errors out.  Pure
 * arithmetic on a document, so it runs (and is tested) without a GPU. */
#include "validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_model.h"
#include "out.h"
#include "scenario.h"

#define MAX_POINTS 32

typedef struct series {
	int n;
	double tokens[MAX_POINTS], seconds[MAX_POINTS];
} series;

static kvw_err fail_at(kvw_diag *d, const char *where, const char *what)
{
	return kvw_fail(d, KVW_EINPUT, "%s: %s", where, what);
}

static bool pos_number(const json_t *o, const char *key, double *out)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return isfinite(*out) && *out > 0;
}

/* points [{"tokens", "seconds"}], tokens ascending whole numbers >= 1 */
static kvw_err read_series(const json_t *arr, const char *where, series *s, kvw_diag *d)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return fail_at(d, where, "must be a non-empty array of {tokens, seconds}");
	if (json_array_size(arr) > MAX_POINTS)
		return kvw_fail(d, KVW_EINPUT, "%s: more than %d points", where, MAX_POINTS);
	s->n = 0;
	size_t i;
	const json_t *p;
	json_array_foreach(arr, i, p) {
		double t, sec;
		char at[160];
		snprintf(at, sizeof at, "%s[%zu]", where, i);
		if (!pos_number(p, "tokens", &t) || t != floor(t) || t > (double)(1L << 24))
			return fail_at(d, at, "'tokens' must be a whole number in 1 .. 16777216");
		if (!pos_number(p, "seconds", &sec))
			return fail_at(d, at, "'seconds' must be a positive number");
		if (s->n > 0 && t <= s->tokens[s->n - 1])
			return fail_at(d, at, "token counts must ascend");
		s->tokens[s->n] = t;
		s->seconds[s->n++] = sec;
	}
	return KVW_OK;
}

static const char *str_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

json_t *kvw_validate_model_profile(const json_t *doc, const json_t *model)
{
	json_t *p = json_deep_copy(json_object_get(doc, "profile"));
	if (!p)
		return NULL;
	const json_t *pf = json_object_get(model, "prefill");
	if (pf)
		json_object_set_new(p, "prefill", json_deep_copy(pf));
	return p;
}

static json_t *roots_json(const kvw_crossover *x)
{
	json_t *a = json_array();
	for (int i = 0; i < x->n_roots; i++)
		json_array_append_new(a, kvw_num(x->roots[i]));
	return a;
}

static json_t *regime_json(const kvw_crossover *x)
{
	json_t *o = json_object();
	json_object_set_new(o, "regime", json_string(kvw_regime_name(x->regime)));
	json_object_set_new(o, "crossovers", roots_json(x));
	return o;
}

static double rel_err(double predicted, double measured)
{
	return (predicted - measured) / measured;
}

typedef struct pair_ctx {
	const char *model, *path, *link;
	const series *xfer;
	const double *rec_at; /* measured recompute at each of xfer's token counts */
	const kvw_setup *s;
	double tolerance;
	char why[400];
	bool pass;
} pair_ctx;

static void miss(pair_ctx *c, const char *fmt, double a, double b)
{
	c->pass = false;
	if (c->why[0])
		return; /* the first miss is the one reported */
	snprintf(c->why, sizeof c->why, fmt, a, b);
}

/* What a miss is made of: measured ~ overhead + scale x predicted, fitted
 * over every point with relative weights (1 / measured^2).  A fixed
 * overhead points at launches and synchronisation the model leaves out, a
 * scale off 1 at a rate (efficiency curve, bandwidth) it has wrong.  NAN
 * when the points cannot separate the two. */
static json_t *residual_fit(int n, const double *pred, const double *meas)
{
	double sw = 0, sp = 0, spp = 0, sm = 0, smp = 0;
	for (int i = 0; i < n; i++) {
		double w = 1 / (meas[i] * meas[i]);
		sw += w, sp += w * pred[i], spp += w * pred[i] * pred[i], sm += w * meas[i], smp += w * meas[i] * pred[i];
	}
	double det = sw * spp - sp * sp, o = NAN, k = NAN;
	if (n >= 2 && det > 1e-12 * sw * spp) {
		o = (sm * spp - sp * smp) / det;
		k = (sw * smp - sp * sm) / det;
	}
	json_t *f = json_object();
	json_object_set_new(f, "overhead_s", kvw_num(o));
	json_object_set_new(f, "scale", kvw_num(k));
	return f;
}

static json_t *fit_points(const json_t *pts, const char *pred_key, const char *meas_key)
{
	double p[MAX_POINTS], m[MAX_POINTS];
	int n = 0;
	size_t i;
	const json_t *pt;
	json_array_foreach(pts, i, pt) {
		const json_t *a = json_object_get(pt, pred_key), *b = json_object_get(pt, meas_key);
		if (n < MAX_POINTS && json_is_number(a) && json_is_number(b))
			p[n] = json_number_value(a), m[n++] = json_number_value(b);
	}
	return residual_fit(n, p, m);
}

/* times on the shared token grid, and the worst gated error */
static json_t *pair_points(pair_ctx *c, double *max_err)
{
	json_t *pts = json_array();
	*max_err = 0;
	for (int i = 0; i < c->xfer->n; i++) {
		double L = c->xfer->tokens[i], rm = c->rec_at[i];
		double rp = kvw_recompute_s(&c->s->sc, L), tm = c->xfer->seconds[i], tp = kvw_transfer_s(&c->s->sc, L);
		double re = rel_err(rp, rm), te = rel_err(tp, tm);
		json_t *o = json_object();
		json_object_set_new(o, "tokens", json_integer((json_int_t)L));
		json_object_set_new(o, "recompute_measured_s", kvw_num(rm));
		json_object_set_new(o, "recompute_predicted_s", kvw_num(rp));
		json_object_set_new(o, "recompute_error", kvw_num(re));
		json_object_set_new(o, "transfer_measured_s", kvw_num(tm));
		json_object_set_new(o, "transfer_predicted_s", kvw_num(tp));
		json_object_set_new(o, "transfer_error", kvw_num(te));
		json_array_append_new(pts, o);
		if (L < KVW_VALIDATE_GATED_FROM)
			continue;
		if (fabs(re) > *max_err)
			*max_err = fabs(re);
		if (fabs(te) > *max_err)
			*max_err = fabs(te);
		if (fabs(re) > c->tolerance)
			miss(c, "recompute at %.0f tokens off by %+.1f%%", L, 100 * re);
		if (fabs(te) > c->tolerance)
			miss(c, "transfer at %.0f tokens off by %+.1f%%", L, 100 * te);
	}
	return pts;
}

/* L*: the measured crossings of recompute and transfer on the grid where
 * both were measured, against the model's over the same range */
static json_t *pair_crossover(pair_ctx *c, json_t *o, kvw_crossover *meas)
{
	int n = c->xfer->n;
	const double *L = c->xfer->tokens;
	kvw_crossover pred;
	kvw_crossover_sampled(n, L, c->rec_at, c->xfer->seconds, meas);
	kvw_crossover_find(&c->s->sc, L[0], L[n - 1], &pred);
	json_object_set_new(o, "measured", regime_json(meas));
	json_object_set_new(o, "predicted", regime_json(&pred));
	double worst = 0;
	if (meas->regime != pred.regime || meas->n_roots != pred.n_roots) {
		c->pass = false;
		if (!c->why[0])
			snprintf(c->why, sizeof c->why, "measured %s, predicted %s", kvw_regime_name(meas->regime),
			         kvw_regime_name(pred.regime));
		worst = NAN;
	} else {
		for (int i = 0; i < meas->n_roots; i++) {
			double e = rel_err(pred.roots[i], meas->roots[i]);
			worst = fabs(e) > fabs(worst) ? e : worst; /* signed, the largest in size */
			if (fabs(e) > c->tolerance)
				miss(c, "L* %.0f measured, predicted off by %+.1f%%", meas->roots[i], 100 * e);
		}
	}
	return kvw_num(meas->n_roots > 0 || isnan(worst) ? worst : NAN);
}

static kvw_err pair_splits(pair_ctx *c, const json_t *splits, const char *where, json_t **out, kvw_diag *d)
{
	*out = json_array();
	size_t i;
	const json_t *sp;
	json_array_foreach(splits, i, sp) {
		const char *path = str_field(sp, "path");
		if (!path || strcmp(path, c->path) != 0)
			continue;
		char at[160];
		snprintf(at, sizeof at, "%s.splits[%zu]", where, i);
		double L, sec, k = 0;
		const json_t *kv = json_object_get(sp, "prefix");
		if (!pos_number(sp, "tokens", &L) || L != floor(L))
			return fail_at(d, at, "'tokens' must be a positive whole number");
		if (!json_is_number(kv) || (k = json_number_value(kv)) < 0 || k > L || k != floor(k))
			return fail_at(d, at, "'prefix' must be a whole number in 0 .. tokens");
		if (!pos_number(sp, "seconds", &sec))
			return fail_at(d, at, "'seconds' must be a positive number");
		double pred = kvw_split_time(&c->s->sc, L, k), e = rel_err(pred, sec);
		json_t *o = json_object();
		json_object_set_new(o, "tokens", json_integer((json_int_t)L));
		json_object_set_new(o, "prefix", json_integer((json_int_t)k));
		json_object_set_new(o, "measured_s", kvw_num(sec));
		json_object_set_new(o, "predicted_s", kvw_num(pred));
		json_object_set_new(o, "error", kvw_num(e));
		json_array_append_new(*out, o);
		if (fabs(e) > c->tolerance)
			miss(c, "split at %.0f tokens off by %+.1f%%", L, 100 * e);
	}
	return KVW_OK;
}

/* Does the document's profile have this link?  links gets its names. */
static bool profile_has_link(const json_t *profile, const char *name, char *links, size_t cap)
{
	bool found = false;
	size_t i, used = 0;
	const json_t *l;
	links[0] = '\0';
	json_array_foreach(json_object_get(profile, "links"), i, l) {
		const char *n = json_string_value(json_object_get(l, "name"));
		found |= n && strcmp(n, name) == 0;
		if (n && used < cap)
			used += (size_t)snprintf(links + used, cap - used, "%s%s", used ? ", " : "", n);
	}
	if (!used)
		snprintf(links, cap, "none");
	return found;
}

static kvw_err analyse_model(const json_t *doc, const json_t *m, const char *where, const kvw_args *a,
                             double tolerance, json_t *pairs, int *with_crossover, bool *pass, kvw_diag *d)
{
	const char *name = str_field(m, "model"), *status = str_field(m, "status");
	if (!name)
		return fail_at(d, where, "'model' must be a non-empty string");
	if (!status || (strcmp(status, "ok") != 0 && strcmp(status, "skipped") != 0))
		return fail_at(d, where, "'status' must be \"ok\" or \"skipped\"");
	if (strcmp(status, "skipped") == 0)
		return KVW_OK;
	series rec;
	char at[200];
	snprintf(at, sizeof at, "%s.recompute", where);
	kvw_err err = read_series(json_object_get(m, "recompute"), at, &rec, d);
	if (err)
		return err;
	const json_t *xfers = json_object_get(m, "transfers"), *splits = json_object_get(m, "splits");
	if (!json_is_array(xfers) || json_array_size(xfers) == 0)
		return fail_at(d, where, "'transfers' must be a non-empty array");
	if (splits && !json_is_array(splits))
		return fail_at(d, where, "'splits' must be an array");
	json_t *profile = kvw_validate_model_profile(doc, m);
	if (!profile)
		return fail_at(d, "document", "'profile' must be a kvwall.profile/1 object");
	kvw_setup *s = malloc(sizeof *s);
	if (!s) {
		json_decref(profile);
		return kvw_fail(d, KVW_ESYS, "out of memory");
	}
	size_t i;
	const json_t *x;
	json_array_foreach(xfers, i, x) {
		snprintf(at, sizeof at, "%s.transfers[%zu]", where, i);
		const char *path = str_field(x, "path"), *link = str_field(x, "profile_link");
		if (!path || !link) {
			err = fail_at(d, at, "'path' and 'profile_link' must be non-empty strings");
			break;
		}
		series xs;
		char pts_at[240];
		snprintf(pts_at, sizeof pts_at, "%s.points", at);
		if ((err = read_series(json_object_get(x, "points"), pts_at, &xs, d)))
			break;
		double rec_at[MAX_POINTS];
		for (int k = 0; k < xs.n && !err; k++) {
			bool found = false;
			for (int j = 0; j < rec.n && !found; j++)
				if ((found = rec.tokens[j] == xs.tokens[k]))
					rec_at[k] = rec.seconds[j];
			if (!found)
				err = kvw_fail(d, KVW_EINPUT, "%s: %.0f tokens has no recompute measurement to compare with", pts_at,
				               xs.tokens[k]);
		}
		if (err)
			break;
		/* the prediction `kvwall crossover --profile` makes: this model, this
		 * profile link, one message per layer (the KV moves layer by layer) */
		kvw_args pa = { .catalog = a->catalog, .model = name, .link = link, .kv_dtype = "bf16", .dtype = "bf16",
		                .tp = 1, .message_tokens = (long)xs.tokens[xs.n - 1] };
		char pwhere[200];
		snprintf(pwhere, sizeof pwhere, "profile of %s", name);
		char links[300];
		if (!profile_has_link(profile, link, links, sizeof links)) {
			err = kvw_fail(d, KVW_EINPUT, "%s: the profile has no link '%s' (its links: %s)", at, link, links);
			break;
		}
		if ((err = kvw_setup_with_profile(&pa, profile, pwhere, s, true, d)))
			break;
		if (!s->profile.has_prefill) {
			err = fail_at(d, where, "no 'prefill' curve: the prediction needs this model's measured prefill");
			break;
		}
		pair_ctx c = { .model = name, .path = path, .link = link, .xfer = &xs, .rec_at = rec_at, .s = s,
		               .tolerance = tolerance, .pass = true };
		json_t *o = json_object(), *sp = NULL;
		json_object_set_new(o, "model", json_string(name));
		json_object_set_new(o, "path", json_string(path));
		json_object_set_new(o, "profile_link", json_string(link));
		char cmd[400];
		snprintf(cmd, sizeof cmd, "kvwall crossover --profile profile-%s.json --model %s --link %s "
		         "--message-tokens %ld --min-ctx %.0f --max-ctx %.0f", name, name, link, pa.message_tokens,
		         xs.tokens[0], xs.tokens[xs.n - 1]);
		json_object_set_new(o, "predict_command", json_string(cmd));
		double max_err;
		json_t *pts = pair_points(&c, &max_err);
		kvw_crossover meas;
		json_object_set_new(o, "crossover_error", pair_crossover(&c, o, &meas));
		*with_crossover += meas.n_roots > 0;
		json_object_set_new(o, "max_time_error", kvw_num(max_err));
		json_object_set_new(o, "recompute_fit", fit_points(pts, "recompute_predicted_s", "recompute_measured_s"));
		json_object_set_new(o, "transfer_fit", fit_points(pts, "transfer_predicted_s", "transfer_measured_s"));
		json_object_set_new(o, "points", pts);
		if (splits && (err = pair_splits(&c, splits, where, &sp, d))) {
			json_decref(sp);
			json_decref(o);
			break;
		}
		json_object_set_new(o, "splits", sp ? sp : json_array());
		json_object_set_new(o, "pass", json_boolean(c.pass));
		json_object_set_new(o, "why", c.why[0] ? json_string(c.why) : json_null());
		json_array_append_new(pairs, o);
		*pass = *pass && c.pass;
	}
	free(s);
	json_decref(profile);
	return err;
}

kvw_err kvw_validate_analyse(json_t *doc, const kvw_args *a, double tolerance, bool *pass, kvw_diag *d)
{
	const char *schema = str_field(doc, "schema");
	if (!json_is_object(doc) || !schema || strcmp(schema, KVW_VALIDATE_SCHEMA) != 0)
		return kvw_fail(d, KVW_EINPUT, "not a validation document (schema must be \"%s\")", KVW_VALIDATE_SCHEMA);
	if (!json_is_object(json_object_get(doc, "profile")))
		return fail_at(d, "document", "'profile' must be a kvwall.profile/1 object");
	const json_t *models = json_object_get(doc, "models");
	if (!json_is_array(models) || json_array_size(models) == 0)
		return fail_at(d, "document", "'models' must be a non-empty array");
	json_t *pairs = json_array();
	int with_crossover = 0;
	*pass = true;
	size_t i;
	const json_t *m;
	json_array_foreach(models, i, m) {
		char where[64];
		snprintf(where, sizeof where, "models[%zu]", i);
		kvw_err err = json_is_object(m) ? analyse_model(doc, m, where, a, tolerance, pairs, &with_crossover, pass, d)
		                                : fail_at(d, where, "must be an object");
		if (err) {
			json_decref(pairs);
			return err;
		}
	}
	if (json_array_size(pairs) == 0) {
		json_decref(pairs);
		return fail_at(d, "document", "every model was skipped: nothing to compare");
	}
	if (with_crossover == 0)
		*pass = false; /* the run must contain at least one crossover to test L* */
	json_t *an = json_object();
	json_object_set_new(an, "tolerance", kvw_num(tolerance));
	json_object_set_new(an, "gated_from_tokens", json_integer(KVW_VALIDATE_GATED_FROM));
	json_object_set_new(an, "pairs", pairs);
	json_object_set_new(an, "pairs_with_crossover", json_integer(with_crossover));
	json_object_set_new(an, "pass", json_boolean(*pass));
	json_object_set_new(doc, "analysis", an);
	return KVW_OK;
}
