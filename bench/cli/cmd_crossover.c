/* cmd_crossover.c — kvwall crossover and kvwall split: transfer the KV
 * cache or recompute it, and the best mix of the two. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "kvw_model.h"
#include "out.h"
#include "scenario.h"

#define LADDER_LAST_DEFAULT 1048576
#define SHORT_CROSSOVER 128

static const kvw_opt crossover_opts[] = {
	KVW_OPTS_MODEL,
	KVW_OPTS_HARDWARE,
	{ "scenario", KVW_OPT_STR, KVW_ARG(scenario), NULL, 0, 0, "handoff (after a prefill; layer-wise with --layerwise) or prefix-fetch (a stored prefix, bulk) [default: handoff with --layerwise, else prefix-fetch]" },
	{ "ctx", KVW_OPT_LONG, KVW_ARG(ctx), "8192", 1, 1L << 24, "context for the bandwidth threshold and decode figures [cut to the model's window]" },
	{ "min-ctx", KVW_OPT_LONG, KVW_ARG(min_ctx), "1", 1, 1L << 24, "lower end of the crossover search" },
	{ "max-ctx", KVW_OPT_LONG, KVW_ARG(max_ctx), NULL, 2, 1L << 24, "upper end of the crossover search [default: the model's window, max_position_embeddings]" },
	{ "batch", KVW_OPT_LONG, KVW_ARG(batch), "1", 1, 65536, "decode batch for the decode-side figures" },
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

/* The two questions a crossover answers, and what each one optimises. */
typedef struct scenario_info {
	const char *key, *label, *optimises;
} scenario_info;

static const scenario_info scenarios[] = {
	{ "handoff", "handoff after a prefill",
	  "time to first token of a disaggregated request: the KV transfer time not hidden behind the prefill that "
	  "produces it (layer-wise: what is left after the last layer; bulk: all of it), against the decode GPU "
	  "recomputing the prompt" },
	{ "prefix_fetch", "fetching a stored prefix",
	  "prefill time of a request whose prefix KV is stored on another node (a Mooncake / LMCache pool): loading it "
	  "in bulk before the request runs, against recomputing it" },
};

static kvw_err pick_scenario(const kvw_args *a, const scenario_info **out, kvw_diag *d)
{
	if (!a->scenario) {
		*out = &scenarios[a->layerwise ? 0 : 1];
		return KVW_OK;
	}
	if (strcmp(a->scenario, "handoff") == 0) {
		*out = &scenarios[0];
		return KVW_OK;
	}
	if (strcmp(a->scenario, "prefix-fetch") == 0) {
		if (a->layerwise)
			return kvw_fail(d, KVW_EUSAGE, "--scenario prefix-fetch loads a stored prefix before the request runs, "
			                "in bulk: --layerwise applies to --scenario handoff");
		*out = &scenarios[1];
		return KVW_OK;
	}
	return kvw_fail(d, KVW_EUSAGE, "--scenario: unknown scenario '%s' (handoff, prefix-fetch)", a->scenario);
}

static const char *winner(double r, double t)
{
	return r < t ? "recompute" : "transfer";
}

static json_t *threshold_gbps(const kvw_scenario *sc, double L)
{
	return kvw_num(kvw_bandwidth_threshold(sc, L) / 1e9);
}

/* 1234567 -> "1,234,567" */
static const char *tokens_text(double v, char *buf, size_t cap)
{
	char raw[32];
	snprintf(raw, sizeof raw, "%.0f", v);
	size_t n = strlen(raw), j = 0;
	for (size_t i = 0; i < n && j + 2 < cap; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = raw[i];
	}
	buf[j] = '\0';
	return buf;
}

/* the range the crossover is searched over, and the smallest handoff */
typedef struct search {
	double lo, hi, block;
	const char *hi_why, *block_why;
} search;

static kvw_err search_range(const kvw_args *a, const kvw_setup *s, search *r, kvw_diag *d)
{
	long w = s->arch.max_position;
	r->lo = (double)a->min_ctx;
	if (kvw_opts_seen(a, "max-ctx")) {
		r->hi = (double)a->max_ctx;
		r->hi_why = w > 0 && a->max_ctx > w ? "--max-ctx, beyond the model's window" : "--max-ctx";
	} else {
		r->hi = w > 0 ? (double)w : LADDER_LAST_DEFAULT;
		r->hi_why = w > 0 ? "the model's window, max_position_embeddings" : "the config gives no window";
	}
	if ((double)s->ctx > r->hi) {
		r->hi = (double)s->ctx;
		r->hi_why = "--ctx, beyond the model's window";
	}
	r->block = s->sc.message_tokens > 0 ? (double)s->sc.message_tokens : KVW_DEFAULT_BLOCK_TOKENS;
	r->block_why = s->sc.message_tokens > 0 ? "--message-tokens" : "vLLM's default --block-size";
	if (r->lo >= r->hi)
		return kvw_fail(d, KVW_EUSAGE, "--min-ctx %ld must be below the search's upper end %.0f (%s)", a->min_ctx,
		                r->hi, r->hi_why);
	return KVW_OK;
}

/* contexts of the table: powers of two from one block to the upper end,
 * and the upper end itself */
static int ladder_points(const search *r, double *L, int cap)
{
	int n = 0;
	double x = 1;
	while (x < r->block || x < r->lo)
		x *= 2;
	for (; x <= r->hi && n < cap; x *= 2)
		L[n++] = x;
	if (n < cap && (n == 0 || L[n - 1] < r->hi))
		L[n++] = r->hi;
	return n;
}

static void ladder(const kvw_setup *s, const search *r, kvw_out *o)
{
	kvw_out_table(o, "rows");
	kvw_out_col(o, "ctx", "ctx", NULL);
	kvw_out_col(o, "kv_bytes", "KV bytes", "%.0f");
	kvw_out_col(o, "recompute_s", "recompute s", "%.4g");
	kvw_out_col(o, "transfer_s", "transfer s", "%.4g");
	kvw_out_col(o, "transfer_over_recompute", "transfer/recompute", "%.3g");
	kvw_out_col(o, "bandwidth_threshold_gbps", "B* GB/s", "%.4g");
	kvw_out_col(o, "winner", "winner", NULL);
	double pts[40];
	int n = ladder_points(r, pts, 40);
	for (int i = 0; i < n; i++) {
		double L = pts[i], rc = kvw_recompute_s(&s->sc, L), t = kvw_transfer_s(&s->sc, L);
		json_t *row[] = {
			json_integer((json_int_t)L), kvw_num(kvw_kv_bytes(&s->arch, &s->sc.kv, L)), kvw_num(rc),
			kvw_num(t), kvw_num(t / rc), threshold_gbps(&s->sc, L), json_string(winner(rc, t)),
		};
		kvw_out_row(o, row);
	}
}

static kvw_err decode_side(const kvw_args *a, const kvw_setup *s, kvw_out *o)
{
	if (!(s->hbm_bw > 0)) {
		kvw_out_field(o, "decode_step_s", "decode step (TPOT)", NULL, NULL);
		kvw_out_field(o, "decode_tokens_lost", "decode tokens lost to recompute", NULL, NULL);
		kvw_out_note(o, "decode side not computed: no HBM bandwidth (give --hw, --hbm-gbps or a profile with hbm)");
		return KVW_OK;
	}
	double L = (double)s->ctx;
	double step = kvw_decode_step_bytes(&s->arch, &s->sc.kv, s->weight_bytes, (int)a->batch, L) / s->hbm_bw;
	double lost = kvw_recompute_s(&s->sc, L) / step * (double)a->batch;
	kvw_out_field(o, "decode_step_s", "decode step (TPOT)", "%.4g s", kvw_num(step));
	kvw_out_field(o, "decode_tokens_lost", "decode tokens lost to recompute", "%.4g", kvw_num(lost));
	kvw_out_note(o, "decode: TPOT = (weights read, %s, + batch %ld x KV at ctx) / HBM %.4g GB/s (%s); "
	             "tokens lost = recompute(ctx) / TPOT x batch", s->weight_source, a->batch,
	             s->hbm_bw / 1e9, s->hbm_source);
	return KVW_OK;
}

/* what B* means for this link: "36.6x margin" or "4.1x short" */
static void margin_text(double link_bw, double bstar, char *buf, size_t cap)
{
	if (!isfinite(bstar))
		snprintf(buf, cap, "recompute beats even the link's fixed latency");
	else if (link_bw >= bstar)
		snprintf(buf, cap, "this link: %.3g GB/s, %.3gx margin", link_bw / 1e9, link_bw / bstar);
	else
		snprintf(buf, cap, "this link: %.3g GB/s, %.3gx short", link_bw / 1e9, bstar / link_bw);
}

/* one sentence: who wins over this link, up to what context, and B* */
static void answer(const kvw_setup *s, const search *r, const kvw_crossover *x, kvw_out *o)
{
	char lo[32], hi[32], at[32], lstar[32], lb[32], margin[96], head[300], tail[300] = "";
	double L = (double)s->ctx, bstar = kvw_bandwidth_threshold(&s->sc, L);
	tokens_text(fmax(r->lo, r->block), lo, sizeof lo);
	tokens_text(r->hi, hi, sizeof hi);
	tokens_text(L, at, sizeof at);
	tokens_text(x->n_roots ? x->roots[0] : 0, lstar, sizeof lstar);
	char link[KVW_NAME_LEN + 40];
	snprintf(link, sizeof link, "%s%s", s->link_name, s->link_loopback ? " (loopback, not a network path)" : "");
	switch (x->regime) {
	case KVW_TRANSFER_ALWAYS:
		snprintf(head, sizeof head, "Transfer the KV over %s at every context from %s to %s tokens", link, lo, hi);
		break;
	case KVW_RECOMPUTE_ALWAYS:
		snprintf(head, sizeof head, "Recompute rather than transfer over %s at every context from %s to %s tokens",
		         link, lo, hi);
		break;
	case KVW_RECOMPUTE_BELOW:
		snprintf(head, sizeof head, "Over %s recompute below L* = %s tokens and transfer above it, up to %s", link,
		         lstar, hi);
		break;
	case KVW_TRANSFER_BELOW:
		snprintf(head, sizeof head, "Over %s transfer below L* = %s tokens and recompute above it, up to %s", link,
		         lstar, hi);
		break;
	case KVW_MULTIPLE:
		snprintf(head, sizeof head, "Over %s the winner flips %d times between %s and %s tokens", link, x->n_roots,
		         lo, hi);
		break;
	}
	margin_text(s->sc.link.bw, bstar, margin, sizeof margin);
	if (x->latency_bound_below > 0)
		snprintf(tail, sizeof tail, "; below %s tokens recompute wins on latency alone, under one %.0f-token KV "
		         "block (latency-bound)", tokens_text(ceil(x->latency_bound_below), lb, sizeof lb), r->block);
	char text[900];
	if (isfinite(bstar))
		snprintf(text, sizeof text, "%s; at %s tokens %s wins, and B* = %.3g GB/s is the link speed below which "
		         "recompute wins (%s)%s.", head, at, winner(kvw_recompute_s(&s->sc, L), kvw_transfer_s(&s->sc, L)),
		         bstar / 1e9, margin, tail);
	else
		snprintf(text, sizeof text, "%s; at %s tokens recompute beats even the link's fixed latency%s.", head, at,
		         tail);
	kvw_out_field(o, "answer", "answer", NULL, json_string(text));
}

static void crossover_fields(const kvw_setup *s, const search *r, const scenario_info *sn, kvw_out *o)
{
	kvw_crossover x;
	kvw_crossover_handoff(&s->sc, r->lo, r->hi, r->block, &x);
	json_t *roots = json_array();
	for (int i = 0; i < x.n_roots; i++)
		json_array_append_new(roots, json_integer((json_int_t)llround(x.roots[i])));
	kvw_out_field(o, "scenario", "scenario", NULL, json_string(sn->key));
	kvw_out_field(o, "scenario_optimises", NULL, NULL, json_string(sn->optimises));
	kvw_out_note(o, "scenario %s: optimises %s", sn->label, sn->optimises);
	if (s->link_storage && sn == &scenarios[0])
		kvw_out_note(o, "%s is a storage link: a disaggregated handoff goes from GPU to GPU over the network, not "
		             "through a file system, so this answers a prefill that stores its KV and a decode that reads "
		             "it back; its usual question is fetching a stored prefix (--scenario prefix-fetch)",
		             s->link_name);
	kvw_out_field(o, "crossover_tokens", "crossover L* (tokens)", NULL,
	              x.n_roots ? json_integer((json_int_t)llround(x.roots[0])) : json_null());
	kvw_out_field(o, "regime", "regime", NULL, json_string(kvw_regime_name(x.regime)));
	kvw_out_field(o, "crossings", "all crossings", NULL, roots);
	kvw_out_field(o, "latency_bound_below_tokens", "latency-bound below (tokens)", NULL,
	              x.latency_bound_below > 0 ? json_integer((json_int_t)ceil(x.latency_bound_below)) : json_null());
	kvw_out_field(o, "block_tokens", "smallest handoff (tokens)", NULL, json_integer((json_int_t)r->block));
	kvw_out_field(o, "search_min_ctx", "searched from", NULL, json_integer((json_int_t)r->lo));
	kvw_out_field(o, "search_max_ctx", "searched to", NULL, json_integer((json_int_t)r->hi));
	kvw_out_note(o, "L* searched from one KV block (%.0f tokens, %s: no handoff is smaller) to %.0f tokens (%s); "
	             "the regime and L* hold in that range", r->block, r->block_why, r->hi, r->hi_why);
	if (x.latency_bound_below > 0)
		kvw_out_note(o, "latency-bound below %.0f tokens: recompute wins there on the link's fixed latency alone, "
		             "but that is less than one %.0f-token block, so it is not a crossover", ceil(x.latency_bound_below),
		             r->block);
	if (x.n_roots && x.roots[0] < SHORT_CROSSOVER && s->sc.compute.overhead_s == 0)
		kvw_out_note(o, "a crossover below %d tokens with no fixed prefill overhead: at such lengths launch "
		             "overheads decide, which a spec sheet does not give (--overhead-us, or a measured profile)",
		             SHORT_CROSSOVER);
	double L = (double)s->ctx, rc = kvw_recompute_s(&s->sc, L), t = kvw_transfer_s(&s->sc, L);
	kvw_out_field(o, "ctx", "at context (tokens)", NULL, json_integer(s->ctx));
	kvw_out_field(o, "kv_bytes", "KV bytes at context", "%.0f B", kvw_num(kvw_kv_bytes(&s->arch, &s->sc.kv, L)));
	kvw_out_field(o, "recompute_s", "recompute at context", "%.4g s", kvw_num(rc));
	if (s->sc.kv.tp > 1)
		kvw_out_field(o, "tp_allreduce_s", "of which TP all-reduces", "%.4g s",
		              kvw_num(kvw_recompute_allreduce_s(&s->sc, L)));
	kvw_out_field(o, "transfer_s", "transfer at context", "%.4g s", kvw_num(t));
	kvw_out_field(o, "messages", "messages at context", "%.0f", kvw_num(kvw_transfer_messages(&s->sc, L)));
	kvw_out_field(o, "winner", "winner at context", NULL, json_string(winner(rc, t)));
	kvw_out_field(o, "bandwidth_threshold_gbps", "bandwidth threshold B* at context", "%.4g GB/s",
	              threshold_gbps(&s->sc, L));
	if (!isfinite(kvw_bandwidth_threshold(&s->sc, L)))
		kvw_out_note(o, "B* is null: recompute at %ld tokens is faster than the link's fixed latency, "
		             "so it wins at any bandwidth", s->ctx);
	else
		kvw_out_note(o, "B*: transfer beats recompute at %ld tokens on links faster than B*", s->ctx);
	answer(s, r, &x, o);
}

/* JSON only: the layer-wise pipeline at --ctx, one entry per layer */
static void pipeline(const kvw_setup *s, kvw_out *o)
{
	int n = s->arch.n_layers;
	double *c = malloc(2 * (size_t)n * sizeof *c), *x = c ? c + n : NULL;
	if (!c)
		return;
	kvw_layerwise_times(&s->sc, (double)s->ctx, c, x);
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

static void title(const kvw_setup *s, const char *what, kvw_out *o)
{
	if (strcmp(s->link_name, "given") == 0)
		snprintf(o->title, sizeof o->title, "%s: %s over a given %.4g GB/s link", what, s->arch.name,
		         s->sc.link.bw / 1e9);
	else
		snprintf(o->title, sizeof o->title, "%s: %s over %s", what, s->arch.name, s->link_name);
}

static kvw_err run_crossover(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (kvw_opts_seen(a, "max-ctx") && a->min_ctx >= a->max_ctx)
		return kvw_fail(d, KVW_EUSAGE, "--min-ctx %ld must be below --max-ctx %ld", a->min_ctx, a->max_ctx);
	const scenario_info *sn = NULL;
	kvw_err err = pick_scenario(a, &sn, d);
	if (err)
		return err;
	kvw_setup *s = calloc(1, sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_out o;
	kvw_out_init(&o, "kvwall.crossover/1");
	search r;
	if ((err = kvw_setup_full(a, s, true, d)) || (err = search_range(a, s, &r, d)))
		goto out;
	title(s, "Transfer or recompute", &o);
	kvw_setup_describe(s, &o, true);
	kvw_setup_describe_fit(s, &o);
	kvw_setup_ctx_note(s, s->ctx, &o);
	crossover_fields(s, &r, sn, &o);
	if ((err = decode_side(a, s, &o)))
		goto out;
	if (s->sc.layerwise)
		pipeline(s, &o);
	ladder(s, &r, &o);
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
	char what[96];
	snprintf(what, sizeof what, "Recompute a prefix, transfer the rest, %ld tokens", a->ctx);
	title(s, what, &o);
	kvw_setup_describe(s, &o, true);
	kvw_setup_describe_fit(s, &o);
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
