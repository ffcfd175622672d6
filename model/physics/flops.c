/* flops.c — prefill FLOPs.
 *
 * Linear part: every active matmul weight is used once per token with a
 * multiply and an add:  2 * P_layer * L per layer (MoE: active experts).
 *
 * Attention part: each scored (query, key) pair costs 2 * d_qk FLOPs for
 * the score and 2 * d_v for the weighted value, per query head:
 *     2 * H * (d_qk + d_v) * pairs(L)
 * which is 2 * 2 * H * d * pairs for MHA/GQA/MQA (d_qk = d_v = d) and uses
 * d_qk = d_nope + d_rope, d_v = v_head_dim for MLA computed as MHA.
 * pairs(L), query i (1-based) seeing keys j with i - W < j <= i:
 *     causal, full:           L (L + 1) / 2
 *     causal, window W < L:   W (W + 1) / 2 + (L - W) W
 *     non-causal:             L * min(L, W)     (for comparison with papers
 *                                                that count the full square)
 * Softmax, norms and rotary embeddings are O(L) or O(pairs) without a d
 * factor and are left out.
 */
#include "kvw_model.h"

#include <math.h>

double kvw_attn_pairs(long window, double L, bool causal)
{
	if (L <= 0)
		return 0;
	double W = window > 0 ? (double)window : INFINITY;
	if (!causal)
		return L * fmin(L, W);
	if (L <= W)
		return L * (L + 1) / 2;
	return W * (W + 1) / 2 + (L - W) * W;
}

double kvw_group_linear_flops(const kvw_arch *a, int g, double L)
{
	return L > 0 ? 2.0 * a->groups[g].linear_params * L : 0;
}

double kvw_group_attn_flops(const kvw_arch *a, int g, double L, bool causal)
{
	return 2.0 * a->n_heads * (double)(a->qk_head_dim + a->v_head_dim)
		* kvw_attn_pairs(a->groups[g].window, L, causal);
}

double kvw_linear_flops(const kvw_arch *a, double L)
{
	double s = 0;
	for (int g = 0; g < a->n_groups; g++)
		s += a->groups[g].count * kvw_group_linear_flops(a, g, L);
	return s;
}

double kvw_attn_flops(const kvw_arch *a, double L, bool causal)
{
	double s = 0;
	for (int g = 0; g < a->n_groups; g++)
		s += a->groups[g].count * kvw_group_attn_flops(a, g, L, causal);
	return s;
}
