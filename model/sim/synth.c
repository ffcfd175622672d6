/* synth.c — synthetic workloads (kvw_synth.h). */
#include "kvw_synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void kvw_rng_seed(kvw_rng *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t kvw_rng_next(kvw_rng *g)
{
	uint64_t *s = g->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double kvw_rng_uniform(kvw_rng *g)
{
	return ((double)(kvw_rng_next(g) >> 11) + 0.5) * 0x1.0p-53;
}

double kvw_rng_normal(kvw_rng *g)
{
	double u = kvw_rng_uniform(g), v = kvw_rng_uniform(g);
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Marsaglia and Tsang (2000); shape < 1 through gamma(shape + 1) U^(1/shape) */
double kvw_rng_gamma(kvw_rng *g, double shape)
{
	if (shape < 1)
		return kvw_rng_gamma(g, shape + 1) * pow(kvw_rng_uniform(g), 1.0 / shape);
	double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x = kvw_rng_normal(g), v = 1 + c * x;
		if (v <= 0)
			continue;
		v = v * v * v;
		double u = kvw_rng_uniform(g);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

kvw_err kvw_len_check(const kvw_len_dist *l, const char *what, kvw_diag *d)
{
	if (!(l->a >= 1) || !isfinite(l->a))
		return kvw_fail(d, KVW_EUSAGE, "%s: %g is not a token count >= 1", what, l->a);
	if (l->kind == KVW_LEN_UNIFORM && !(l->b >= l->a && isfinite(l->b)))
		return kvw_fail(d, KVW_EUSAGE, "%s: uniform needs MIN <= MAX (got %g, %g)", what, l->a, l->b);
	if (l->kind == KVW_LEN_LOGNORMAL && !(l->b >= 0 && l->b <= 100))
		return kvw_fail(d, KVW_EUSAGE, "%s: lognormal CV %g is outside [0, 100]", what, l->b);
	return KVW_OK;
}

static long draw_len(kvw_rng *g, const kvw_len_dist *l, long max)
{
	double x = l->a;
	if (l->kind == KVW_LEN_UNIFORM)
		x = floor(l->a + kvw_rng_uniform(g) * (l->b - l->a + 1));
	else if (l->kind == KVW_LEN_LOGNORMAL && l->b > 0) {
		double s2 = log(1 + l->b * l->b), mu = log(l->a) - s2 / 2;
		x = exp(mu + sqrt(s2) * kvw_rng_normal(g));
	}
	long v = lround(x);
	return v < 1 ? 1 : v > max ? max : v;
}

/* one gap of a renewal process with mean 1 / rate and the given CV */
static double draw_gap(kvw_rng *g, double rate, double cv)
{
	if (cv <= 0 || fabs(cv - 1) < 1e-12)
		return -log(kvw_rng_uniform(g)) / rate;
	double shape = 1 / (cv * cv);
	return kvw_rng_gamma(g, shape) / (shape * rate);
}

kvw_err kvw_synth_make(const kvw_synth *s, kvw_workload *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	kvw_err err;
	if (s->n < 1 || s->n > 100000000)
		return kvw_fail(d, KVW_EUSAGE, "synthetic workload: %zu requests is outside [1, 1e8]", s->n);
	if (!(s->rate > 0) || !isfinite(s->rate))
		return kvw_fail(d, KVW_EUSAGE, "synthetic workload: rate %g is not a positive number", s->rate);
	if (!(s->cv >= 0 && s->cv <= 100))
		return kvw_fail(d, KVW_EUSAGE, "synthetic workload: CV %g is outside [0, 100]", s->cv);
	if ((err = kvw_len_check(&s->isl, "input length", d)) || (err = kvw_len_check(&s->osl, "output length", d)))
		return err;
	out->req = calloc(s->n, sizeof *out->req);
	if (!out->req)
		return kvw_fail(d, KVW_ESYS, "out of memory for %zu synthetic requests", s->n);
	kvw_rng g;
	kvw_rng_seed(&g, s->seed);
	long max = s->max_tokens > 0 ? s->max_tokens : 10000000L;
	double t = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			t += draw_gap(&g, s->rate, s->cv);
		out->req[i].arrival_s = t;
		out->req[i].input_tokens = draw_len(&g, &s->isl, max);
		out->req[i].output_tokens = draw_len(&g, &s->osl, max);
	}
	out->n = s->n;
	snprintf(out->name, sizeof out->name, "synthetic %zu requests, %.4g req/s (CV %.3g), seed %llu", s->n, s->rate,
	         s->cv > 0 ? s->cv : 1.0, (unsigned long long)s->seed);
	return KVW_OK;
}
