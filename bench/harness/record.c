/* record.c — result records to and from JSON (see record.h). */
#include "record.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "out.h"

static const char *const status_names[] = {
	[KVW_ST_OK] = "ok", [KVW_ST_SKIPPED] = "skipped", [KVW_ST_FAILED] = "failed",
};

const char *kvw_status_name(kvw_status s)
{
	return (unsigned)s <= KVW_ST_FAILED ? status_names[s] : "?";
}

json_t *kvw_record_to_json(const kvw_record *r)
{
	json_t *j = json_object(), *t = json_object(), *v = json_object();
	json_object_set_new(j, "probe", json_string(r->probe));
	json_object_set_new(j, "variant", json_string(r->variant));
	json_object_set_new(j, "bytes", r->bytes > 0 ? json_real(r->bytes) : json_null());
	json_object_set_new(j, "iterations", json_integer(r->iterations));
	json_object_set_new(j, "repetitions", json_integer(r->repetitions));
	const double *ts = &r->time_s.min;
	const char *tk[] = { "min", "median", "p90", "max", "stddev" };
	for (int i = 0; i < 5; i++)
		json_object_set_new(t, tk[i], r->status == KVW_ST_OK ? kvw_num(ts[i]) : json_null());
	json_object_set_new(j, "time_s", t);
	json_object_set_new(j, "gbps", kvw_num(r->gbps));
	json_object_set_new(j, "tflops", kvw_num(r->tflops));
	json_object_set_new(v, "checked", json_integer(r->checked));
	json_object_set_new(v, "wrong", json_integer(r->wrong));
	json_object_set_new(j, "verify", v);
	json_object_set_new(j, "status", json_string(kvw_status_name(r->status)));
	json_object_set_new(j, "reason", r->reason[0] ? json_string(r->reason) : json_null());
	return j;
}

/* number or null (-> NAN); anything else is an error */
static kvw_err opt_num(const json_t *o, const char *key, double *out, kvw_diag *d)
{
	const json_t *v = json_object_get(o, key);
	*out = NAN;
	if (!v || json_is_null(v))
		return KVW_OK;
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return kvw_fail(d, KVW_EINPUT, "result field '%s' must be a number or null", key);
	*out = json_number_value(v);
	return KVW_OK;
}

static kvw_err str_to(const json_t *o, const char *key, char *out, size_t cap, bool required, kvw_diag *d)
{
	const json_t *v = json_object_get(o, key);
	if ((!v || json_is_null(v)) && !required)
		return KVW_OK;
	if (!json_is_string(v))
		return kvw_fail(d, KVW_EINPUT, "result field '%s' must be a string", key);
	snprintf(out, cap, "%s", json_string_value(v));
	return KVW_OK;
}

kvw_err kvw_record_from_json(const json_t *j, kvw_record *r, kvw_diag *d)
{
	memset(r, 0, sizeof *r);
	if (!json_is_object(j))
		return kvw_fail(d, KVW_EINPUT, "a result must be a JSON object");
	char status[16] = "";
	kvw_err err;
	if ((err = str_to(j, "probe", r->probe, sizeof r->probe, true, d))
	    || (err = str_to(j, "variant", r->variant, sizeof r->variant, false, d))
	    || (err = str_to(j, "status", status, sizeof status, true, d))
	    || (err = str_to(j, "reason", r->reason, sizeof r->reason, false, d))
	    || (err = opt_num(j, "bytes", &r->bytes, d))
	    || (err = opt_num(j, "gbps", &r->gbps, d))
	    || (err = opt_num(j, "tflops", &r->tflops, d)))
		return err;
	if (isnan(r->bytes))
		r->bytes = 0;
	/* a rate is positive when there is one; sizes and spreads are not negative */
	if (!isnan(r->gbps) && !(r->gbps > 0))
		return kvw_fail(d, KVW_EINPUT, "result '%s' %s: gbps %g must be positive (or null)", r->probe, r->variant,
		                r->gbps);
	if (!isnan(r->tflops) && !(r->tflops > 0))
		return kvw_fail(d, KVW_EINPUT, "result '%s' %s: tflops %g must be positive (or null)", r->probe,
		                r->variant, r->tflops);
	if (r->bytes < 0)
		return kvw_fail(d, KVW_EINPUT, "result '%s' %s: bytes %g must not be negative", r->probe, r->variant,
		                r->bytes);
	int s;
	for (s = 0; s <= KVW_ST_FAILED && strcmp(status, status_names[s]); s++)
		;
	if (s > KVW_ST_FAILED)
		return kvw_fail(d, KVW_EINPUT, "result '%s': status '%s' is not ok, skipped or failed",
		                r->probe, status);
	r->status = (kvw_status)s;
	if (r->status != KVW_ST_OK && !r->reason[0])
		return kvw_fail(d, KVW_EINPUT, "result '%s' is %s without a reason", r->probe, status);
	const json_t *t = json_object_get(j, "time_s"), *v = json_object_get(j, "verify");
	const char *tk[] = { "min", "median", "p90", "max", "stddev" };
	double *ts = &r->time_s.min;
	if (t && !json_is_null(t) && !json_is_object(t))
		return kvw_fail(d, KVW_EINPUT, "result '%s' %s: time_s must be an object or null", r->probe, r->variant);
	for (int i = 0; i < 5; i++) {
		if (json_is_object(t) && (err = opt_num(t, tk[i], &ts[i], d)))
			return err;
		else if (!json_is_object(t))
			ts[i] = NAN;
		if (ts[i] < 0)
			return kvw_fail(d, KVW_EINPUT, "result '%s' %s: time_s.%s %g must not be negative", r->probe,
			                r->variant, tk[i], ts[i]);
	}
	if (r->status == KVW_ST_OK && !(r->time_s.median > 0))
		return kvw_fail(d, KVW_EINPUT, "result '%s' is ok without a positive time_s.median", r->probe);
	json_int_t it = json_integer_value(json_object_get(j, "iterations"));
	json_int_t rep = json_integer_value(json_object_get(j, "repetitions"));
	r->iterations = (long)it;
	r->repetitions = (long)rep;
	if (json_is_object(v)) {
		r->checked = json_integer_value(json_object_get(v, "checked"));
		r->wrong = json_integer_value(json_object_get(v, "wrong"));
	}
	if (r->iterations < 0 || r->repetitions < 0 || r->checked < 0 || r->wrong < 0 || r->wrong > r->checked)
		return kvw_fail(d, KVW_EINPUT, "result '%s': negative counts or more wrong than checked", r->probe);
	return KVW_OK;
}
