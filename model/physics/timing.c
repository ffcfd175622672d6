/* timing.c — recompute and transfer times.
 *
 * Recompute(L) = overhead + sum over layers of
 *                linear_flops(L) / (tp * R_gemm(L)) + attn_flops(L) / (tp * R_attn(L))
 * where R(L) is the achieved FLOP/s of one GPU at L tokens (spec peak x
 * efficiency, or a measured prefill curve) and the tp GPUs of a tensor-
 * parallel group each do 1/tp of the work.  Under tensor parallelism every
 * layer also ends its two row-parallel matmuls with an all-reduce of
 * L x hidden activations (comm.c), which the tp GPUs pay together:
 *     + 2 x allreduce(L x hidden x act_bytes, tp, tp_link) per layer.
 *
 * Transfer, bulk:       alpha + (m - 1) c + KV_bytes(L) / B   (each GPU sends
 *                                             its own shard over its own link)
 * where m is 1 for one packed message, or, when the KV moves as one message
 * per (layer x block of N tokens) as paged engines send it, the sum over
 * layers of ceil(tokens held / N); c is what each further message costs:
 * the link's alpha, or the extra cost per message a probe measured
 * (profile.kv_messages).  A layer-wise send of a layer pays the same for its
 * own messages.
 * Transfer, layer-wise: layer i computes for c_i, then sends x_i = alpha +
 * bytes_i / B; sends are serial on the link and start when both the layer is
 * computed and the previous send is done.  With send i ending at e_i:
 *     e_i = max(e_{i-1}, C_i) + x_i,   C_i = c_1 + ... + c_i
 * the exposed time is e_n - C_n.  For n identical layers this is
 *     x                       when x <= c   (every send hides under the next layer)
 *     x + (n - 1)(x - c)      when x >  c   (the link is the bottleneck)
 * Concurrent compute and copy slow each other down; c_i and x_i are scaled
 * by the measured slowdowns (>= 1).
 */
#include "kvw_model.h"

#include <math.h>

double kvw_curve_at(const kvw_curve *c, double tokens)
{
	if (c->n == 0)
		return c->constant;
	if (c->n == 1 || tokens <= c->pt[0].tokens)
		return c->pt[0].flops;
	if (tokens >= c->pt[c->n - 1].tokens)
		return c->pt[c->n - 1].flops;
	int i = 1;
	while (c->pt[i].tokens < tokens)
		i++;
	const kvw_curve_pt *p = &c->pt[i - 1], *q = &c->pt[i];
	double t = (log(tokens) - log(p->tokens)) / (log(q->tokens) - log(p->tokens));
	return p->flops + t * (q->flops - p->flops);
}

double kvw_pipeline_exposed(int n, const double *c, const double *x)
{
	double computed = 0, sent = 0;
	for (int i = 0; i < n; i++) {
		computed += c[i];
		sent = fmax(sent, computed) + x[i];
	}
	return sent - computed;
}

double kvw_pipeline_exposed_uniform(int n, double c, double x)
{
	return x + (n - 1) * fmax(0.0, x - c);
}

/* the two all-reduces one layer pays at tensor parallelism kv.tp */
static double layer_allreduce_s(const kvw_scenario *s, double L)
{
	double act = s->act_bytes > 0 ? s->act_bytes : 2.0;
	return 2.0 * kvw_allreduce_s(L * (double)s->arch->hidden * act, s->kv.tp, &s->tp_link);
}

/* compute seconds of one layer of group g (one GPU, no overhead); the
 * element-wise kernels, when measured, at their token-layer rate (split
 * over the tensor-parallel GPUs like the rest: most of their traffic is
 * in the sharded Q/K/V and FFN activations); then the layer's all-reduces */
static double group_compute_s(const kvw_scenario *s, int g, double L, double rg, double ra)
{
	const kvw_arch *a = s->arch;
	double re = kvw_curve_at(&s->compute.elementwise, L);
	return (kvw_group_linear_flops(a, g, L) / rg
	        + kvw_group_attn_flops(a, g, L, s->causal) / ra + (re > 0 ? L / re : 0)) / s->kv.tp
	       + layer_allreduce_s(s, L);
}

double kvw_recompute_allreduce_s(const kvw_scenario *s, double L)
{
	return L > 0 ? s->arch->n_layers * layer_allreduce_s(s, L) : 0;
}

double kvw_recompute_s(const kvw_scenario *s, double L)
{
	if (L <= 0)
		return 0;
	double rg = kvw_curve_at(&s->compute.gemm, L), ra = kvw_curve_at(&s->compute.attn, L);
	double t = s->compute.overhead_s;
	for (int g = 0; g < s->arch->n_groups; g++)
		t += s->arch->groups[g].count * group_compute_s(s, g, L, rg, ra);
	return t;
}

/* messages one layer of group g sends for L tokens */
static double layer_messages(const kvw_scenario *s, int g, double L)
{
	if (s->message_tokens <= 0)
		return 1;
	return ceil(kvw_tokens_held(s->arch->groups[g].window, L) / (double)s->message_tokens);
}

double kvw_transfer_messages(const kvw_scenario *s, double L)
{
	if (L <= 0)
		return 0;
	if (s->message_tokens <= 0)
		return s->layerwise ? s->arch->n_layers : 1;
	double m = 0;
	for (int g = 0; g < s->arch->n_groups; g++)
		m += s->arch->groups[g].count * layer_messages(s, g, L);
	return m;
}

/* fixed cost of a send of m messages: alpha, then c per further message */
static double send_overhead(const kvw_scenario *s, double m)
{
	double c = s->message_s > 0 ? s->message_s : s->link.alpha_s;
	return m > 0 ? s->link.alpha_s + (m - 1) * c : 0;
}

double kvw_transfer_overhead_s(const kvw_scenario *s, double L)
{
	return send_overhead(s, kvw_transfer_messages(s, L));
}

/* per-group compute and send seconds of one layer */
static void group_times(const kvw_scenario *s, double L, double *cg, double *xg)
{
	const kvw_arch *a = s->arch;
	double rg = kvw_curve_at(&s->compute.gemm, L), ra = kvw_curve_at(&s->compute.attn, L);
	double per_tok = kvw_kv_bytes_per_token_layer(a, &s->kv);
	for (int g = 0; g < a->n_groups; g++) {
		cg[g] = group_compute_s(s, g, L, rg, ra) * s->compute_slowdown;
		xg[g] = (send_overhead(s, layer_messages(s, g, L))
		         + per_tok * kvw_tokens_held(a->groups[g].window, L) / s->link.bw) * s->copy_slowdown;
	}
}

void kvw_layerwise_times(const kvw_scenario *s, double L, double *c, double *x)
{
	double cg[KVW_MAX_GROUPS], xg[KVW_MAX_GROUPS];
	group_times(s, L, cg, xg);
	for (int i = 0; i < s->arch->n_layers; i++) {
		c[i] = cg[s->arch->layer_group[i]];
		x[i] = xg[s->arch->layer_group[i]];
	}
}

static double layerwise_s(const kvw_scenario *s, double L)
{
	if (s->arch->n_groups == 1) {
		double cg, xg;
		group_times(s, L, &cg, &xg);
		return kvw_pipeline_exposed_uniform(s->arch->n_layers, cg, xg);
	}
	double c[KVW_MAX_LAYERS], x[KVW_MAX_LAYERS];
	kvw_layerwise_times(s, L, c, x);
	return kvw_pipeline_exposed(s->arch->n_layers, c, x);
}

double kvw_transfer_s(const kvw_scenario *s, double L)
{
	if (L <= 0)
		return 0;
	if (s->layerwise)
		return layerwise_s(s, L);
	return kvw_transfer_overhead_s(s, L) + kvw_kv_bytes(s->arch, &s->kv, L) / s->link.bw;
}
