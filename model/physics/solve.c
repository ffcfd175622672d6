/* solve.c — crossover context, bandwidth threshold, partial split.
 *
 * Recompute grows like a L + b L^2 (linear layers, causal attention) and
 * bulk transfer like alpha + k L, so recompute can win only at short
 * contexts (where alpha dominates, or where a token's KV takes longer to
 * send than its linear FLOPs take to compute); the quadratic term makes
 * transfer win beyond a crossover L*.  Measured prefill curves and sliding
 * windows bend both curves, so the solver does not assume one root: it
 * scans a log-spaced grid for sign changes of recompute - transfer and
 * bisects each bracket to below a tenth of a token.
 */
#include "kvw_model.h"

#include <math.h>

#define SCAN_POINTS 1024
#define SPLIT_POINTS 1024

const char *kvw_regime_name(kvw_regime r)
{
	switch (r) {
	case KVW_TRANSFER_ALWAYS: return "transfer_always_wins";
	case KVW_RECOMPUTE_ALWAYS: return "recompute_always_wins";
	case KVW_RECOMPUTE_BELOW: return "recompute_below_crossover";
	case KVW_TRANSFER_BELOW: return "transfer_below_crossover";
	case KVW_MULTIPLE: return "multiple_crossovers";
	}
	return "?";
}

/* s0: who wins at the low end (-1 recompute, +1 transfer); changes: how
 * often the winner flips over the range */
static kvw_regime regime_of(int s0, int changes)
{
	if (changes == 0)
		return s0 < 0 ? KVW_RECOMPUTE_ALWAYS : KVW_TRANSFER_ALWAYS;
	if (changes == 1)
		return s0 < 0 ? KVW_RECOMPUTE_BELOW : KVW_TRANSFER_BELOW;
	return KVW_MULTIPLE;
}

/* -1: recompute strictly faster; +1: transfer as fast or faster */
static int winner(const kvw_scenario *s, double L)
{
	return kvw_recompute_s(s, L) < kvw_transfer_s(s, L) ? -1 : 1;
}

static double bisect(const kvw_scenario *s, double a, double b, int sa)
{
	while (b - a > 0.1 && b - a > 1e-12 * b) {
		double m = 0.5 * (a + b);
		if (winner(s, m) == sa)
			a = m;
		else
			b = m;
	}
	return 0.5 * (a + b);
}

void kvw_crossover_find(const kvw_scenario *s, double lo, double hi, kvw_crossover *out)
{
	out->lo = lo;
	out->hi = hi;
	out->n_roots = 0;
	out->block = out->latency_bound_below = 0;
	double step = log(hi / lo) / (SCAN_POINTS - 1), prev = lo;
	int s0 = winner(s, lo), sp = s0, changes = 0;
	for (int i = 1; i < SCAN_POINTS; i++) {
		double L = i == SCAN_POINTS - 1 ? hi : lo * exp(step * i);
		int si = winner(s, L);
		if (si != sp) {
			if (out->n_roots < KVW_MAX_ROOTS)
				out->roots[out->n_roots++] = bisect(s, prev, L, sp);
			changes++;
		}
		sp = si;
		prev = L;
	}
	out->regime = regime_of(s0, changes);
}

void kvw_crossover_handoff(const kvw_scenario *s, double lo, double hi, double block, kvw_crossover *out)
{
	if (!(block > lo) || !(hi > block)) {
		kvw_crossover_find(s, lo, hi, out);
		out->block = block;
		out->latency_bound_below = 0;
		return;
	}
	kvw_crossover low;
	kvw_crossover_find(s, lo, block, &low);
	kvw_crossover_find(s, block, hi, out);
	out->lo = lo;
	out->block = block;
	out->latency_bound_below = 0;
	/* recompute won at lo, and transfer wins again at one block */
	if (low.n_roots > 0 && winner(s, lo) < 0 && winner(s, block) > 0)
		out->latency_bound_below = low.roots[low.n_roots - 1];
}

/* Bulk: transfer(B) = o + V / B = recompute  =>  B* = V / (recompute - o),
 * o the messages' fixed cost. 
 * Layer-wise: the exposed time falls monotonically with B; bisect log B. */
double kvw_bandwidth_threshold(const kvw_scenario *s, double L)
{
	double r = kvw_recompute_s(s, L);
	if (!s->layerwise) {
		double room = r - kvw_transfer_overhead_s(s, L);
		return room > 0 ? kvw_kv_bytes(s->arch, &s->kv, L) / room : INFINITY;
	}
	kvw_scenario t = *s;
	double lo = 1.0, hi = 1e18;
	t.link.bw = hi;
	if (kvw_transfer_s(&t, L) >= r)
		return INFINITY;
	t.link.bw = lo;
	if (kvw_transfer_s(&t, L) <= r)
		return lo;
	while (hi / lo > 1 + 1e-9) {
		double m = sqrt(lo * hi);
		t.link.bw = m;
		if (kvw_transfer_s(&t, L) > r)
			lo = m;
		else
			hi = m;
	}
	return sqrt(lo * hi);
}

double kvw_split_time(const kvw_scenario *s, double L, double k)
{
	kvw_scenario bulk = *s;
	bulk.layerwise = false;
	if (k <= 0)
		return kvw_transfer_s(&bulk, L);
	if (k >= L)
		return kvw_recompute_s(s, L);
	return fmax(kvw_recompute_s(s, k) * s->compute_slowdown,
	            kvw_transfer_s(&bulk, L - k) * s->copy_slowdown);
}

/* A coarse even grid over k finds the best cell; the integers of the two
 * cells around it are then tried one by one. */
void kvw_split_best(const kvw_scenario *s, long L, kvw_split *out)
{
	kvw_scenario bulk = *s;
	bulk.layerwise = false;
	*out = (kvw_split){ 0 };
	if (L < 1)
		return;
	long best = 0;
	double best_t = kvw_split_time(s, (double)L, 0);
	int n = L < SPLIT_POINTS ? (int)L : SPLIT_POINTS;
	for (int i = 1; i <= n; i++) {
		long k = (long)((double)L * i / n);
		double t = kvw_split_time(s, (double)L, (double)k);
		if (t < best_t) {
			best_t = t;
			best = k;
		}
	}
	long cell = L / n + 1;
	long a = best - cell > 0 ? best - cell : 0, b = best + cell < L ? best + cell : L;
	for (long k = a; k <= b; k++) {
		double t = kvw_split_time(s, (double)L, (double)k);
		if (t < best_t) {
			best_t = t;
			best = k;
		}
	}
	out->best_prefix = best;
	out->split_s = best_t;
	out->recompute_s = kvw_recompute_s(s, (double)L);
	out->transfer_s = kvw_transfer_s(&bulk, (double)L);
}

/* Sampled curves: between neighbouring samples where the sign of
 * log(r / t) changes, the root of log(r / t), linear in log L.  Both
 * curves are close to power laws between samples, so this is exact for
 * pure power laws and within a few percent of a token count otherwise. */
void kvw_crossover_sampled(int n, const double *tokens, const double *r, const double *t, kvw_crossover *out)
{
	out->n_roots = 0;
	out->block = out->latency_bound_below = 0;
	out->lo = n > 0 ? tokens[0] : 0;
	out->hi = n > 0 ? tokens[n - 1] : 0;
	out->regime = KVW_TRANSFER_ALWAYS;
	if (n < 1)
		return;
	int s0 = r[0] < t[0] ? -1 : 1, sp = s0, changes = 0;
	for (int i = 1; i < n; i++) {
		int si = r[i] < t[i] ? -1 : 1;
		if (si != sp) {
			double f0 = log(r[i - 1] / t[i - 1]), f1 = log(r[i] / t[i]);
			double x0 = log(tokens[i - 1]), x1 = log(tokens[i]);
			double x = f1 != f0 ? x0 + (x1 - x0) * f0 / (f0 - f1) : 0.5 * (x0 + x1);
			if (out->n_roots < KVW_MAX_ROOTS)
				out->roots[out->n_roots++] = exp(x);
			changes++;
		}
		sp = si;
	}
	out->regime = regime_of(s0, changes);
}
