/* cmd_sweep.c — kvwall sweep: recompute vs transfer over a context x
 * bandwidth grid (log-spaced both ways), for heatmaps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmds.h"
#include "kvw_model.h"
#include "out.h"
#include "scenario.h"

#define MAX_STEPS 4096
#define MAX_POINTS 1000000
#define DEFAULT_MAX_CTX 131072

static const kvw_opt opts[] = {
	KVW_OPTS_MODEL,
	KVW_OPTS_HARDWARE,
	{ "min-ctx", KVW_OPT_LONG, KVW_ARG(min_ctx), "16", 1, 1L << 24, "smallest context [one 16-token KV block]" },
	{ "max-ctx", KVW_OPT_LONG, KVW_ARG(max_ctx), NULL, 1, 1L << 24, "largest context [the model's window, else 131072]" },
	{ "ctx-steps", KVW_OPT_LONG, KVW_ARG(ctx_steps), "11", 1, MAX_STEPS, "contexts, log-spaced" },
	{ "bw-min", KVW_OPT_DBL, KVW_ARG(bw_min), "1", 1e-6, 1e6, "lowest bandwidth, GB/s" },
	{ "bw-max", KVW_OPT_DBL, KVW_ARG(bw_max), "1000", 1e-6, 1e6, "highest bandwidth, GB/s" },
	{ "bw-steps", KVW_OPT_LONG, KVW_ARG(bw_steps), "13", 1, MAX_STEPS, "bandwidths, log-spaced" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static double log_step(double lo, double hi, long i, long n)
{
	return n == 1 ? lo : lo * pow(hi / lo, (double)i / (double)(n - 1));
}

static kvw_err run(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if ((kvw_opts_seen(a, "max-ctx") && a->min_ctx > a->max_ctx) || a->bw_min > a->bw_max)
		return kvw_fail(d, KVW_EUSAGE, "sweep ranges must have min <= max");
	if (a->ctx_steps * a->bw_steps > MAX_POINTS)
		return kvw_fail(d, KVW_EUSAGE, "a grid of %ld x %ld points is above %d", a->ctx_steps, a->bw_steps, MAX_POINTS);
	if (a->gbps > 0)
		return kvw_fail(d, KVW_EUSAGE, "sweep varies the bandwidth: use --bw-min/--bw-max, not --gbps");
	kvw_setup *s = calloc(1, sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_out o;
	kvw_out_init(&o, "kvwall.sweep/1");
	kvw_err err = kvw_setup_full(a, s, false, d);
	if (err)
		goto out;
	long max_ctx = kvw_opts_seen(a, "max-ctx") ? a->max_ctx : s->arch.max_position > 0 ? s->arch.max_position
	               : DEFAULT_MAX_CTX;
	if (a->min_ctx > max_ctx) {
		err = kvw_fail(d, KVW_EUSAGE, "--min-ctx %ld is above the model's window %ld", a->min_ctx, max_ctx);
		goto out;
	}
	snprintf(o.title, sizeof o.title, "Recompute vs transfer grid: %s", s->arch.name);
	kvw_setup_describe(s, &o, false);
	kvw_out_field(&o, "alpha_us", "link latency (alpha)", "%.4g us", kvw_num(s->sc.link.alpha_s * 1e6));
	kvw_out_field(&o, "min_ctx", "contexts from", NULL, json_integer(a->min_ctx));
	kvw_out_field(&o, "max_ctx", "contexts to", NULL, json_integer(max_ctx));
	kvw_out_note(&o, "bandwidth in GB/s (1e9 B/s), the link's achieved bandwidth; alpha from %s",
	             s->link_name[0] ? s->link_source : "none (0)");
	kvw_out_table(&o, "rows");
	kvw_out_col(&o, "ctx", "ctx", NULL);
	kvw_out_col(&o, "bandwidth_gbps", "GB/s", "%.4g");
	kvw_out_col(&o, "recompute_s", "recompute s", "%.4g");
	kvw_out_col(&o, "transfer_s", "transfer s", "%.4g");
	kvw_out_col(&o, "winner", "winner", NULL);
	for (long i = 0; i < a->ctx_steps; i++) {
		double L = round(log_step((double)a->min_ctx, (double)max_ctx, i, a->ctx_steps));
		double r = kvw_recompute_s(&s->sc, L);
		for (long j = 0; j < a->bw_steps; j++) {
			double bw = log_step(a->bw_min, a->bw_max, j, a->bw_steps);
			s->sc.link.bw = bw * 1e9;
			double t = kvw_transfer_s(&s->sc, L);
			json_t *row[] = { json_integer((json_int_t)L), kvw_num(bw), kvw_num(r), kvw_num(t),
			                  json_string(r < t ? "recompute" : "transfer") };
			kvw_out_row(&o, row);
		}
	}
	err = kvw_out_emit(&o, a, argc, argv, d);
out:
	kvw_out_free(&o);
	free(s);
	return err;
}

const kvw_cmd kvw_cmd_sweep = {
	"sweep", "--model M (--hw NAME | --profile FILE | --tflops X) [--link NAME] [--csv]",
	"recompute and transfer times over a context x bandwidth grid (CSV for heatmaps)",
	opts, 0, run,
};
