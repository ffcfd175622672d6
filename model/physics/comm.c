/* comm.c — what tensor parallelism costs in communication.
 *
 * A tensor-parallel transformer layer (Megatron-style: column-parallel QKV
 * and gate/up, row-parallel O and down projections) ends each of its two
 * row-parallel matmuls with an all-reduce of the activations:
 *     2 all-reduces per layer, tokens x hidden x activation bytes each.
 * A ring all-reduce of n bytes over t ranks is a reduce-scatter and an
 * all-gather, 2 (t - 1) steps each moving n / t bytes per rank:
 *     T(n, t) = 2 (t - 1) alpha + 2 (t - 1) / t x n / B
 * with alpha the per-step latency and B one rank's one-direction link
 * bandwidth.  (nccl-tests reports the same factor as busbw = algbw x
 * 2 (t - 1) / t; NCCL's tree and NVLS algorithms cut the latency term at
 * small sizes, which a measured alpha already contains.)  t = 1 costs 0.
 */
#include "kvw_model.h"

double kvw_allreduce_s(double bytes, int tp, const kvw_link *link)
{
	if (tp <= 1 || bytes <= 0)
		return 0;
	double steps = 2.0 * (tp - 1);
	double bw = link->bw > 0 ? link->bw : 0;
	return steps * link->alpha_s + (bw > 0 ? steps / tp * bytes / bw : 0);
}

double kvw_tp_allreduce_s(const kvw_arch *a, double tokens, int tp, double act_bytes, const kvw_link *link)
{
	if (tp <= 1 || tokens <= 0)
		return 0;
	double per = kvw_allreduce_s(tokens * (double)a->hidden * act_bytes, tp, link);
	return 2.0 * a->n_layers * per;
}
