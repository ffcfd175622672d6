/* arch.c — derived facts of an architecture: attention kind, layer groups,
 * parameter counts.
 *
 * Parameter conventions (biases and norm weights are ignored: they are
 * < 0.1% of the matmul weights and cost no matmul FLOPs):
 *   attention, MHA/GQA/MQA:  q: h * (H*d)   k, v: h * (K*d) each   o: (H*d) * h
 *   attention, MLA:          q: h * r_q + r_q * H*(d_nope + d_rope)   (r_q = 0: h * H*(d_nope + d_rope))
 *                            kv_a: h * (r_kv + d_rope)   kv_b: r_kv * H*(d_nope + d_v)   o: H*d_v * h
 *   FFN dense:   gated (SwiGLU, GeGLU) 3 * h * I, plain (OPT) 2 * h * I
 *   FFN MoE:     router h * E + k * ffn(I_e) + shared * ffn(I_e), active experts only
 * with h = hidden size, H = query heads, K = KV heads, d = head size.
 * The LM head is not an active parameter: recomputing the KV cache does not
 * need logits.  Embeddings count in total_params only.
 */
#include "kvw_model.h"

#include <stdio.h>

static double ffn_params(const kvw_arch *a, long width)
{
	return (a->ffn_gated ? 3.0 : 2.0) * (double)a->hidden * (double)width;
}

static double attn_params(const kvw_arch *a)
{
	double h = (double)a->hidden, H = a->n_heads;
	if (a->attn == KVW_ATTN_MLA) {
		double dq = a->qk_nope_head_dim + a->qk_rope_head_dim;
		double q = a->q_lora_rank > 0
			? h * a->q_lora_rank + (double)a->q_lora_rank * H * dq
			: h * H * dq;
		double kv_a = h * (a->kv_lora_rank + a->qk_rope_head_dim);
		double kv_b = (double)a->kv_lora_rank * H * (a->qk_nope_head_dim + a->v_head_dim);
		double o = H * a->v_head_dim * h;
		return q + kv_a + kv_b + o;
	}
	double d = a->head_dim, K = a->n_kv_heads;
	return h * H * d + 2.0 * h * K * d + H * d * h;
}

/* active FFN parameters of one layer; *all gets every expert's */
static double layer_ffn_params(const kvw_arch *a, bool moe, double *all)
{
	if (!moe) {
		*all = ffn_params(a, a->intermediate);
		return *all;
	}
	double router = (double)a->hidden * a->n_experts;
	double expert = ffn_params(a, a->moe_intermediate);
	double shared = a->n_shared_experts * expert;
	*all = router + a->n_experts * expert + shared;
	return router + a->experts_per_token * expert + shared;
}

bool kvw_arch_add_layer(kvw_arch *a, long window, bool moe)
{
	if (a->n_layers >= KVW_MAX_LAYERS || window < 0)
		return false;
	int g;
	for (g = 0; g < a->n_groups; g++)
		if (a->groups[g].window == window && a->groups[g].moe == moe)
			break;
	if (g == a->n_groups) {
		if (a->n_groups == KVW_MAX_GROUPS)
			return false;
		a->groups[g] = (kvw_layer_group){ .count = 0, .window = window, .moe = moe };
		a->n_groups++;
	}
	a->groups[g].count++;
	a->layer_group[a->n_layers++] = (unsigned char)g;
	return true;
}

int kvw_arch_kv_layers(const kvw_arch *a)
{
	return a->n_layers;
}

static bool bad(char *why, int whylen, const char *msg)
{
	snprintf(why, (size_t)whylen, "%s", msg);
	return false;
}

bool kvw_arch_finish(kvw_arch *a, char *why, int whylen)
{
	if (a->n_layers < 1)
		return bad(why, whylen, "model has no layers");
	if (a->hidden < 1 || a->n_heads < 1 || a->vocab < 1)
		return bad(why, whylen, "hidden size, heads and vocabulary must be positive");
	if (a->kv_lora_rank > 0) {
		a->attn = KVW_ATTN_MLA;
		if (a->qk_rope_head_dim < 1 || a->qk_nope_head_dim < 1 || a->v_head_dim < 1)
			return bad(why, whylen, "MLA needs positive qk_rope_head_dim, qk_nope_head_dim and v_head_dim");
		a->qk_head_dim = a->qk_nope_head_dim + a->qk_rope_head_dim;
	} else {
		if (a->n_kv_heads < 1 || a->n_kv_heads > a->n_heads || a->n_heads % a->n_kv_heads)
			return bad(why, whylen, "num_key_value_heads must divide num_attention_heads");
		if (a->head_dim < 1)
			return bad(why, whylen, "head size must be positive");
		a->attn = a->n_kv_heads == a->n_heads ? KVW_ATTN_MHA
			: a->n_kv_heads == 1 ? KVW_ATTN_MQA : KVW_ATTN_GQA;
		a->qk_head_dim = a->head_dim;
		a->v_head_dim = a->head_dim;
	}
	if (a->n_experts > 0 && (a->experts_per_token < 1 || a->experts_per_token > a->n_experts
	                         || a->moe_intermediate < 1))
		return bad(why, whylen, "MoE needs 1 <= num_experts_per_tok <= experts and a positive expert width");
	a->attn_params_per_layer = attn_params(a);
	a->active_params = 0;
	a->total_params = 0;
	for (int g = 0; g < a->n_groups; g++) {
		kvw_layer_group *gr = &a->groups[g];
		if (gr->moe && a->n_experts < 1)
			return bad(why, whylen, "MoE layer in a model without experts");
		if (!gr->moe && a->intermediate < 1)
			return bad(why, whylen, "dense FFN width must be positive");
		double all;
		gr->linear_params = a->attn_params_per_layer + layer_ffn_params(a, gr->moe, &all);
		a->active_params += gr->count * gr->linear_params;
		a->total_params += gr->count * (a->attn_params_per_layer + all);
	}
	a->embedding_params = (double)a->vocab * a->hidden * (a->tied_embeddings ? 1.0 : 2.0);
	a->total_params += a->embedding_params;
	return true;
}
