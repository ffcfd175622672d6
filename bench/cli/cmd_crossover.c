/* cmd_crossover.c — kvwall crossover and kvwall split: transfer the KV
 * cache or recompute it, and the best mix of the two. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmds.h"
#include "kvw_model.h"
#include "out.h"
#include "scenario.h"

#define LADDER_FIRST 128
#define LADDER_LAST 131072

static const kvw_opt crossover_opts[] = {
	KVW_OPTS_MODEL,
	KVW_OPTS_HARDWARE,
	{ "ctx", KVW_OPT_LONG, KVW_ARG(ctx), "8192", 1, 1L << 24, "context for the bandwidth threshold and decode figures" },
	{ "min-ctx", KVW_OPT_LONG, KVW_ARG(min_ctx), "1", 1, 1L << 24, "lower end of the crossover search" },
	{ "max-ctx", KVW_OPT_LONG, KVW_ARG(max_ctx), "1048576", 2, 1L << 24, "upper end of the crossover search" },
	{ "batch", KVW_OPT_LONG, KVW_ARG(batch), "1", 1, 65536, "decode batch for the decode-side figures" },
	{ "weight-dtype", KVW_OPT_STR, KVW_ARG(weight_dtype), "bf16", 0, 0, "weight dtype for the decode-side figures" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const kvw_opt split_opts[] = {
	KVW_OPTS_MODEL,
	KVW_OPTS_HARDWARE,
	{ "ctx", KVW_OPT_LONG, KVW_ARG(ctx), NULL, 1, 1L << 24, "context length to split (required)" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const char *winner(double r, double t)
{
	return r < t ? "recompute" : "transfer";
}

static json_t *threshold_gbps(const kvw_scenario *sc, double L)
{
	return kvw_num(kvw_bandwidth_threshold(sc, L) / 1e9);
}

static void ladder(const kvw_setup *s, long max_ctx, kvw_out *o)
{
	kvw_out_table(o, "rows");
	kvw_out_col(o, "ctx", "ctx", NULL);
	kvw_out_col(o, "kv_bytes", "KV bytes", "%.4g");
	kvw_out_col(o, "recompute_s", "recompute s", "%.4g");
	kvw_out_col(o, "transfer_s", "transfer s", "%.4g");
	kvw_out_col(o, "transfer_over_recompute", "transfer/recompute", "%.3g");
	kvw_out_col(o, "bandwidth_threshold_gbps", "B* GB/s", "%.4g");
	kvw_out_col(o, "winner", "winner", NULL);
	long last = max_ctx < LADDER_LAST ? max_ctx : LADDER_LAST;
	for (long L = LADDER_FIRST; L <= last; L *= 2) {
		double r = kvw_recompute_s(&s->sc, (double)L), t = kvw_transfer_s(&s->sc, (double)L);
		json_t *row[] = {
			json_integer(L), kvw_num(kvw_kv_bytes(&s->arch, &s->sc.kv, (double)L)), kvw_num(r),
			kvw_num(t), kvw_num(t / r), threshold_gbps(&s->sc, (double)L), json_string(winner(r, t)),
		};
		kvw_out_row(o, row);
	}
}

static kvw_err decode_side(const kvw_args *a, const kvw_setup *s, kvw_out *o, kvw_diag *d)
{
	kvw_dtype wdt;
	if (!kvw_dtype_parse(a->weight_dtype, &wdt) || wdt == KVW_DT_TF32)
		return kvw_fail(d, KVW_EUSAGE, "--weight-dtype: unknown dtype '%s'", a->weight_dtype);
	double wbytes = wdt == KVW_DT_FP8 ? 1 : wdt == KVW_DT_INT4 ? 0.5 : wdt == KVW_DT_FP32 ? 4 : 2;
	if (!(s->hbm_bw > 0)) {
		kvw_out_field(o, "decode_step_s", "decode step (TPOT)", NULL, NULL);
		kvw_out_field(o, "decode_tokens_lost", "decode tokens lost to recompute", NULL, NULL);
		kvw_out_note(o, "decode side not computed: no HBM bandwidth (give --hw, --hbm-gbps or a profile with hbm)");
		return KVW_OK;
	}
	double L = (double)a->ctx;
	double step = kvw_decode_step_bytes(&s->arch, &s->sc.kv, wbytes, (int)a->batch, L) / s->hbm_bw;
	double lost = kvw_recompute_s(&s->sc, L) / step * (double)a->batch;
	kvw_out_field(o, "decode_step_s", "decode step (TPOT)", "%.4g s", kvw_num(step));
	kvw_out_field(o, "decode_tokens_lost", "decode tokens lost to recompute", "%.4g", kvw_num(lost));
	kvw_out_note(o, "decode: TPOT = (weights read, %s, + batch %ld x KV at ctx) / HBM %.4g GB/s (%s); "
	             "tokens lost = recompute(ctx) / TPOT x batch", a->weight_dtype, a->batch,
	             s->hbm_bw / 1e9, s->hbm_source);
	return KVW_OK;
}

static void crossover_fields(const kvw_args *a, const kvw_setup *s, kvw_out *o)
{
	kvw_crossover x;
	kvw_crossover_find(&s->sc, (double)a->min_ctx, (double)a->max_ctx, &x);
	json_t *roots = json_array();
	for (int i = 0; i < x.n_roots; i++)
		json_array_append_new(roots, json_integer((json_int_t)llround(x.roots[i])));
	kvw_out_field(o, "crossover_tokens", "crossover L* (tokens)", NULL,
	              x.n_roots ? json_integer((json_int_t)llround(x.roots[0])) : json_null());
	kvw_out_field(o, "regime", "regime", NULL, json_string(kvw_regime_name(x.regime)));
	kvw_out_field(o, "crossings", "all crossings", NULL, roots);
	kvw_out_field(o, "search_min_ctx", "searched from", NULL, json_integer(a->min_ctx));
	kvw_out_field(o, "search_max_ctx", "searched to", NULL, json_integer(a->max_ctx));
	if (x.n_roots && x.roots[0] < LADDER_FIRST && s->sc.compute.overhead_s == 0)
		kvw_out_note(o, "a crossover below %d tokens with no fixed prefill overhead: at such lengths launch "
		             "overheads decide, which a spec sheet does not give (--overhead-us, or a measured profile)",
		             LADDER_FIRST);
	double L = (double)a->ctx, r = kvw_recompute_s(&s->sc, L), t = kvw_transfer_s(&s->sc, L);
	kvw_out_field(o, "ctx", "at context (tokens)", NULL, json_integer(a->ctx));
	kvw_out_field(o, "kv_bytes", "KV bytes at context", "%.6g", kvw_num(kvw_kv_bytes(&s->arch, &s->sc.kv, L)));
	kvw_out_field(o, "recompute_s", "recompute at context", "%.4g s", kvw_num(r));
	kvw_out_field(o, "transfer_s", "transfer at context", "%.4g s", kvw_num(t));
	kvw_out_field(o, "messages", "messages at context", "%.0f", kvw_num(kvw_transfer_messages(&s->sc, L)));
	kvw_out_field(o, "winner", "winner at context", NULL, json_string(winner(r, t)));
	kvw_out_field(o, "bandwidth_threshold_gbps", "bandwidth threshold B* at context", "%.4g GB/s",
	              threshold_gbps(&s->sc, L));
	if (!isfinite(kvw_bandwidth_threshold(&s->sc, L)))
		kvw_out_note(o, "B* is null: recompute at %ld tokens is faster than the link's fixed latency, "
		             "so it wins at any bandwidth", a->ctx);
	else
		kvw_out_note(o, "B*: transfer beats recompute at %ld tokens on links faster than B*", a->ctx);
}

/* JSON only: the layer-wise pipeline at --ctx, one entry per layer */
static void pipeline(const kvw_args *a, const kvw_setup *s, kvw_out *o)
{
	int n = s->arch.n_layers;
	double *c = malloc(2 * (size_t)n * sizeof *c), *x = c ? c + n : NULL;
	if (!c)
		return;
	kvw_layerwise_times(&s->sc, (double)a->ctx, c, x);
	json_t *arr = json_array();
	double computed = 0, sent = 0;
	for (int i = 0; i < n; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "layer", json_integer(i));
		json_object_set_new(e, "compute_start_s", kvw_num(computed));
		computed += c[i];
		json_object_set_new(e, "compute_end_s", kvw_num(computed));
		double start = sent > computed ? sent : computed;
		sent = start + x[i];
		json_object_set_new(e, "send_start_s", kvw_num(start));
		json_object_set_new(e, "send_end_s", kvw_num(sent));
		json_array_append_new(arr, e);
	}
	kvw_out_field(o, "pipeline", NULL, NULL, arr);
	free(c);
}

static kvw_err run_crossover(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->min_ctx >= a->max_ctx)
		return kvw_fail(d, KVW_EUSAGE, "--min-ctx %ld must be below --max-ctx %ld", a->min_ctx, a->max_ctx);
	kvw_setup *s = calloc(1, sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_out o;
	kvw_out_init(&o, "kvwall.crossover/1");
	kvw_err err = kvw_setup_full(a, s, true, d);
	if (err)
		goto out;
	snprintf(o.title, sizeof o.title, "Transfer or recompute: %s over %s", s->arch.name, s->link_name);
	kvw_setup_describe(s, &o, true);
	kvw_setup_ctx_note(s, a->ctx, &o);
	crossover_fields(a, s, &o);
	if ((err = decode_side(a, s, &o, d)))
		goto out;
	if (s->sc.layerwise)
		pipeline(a, s, &o);
	ladder(s, a->max_ctx, &o);
	err = kvw_out_emit(&o, a, argc, argv, d);
out:
	kvw_out_free(&o);
	free(s);
	return err;
}

static void split_rows(const kvw_setup *s, const kvw_split *sp, long L, kvw_out *o)
{
	kvw_scenario bulk = s->sc;
	bulk.layerwise = false;
	kvw_out_table(o, "rows");
	kvw_out_col(o, "prefix_tokens", "prefix tokens", NULL);
	kvw_out_col(o, "recompute_prefix_s", "recompute prefix s", "%.4g");
	kvw_out_col(o, "transfer_suffix_s", "transfer suffix s", "%.4g");
	kvw_out_col(o, "split_s", "split s", "%.4g");
	long ks[] = { 0, L / 4, L / 2, 3 * L / 4, L, sp->best_prefix };
	for (int i = 0; i < 6; i++) {
		double k = (double)ks[i];
		json_t *row[] = {
			json_integer(ks[i]), kvw_num(kvw_recompute_s(&s->sc, k)),
			kvw_num(kvw_transfer_s(&bulk, (double)L - k)), kvw_num(kvw_split_time(&s->sc, (double)L, k)),
		};
		kvw_out_row(o, row);
	}
}

static kvw_err run_split(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (!kvw_opts_seen(a, "ctx"))
		return kvw_fail(d, KVW_EUSAGE, "split needs --ctx N");
	if (a->layerwise)
		return kvw_fail(d, KVW_EUSAGE, "split sends the suffix in bulk; --layerwise does not apply");
	kvw_setup *s = calloc(1, sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_out o;
	kvw_out_init(&o, "kvwall.split/1");
	kvw_err err = kvw_setup_full(a, s, true, d);
	if (err)
		goto out;
	kvw_split sp;
	kvw_split_best(&s->sc, a->ctx, &sp);
	snprintf(o.title, sizeof o.title, "Recompute a prefix, transfer the rest: %s, %ld tokens over %s",
	         s->arch.name, a->ctx, s->link_name);
	kvw_setup_describe(s, &o, true);
	kvw_setup_ctx_note(s, a->ctx, &o);
	kvw_out_field(&o, "ctx", "context (tokens)", NULL, json_integer(a->ctx));
	kvw_out_field(&o, "best_prefix_tokens", "best prefix to recompute", NULL, json_integer(sp.best_prefix));
	kvw_out_field(&o, "split_s", "time with the best split", "%.4g s", kvw_num(sp.split_s));
	kvw_out_field(&o, "recompute_s", "recompute everything", "%.4g s", kvw_num(sp.recompute_s));
	kvw_out_field(&o, "transfer_s", "transfer everything", "%.4g s", kvw_num(sp.transfer_s));
	kvw_out_field(&o, "gain_vs_best_single", "gain over the better of the two", "%.3fx",
	              kvw_num(fmin(sp.recompute_s, sp.transfer_s) / sp.split_s));
	kvw_out_note(&o, "split(k) = max(recompute(k) x compute slowdown, transfer(L - k) x copy slowdown), "
	             "both running at once on the receiving GPU; no slowdown at k = 0 or k = L");
	split_rows(s, &sp, a->ctx, &o);
	err = kvw_out_emit(&o, a, argc, argv, d);
out:
	kvw_out_free(&o);
	free(s);
	return err;
}

const kvw_cmd kvw_cmd_crossover = {
	"crossover", "--model M (--hw NAME --link NAME | --profile FILE [--link NAME] | --tflops X --gbps Y) [--ctx N]",
	"the context length where recomputing the KV cache stops beating transferring it",
	crossover_opts, 0, run_crossover,
};

const kvw_cmd kvw_cmd_split = {
	"split", "--model M --ctx N (--hw NAME --link NAME | --profile FILE | --tflops X --gbps Y)",
	"the best prefix to recompute while the rest of the KV cache is transferred",
	split_opts, 0, run_split,
};
