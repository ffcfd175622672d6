/* kvw_synth.h — synthetic workloads, seeded and pure (no I/O): arrivals as
 * a Poisson process or, bursty, with gamma-distributed gaps of a given
 * coefficient of variation (CV 1 is Poisson; CV > 1 bursts, CV < 1 is more
 * regular), and prompt / output lengths fixed, uniform or lognormal.  The
 * same seed gives the same workload on every machine: the generator is
 * xoshiro256** seeded through splitmix64 (Blackman and Vigna), and the
 * transforms (Box-Muller, Marsaglia-Tsang gamma) use only libm.
 */
#ifndef KVW_SYNTH_H
#define KVW_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "kvw_err.h"
#include "kvw_workload.h"

typedef enum kvw_len_kind { KVW_LEN_FIXED, KVW_LEN_UNIFORM, KVW_LEN_LOGNORMAL } kvw_len_kind;

/* fixed: a tokens; uniform: integers in [a, b]; lognormal: mean a, CV b */
typedef struct kvw_len_dist {
	kvw_len_kind kind;
	double a, b;
} kvw_len_dist;

typedef struct kvw_synth {
	size_t n;           /* requests */
	double rate;        /* requests per second, > 0 */
	double cv;          /* of the inter-arrival gaps; 1 (or 0): Poisson */
	kvw_len_dist isl, osl;
	uint64_t seed;
	long max_tokens;    /* lengths are clamped to [1, max_tokens] */
} kvw_synth;

typedef struct kvw_rng {
	uint64_t s[4];
} kvw_rng;

void kvw_rng_seed(kvw_rng *g, uint64_t seed);
uint64_t kvw_rng_next(kvw_rng *g);
double kvw_rng_uniform(kvw_rng *g);      /* (0, 1) */
double kvw_rng_normal(kvw_rng *g);
double kvw_rng_gamma(kvw_rng *g, double shape); /* scale 1 */

/* Checks a length distribution (positive, a <= b, CV >= 0); why on failure. */
kvw_err kvw_len_check(const kvw_len_dist *l, const char *what, kvw_diag *d);

/* Fills *out with s->n requests (arrivals from 0); KVW_EUSAGE for bad
 * parameters, KVW_ESYS without memory.  Free with kvw_workload_free. */
kvw_err kvw_synth_make(const kvw_synth *s, kvw_workload *out, kvw_diag *d);

#endif
