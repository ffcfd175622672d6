/* metrics.c — profile.json and Google Benchmark JSON -> metric sets
 * (see metrics.h). */
#include "metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_config.h"
#include "record.h"

/* A number the gate may score: finite and positive. */
static bool scoreable(const json_t *v)
{
	return json_is_number(v) && isfinite(json_number_value(v)) && json_number_value(v) > 0;
}

static kvw_err add(kvw_metricset *s, const char *name, double value, double spread, bool higher, kvw_diag *d)
{
	if (!isfinite(value))
		return KVW_OK;
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 32;
		kvw_metric *m = realloc(s->m, (size_t)cap * sizeof *m);
		if (!m)
			return kvw_fail(d, KVW_ESYS, "out of memory");
		s->m = m;
		s->cap = cap;
	}
	kvw_metric *m = &s->m[s->n++];
	snprintf(m->name, sizeof m->name, "%s", name);
	m->value = value;
	m->rel_spread = isfinite(spread) && spread > 0 ? spread : 0;
	m->higher_better = higher;
	return KVW_OK;
}

static const char *str_or(const json_t *j, const char *dflt)
{
	const char *s = json_string_value(j);
	return s ? s : dflt;
}

static const char *run_name(const json_t *b)
{
	const char *rn = json_string_value(json_object_get(b, "run_name"));
	return rn ? rn : json_string_value(json_object_get(b, "name"));
}

static void profile_hardware(const json_t *root, char *out, size_t cap)
{
	const json_t *host = json_object_get(root, "host"), *gpus = json_object_get(host, "gpus");
	size_t used = (size_t)snprintf(out, cap, "cpu %s x%lld",
	                               str_or(json_object_get(host, "cpu"), "?"),
	                               (long long)json_integer_value(json_object_get(host, "logical_cpus")));
	size_t i;
	const json_t *g;
	json_array_foreach(gpus, i, g) {
		if (used >= cap)
			break;
		used += (size_t)snprintf(out + used, cap - used, "; gpu %s driver %s",
		                         str_or(json_object_get(g, "name"), "?"),
		                         str_or(json_object_get(g, "driver"), str_or(json_object_get(g, "driver_cuda"), "?")));
	}
}

static kvw_err from_profile(const json_t *root, kvw_metricset *s, kvw_diag *d)
{
	snprintf(s->kind, sizeof s->kind, "kvwall.profile/1");
	profile_hardware(root, s->hardware, sizeof s->hardware);
	size_t i;
	const json_t *j;
	json_array_foreach(json_object_get(root, "results"), i, j) {
		kvw_record r;
		if (kvw_record_from_json(j, &r, d)) {
			char where[32];
			snprintf(where, sizeof where, "results[%zu]", i);
			return kvw_prefix(d, KVW_EINPUT, where);
		}
		if (r.status != KVW_ST_OK)
			continue;
		char name[192];
		double spread = r.time_s.stddev / r.time_s.median;
		kvw_err err = KVW_OK;
		if (isfinite(r.gbps)) {
			snprintf(name, sizeof name, "%s/%s:gbps", r.probe, r.variant);
			err = add(s, name, r.gbps, spread, true, d);
		}
		if (!err && isfinite(r.tflops)) {
			snprintf(name, sizeof name, "%s/%s:tflops", r.probe, r.variant);
			err = add(s, name, r.tflops, spread, true, d);
		}
		if (!err && !isfinite(r.gbps) && !isfinite(r.tflops)) {
			snprintf(name, sizeof name, "%s/%s:time_s", r.probe, r.variant);
			err = add(s, name, r.time_s.median, spread, false, d);
		}
		if (err)
			return err;
	}
	json_array_foreach(json_object_get(root, "links"), i, j) {
		const char *ln = json_string_value(json_object_get(j, "name"));
		const json_t *bw = json_object_get(j, "bandwidth_GBps");
		if (!ln || !scoreable(bw))
			return kvw_fail(d, KVW_EINPUT, "links[%zu] needs \"name\" and a positive \"bandwidth_GBps\"", i);
		char name[192];
		snprintf(name, sizeof name, "link/%s:bandwidth_GBps", ln);
		kvw_err err = add(s, name, json_number_value(bw), 0, true, d);
		if (err)
			return err;
	}
	return KVW_OK;
}

/* Google Benchmark's time units (benchmark.h TimeUnit); 0: unknown */
static double unit_seconds(const char *unit)
{
	static const struct { const char *name; double s; } units[] = {
		{ "ns", 1e-9 }, { "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1.0 },
	};
	for (size_t i = 0; unit && i < sizeof units / sizeof units[0]; i++)
		if (strcmp(unit, units[i].name) == 0)
			return units[i].s;
	return 0;
}


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One Google Benchmark group (all entries with this run_name). */
static kvw_err gbench_group(const json_t *benches, const char *run, kvw_metricset *s, kvw_diag *d)
{
	double samples[1024], agg_median = NAN, agg_stddev = NAN, bps = NAN;
	int n = 0;
	size_t i;
	const json_t *b;
	json_array_foreach(benches, i, b) {
		const char *rn = run_name(b);
		if (!rn || strcmp(rn, run) != 0)
			continue;
		const json_t *rt = json_object_get(b, "real_time"), *tu = json_object_get(b, "time_unit");
		const char *type = json_string_value(json_object_get(b, "run_type"));
		const char *agg = json_string_value(json_object_get(b, "aggregate_name"));
		const json_t *by = json_object_get(b, "bytes_per_second");
		bool spread = agg && strcmp(agg, "median") && strcmp(agg, "mean"); /* stddev, cv, min...: may be 0 */
		if (!json_is_number(rt))
			return kvw_fail(d, KVW_EINPUT, "benchmark '%s' has no real_time", run);
		if (!isfinite(json_number_value(rt)) || json_number_value(rt) < 0 || (!spread && !scoreable(rt)))
			return kvw_fail(d, KVW_EINPUT, "benchmark '%s': real_time %g must be a positive number", run,
			                json_number_value(rt));
		if (!(unit_seconds(json_string_value(tu)) > 0))
			return kvw_fail(d, KVW_EINPUT, "benchmark '%s': time_unit '%s' is not ns, us, ms or s", run,
			                json_is_string(tu) ? json_string_value(tu) : "(missing)");
		if (by && !json_is_null(by) && !scoreable(by))
			return kvw_fail(d, KVW_EINPUT, "benchmark '%s': bytes_per_second must be a positive number", run);
		double t = json_number_value(rt) * unit_seconds(json_string_value(tu));
		if (type && strcmp(type, "aggregate") == 0 && agg) {
			if (strcmp(agg, "median") == 0) {
				agg_median = t;
				if (json_is_number(by))
					bps = json_number_value(by);
			} else if (strcmp(agg, "stddev") == 0) {
				agg_stddev = t;
			}
		} else if (n < 1024) {
			samples[n++] = t;
			if (json_is_number(by) && !isfinite(bps))
				bps = json_number_value(by);
		}
	}
	double median = agg_median, stddev = agg_stddev;
	if (!isfinite(median) && n > 0) {
		qsort(samples, (size_t)n, sizeof samples[0], cmp_double);
		median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
		double mean = 0, ss = 0;
		for (int k = 0; k < n; k++)
			mean += samples[k] / n;
		for (int k = 0; k < n; k++)
			ss += (samples[k] - mean) * (samples[k] - mean);
		stddev = n > 1 ? sqrt(ss / (n - 1)) : 0;
	}
	char name[192];
	if (isfinite(bps)) {
		snprintf(name, sizeof name, "%s:bytes_per_second", run);
		return add(s, name, bps, stddev / median, true, d);
	}
	snprintf(name, sizeof name, "%s:real_time_s", run);
	return add(s, name, median, stddev / median, false, d);
}

static kvw_err from_gbench(const json_t *root, kvw_metricset *s, kvw_diag *d)
{
	snprintf(s->kind, sizeof s->kind, "gbench");
	const json_t *ctx = json_object_get(root, "context"), *benches = json_object_get(root, "benchmarks");
	snprintf(s->hardware, sizeof s->hardware, "cpus %lld",
	         (long long)json_integer_value(json_object_get(ctx, "num_cpus")));
	size_t i;
	const json_t *b;
	json_array_foreach(benches, i, b) {
		const char *rn = run_name(b);
		if (!rn)
			return kvw_fail(d, KVW_EINPUT, "benchmarks[%zu] has no name", i);
		char done[2][192];
		snprintf(done[0], sizeof done[0], "%s:bytes_per_second", rn);
		snprintf(done[1], sizeof done[1], "%s:real_time_s", rn);
		bool seen = kvw_metrics_find(s, done[0]) || kvw_metrics_find(s, done[1]);
		kvw_err err = seen ? KVW_OK : gbench_group(benches, rn, s, d);
		if (err)
			return err;
	}
	return KVW_OK;
}

kvw_err kvw_metrics_parse(const json_t *root, kvw_metricset *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	const char *schema = json_string_value(json_object_get(root, "schema"));
	kvw_err err;
	if (schema && strcmp(schema, "kvwall.profile/1") == 0)
		err = from_profile(root, out, d);
	else if (json_is_array(json_object_get(root, "benchmarks")))
		err = from_gbench(root, out, d);
	else
		err = kvw_fail(d, KVW_EINPUT, "neither a kvwall.profile/1 nor a Google Benchmark JSON file");
	if (err)
		kvw_metrics_free(out);
	return err;
}

kvw_err kvw_metrics_load(const char *path, kvw_metricset *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	json_t *root;
	kvw_err err = kvw_read_json(path, 1u << 26, &root, d);
	if (err)
		return err;
	err = kvw_metrics_parse(root, out, d);
	json_decref(root);
	return err ? kvw_prefix(d, err, path) : KVW_OK;
}

void kvw_metrics_free(kvw_metricset *s)
{
	if (!s)
		return;
	free(s->m);
	s->m = NULL;
	s->n = s->cap = 0;
}

const kvw_metric *kvw_metrics_find(const kvw_metricset *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->m[i].name, name) == 0)
			return &s->m[i];
	return NULL;
}
