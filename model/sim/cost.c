/* cost.c — what one pass of an instance and one handoff cost, from the
 * per-request physics (kvw_model.h); the formulas are in kvw_sim.h.
 *
 * Links come in at the bandwidth they achieve: a measured fit as it is, a
 * spec sheet times its cited achieved fraction (bench/cli resolves both,
 * as for kvwall crossover).  Under TP a pass pays comm.c's two ring
 * all-reduces per layer over the intra-node link, the same term the
 * per-request physics adds to a prefill (timing.c); passes here add the
 * physics' terms themselves and do not call kvw_recompute_s, so nothing
 * is counted twice.
 */
#include "kvw_sim.h"

#include <math.h>

/* the KV format of an instance of TP tp */
static kvw_kvfmt fmt_at(const kvw_cluster *c, int tp)
{
	kvw_kvfmt f = c->sc->kv;
	f.tp = tp;
	return f;
}

double kvw_sim_link_bw(const kvw_cluster *c, int cls)
{
	const kvw_link *l = cls ? &c->inter : &c->intra;
	return l->bw; /* already at its achieved fraction (see the file comment) */
}

/* two all-reduces per layer of `tokens` activations over the intra-node link */
static double tp_comm_s(const kvw_cluster *c, int tp, double tokens)
{
	if (tp <= 1 || tokens <= 0)
		return 0;
	kvw_link l = c->intra;
	l.bw = kvw_sim_link_bw(c, 0);
	return kvw_tp_allreduce_s(c->sc->arch, tokens, tp, c->act_bytes, &l);
}

void kvw_decode_table_at(const kvw_decode_table *t, double batch, double ctx, double *fixed_s, double *bw)
{
	int i = 0, j = 0;
	double u = 0, v = 0;
	double lb = log(batch > 1 ? batch : 1), lc = log(ctx > 1 ? ctx : 1);
	if (t->n_batch > 1 && batch > t->batch[0]) {
		while (i < t->n_batch - 2 && t->batch[i + 1] < batch)
			i++;
		u = (lb - log(t->batch[i])) / (log(t->batch[i + 1]) - log(t->batch[i]));
		u = u < 0 ? 0 : u > 1 ? 1 : u;
	}
	if (t->n_ctx > 1 && ctx > t->ctx[0]) {
		while (j < t->n_ctx - 2 && t->ctx[j + 1] < ctx)
			j++;
		v = (lc - log(t->ctx[j])) / (log(t->ctx[j + 1]) - log(t->ctx[j]));
		v = v < 0 ? 0 : v > 1 ? 1 : v;
	}
	int i1 = t->n_batch > 1 ? i + 1 : i, j1 = t->n_ctx > 1 ? j + 1 : j;
#define BILERP(m) ((1 - u) * (1 - v) * t->m[i][j] + u * (1 - v) * t->m[i1][j] + (1 - u) * v * t->m[i][j1] \
                   + u * v * t->m[i1][j1])
	*fixed_s = BILERP(fixed_s);
	*bw = BILERP(bw);
#undef BILERP
}

/* weights one decode pass of `batch` sequences reads on one GPU (MoE: the
 * experts the batch is expected to touch) */
static double weights_read(const kvw_cluster *c, int tp, int batch)
{
	kvw_kvfmt f = fmt_at(c, tp);
	return kvw_decode_step_bytes(c->sc->arch, &f, c->weight_bytes, batch > 0 ? batch : 1, 0);
}

/* The decode part of a pass: fixed costs per layer plus the bytes read
 * (weights, and the KV of the batch) at the achieved bandwidth.  *wread_s:
 * the part that is the weights. */
static double decode_part(const kvw_cluster *c, int tp, int batch, double sum_ctx, double *wread_s)
{
	kvw_kvfmt f = fmt_at(c, tp);
	int n = c->sc->arch->n_layers;
	double w = weights_read(c, tp, batch);
	double kv = batch > 0 ? batch * kvw_kv_bytes(c->sc->arch, &f, sum_ctx / batch) : 0;
	double fixed = c->layer_fixed_s, bw = c->hbm_bw;
	if (c->decode)
		kvw_decode_table_at(c->decode, batch > 0 ? batch : 1, batch > 0 ? sum_ctx / batch : 1, &fixed, &bw);
	*wread_s = w / bw;
	return n * fixed + (w + kv) / bw;
}

/* prefill compute of the chunks and the pass's T tokens through the
 * linear layers: timing.c's terms, per chunk */
static double prefill_part(const kvw_cluster *c, int tp, int n_chunks, const double *before, const double *tokens,
                           double T, double *lin_s)
{
	const kvw_scenario *sc = c->sc;
	const kvw_arch *a = sc->arch;
	double rg = kvw_curve_at(&sc->compute.gemm, T);
	*lin_s = kvw_linear_flops(a, T) / (tp * rg);
	double attn = 0, pref = 0;
	for (int i = 0; i < n_chunks; i++) {
		double end = before[i] + tokens[i];
		double ra = kvw_curve_at(&sc->compute.attn, end);
		attn += (kvw_attn_flops(a, end, sc->causal) - kvw_attn_flops(a, before[i], sc->causal)) / (tp * ra);
		pref += tokens[i];
	}
	double re = kvw_curve_at(&sc->compute.elementwise, T);
	double ew = re > 0 ? T * a->n_layers / re / tp : 0;
	return attn + ew + (pref > 0 ? sc->compute.overhead_s : 0);
}

double kvw_sim_pass_s(const kvw_cluster *c, int tp, int n_chunks, const double *ctx_before, const double *tokens,
                      int n_dec, double sum_ctx)
{
	double T = n_dec;
	for (int i = 0; i < n_chunks; i++)
		T += tokens[i];
	if (T <= 0)
		return 0;
	double wread, lin = 0;
	double dec = decode_part(c, tp, n_dec, sum_ctx, &wread);
	double pre = n_chunks ? prefill_part(c, tp, n_chunks, ctx_before, tokens, T, &lin) : 0;
	return dec + fmax(0.0, lin - wread) + pre + tp_comm_s(c, tp, T);
}

double kvw_sim_decode_step_s(const kvw_cluster *c, int tp, int batch, double sum_ctx)
{
	return kvw_sim_pass_s(c, tp, 0, NULL, NULL, batch, sum_ctx);
}

double kvw_sim_kv_tokens(const kvw_cluster *c, int tp)
{
	kvw_kvfmt f = fmt_at(c, tp);
	double cap = kvw_kv_capacity_per_gpu(c->sc->arch, c->weight_bytes, tp, &c->mem);
	double per = kvw_kv_bytes_per_token(c->sc->arch, &f);
	return cap > 0 && per > 0 ? floor(cap / per) : 0;
}

double kvw_sim_handoff_bytes(const kvw_cluster *c, int tp_d, double L)
{
	kvw_kvfmt f = fmt_at(c, tp_d);
	return L > 0 ? kvw_kv_bytes(c->sc->arch, &f, L) * tp_d : 0;
}

double kvw_sim_handoff_fixed_s(const kvw_cluster *c, int tp_p, int tp_d, int cls, double L, bool *packed)
{
	const kvw_link *l = cls ? &c->inter : &c->intra;
	double desc_s = cls ? c->inter_desc_s : c->intra_desc_s;
	int parts = c->sc->arch->attn == KVW_ATTN_MLA ? 1 : 2;
	double split = tp_d > tp_p ? (double)tp_d / tp_p : 1;
	double desc = c->sc->arch->n_layers * ceil(L / c->block_tokens) * parts * split;
	double scatter = (desc > 1 ? desc - 1 : 0) * desc_s;
	kvw_kvfmt f = fmt_at(c, tp_p);
	double pack = c->pack_bw > 0 ? 2 * kvw_kv_bytes(c->sc->arch, &f, L) / c->pack_bw : INFINITY;
	if (packed)
		*packed = pack < scatter;
	return c->handshake_s + l->alpha_s + fmin(scatter, pack);
}
