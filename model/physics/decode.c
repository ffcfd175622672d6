/* decode.c — the decode side: what one decode step reads from HBM.
 *
 * A decode step of a batch of b sequences is memory-bound: it reads every
 * weight it uses once and the KV cache of every sequence once, so
 *     TPOT ~= step_bytes / HBM bandwidth.
 * Weights touched per step: all attention weights, dense FFNs, the LM head
 * (vocab x hidden), and in a MoE layer the router, the shared experts and
 * the distinct routed experts the b tokens pick.  With k of E experts
 * chosen uniformly per token, an expert is missed by one token with
 * probability 1 - k/E, so b tokens hit E (1 - (1 - k/E)^b) distinct experts
 * on average.  Under tensor parallelism each GPU reads 1/tp of the weights.
 */
#include "kvw_model.h"

#include <math.h>

double kvw_expected_experts(int n_experts, int k, int batch)
{
	if (n_experts <= 0 || k <= 0 || batch <= 0)
		return 0;
	return n_experts * (1.0 - pow(1.0 - (double)k / n_experts, batch));
}

static double moe_layer_weights(const kvw_arch *a, int batch)
{
	double expert = (a->ffn_gated ? 3.0 : 2.0) * (double)a->hidden * a->moe_intermediate;
	double router = (double)a->hidden * a->n_experts;
	return router + (a->n_shared_experts
	                 + kvw_expected_experts(a->n_experts, a->experts_per_token, batch)) * expert;
}

double kvw_decode_step_bytes(const kvw_arch *a, const kvw_kvfmt *f,
                             double weight_bytes_per_param, int batch, double ctx)
{
	double params = (double)a->vocab * a->hidden; /* LM head */
	for (int g = 0; g < a->n_groups; g++) {
		const kvw_layer_group *gr = &a->groups[g];
		double ffn = gr->moe ? moe_layer_weights(a, batch)
			: gr->linear_params - a->attn_params_per_layer;
		params += gr->count * (a->attn_params_per_layer + ffn);
	}
	double tp = f->tp > 0 ? f->tp : 1;
	return params * weight_bytes_per_param / tp + batch * kvw_kv_bytes(a, f, ctx);
}
