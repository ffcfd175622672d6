/* memory.c — does a deployment fit, and how much KV cache is left.
 *
 * One GPU of a tensor-parallel group of t holds 1/t of every weight
 * (attention, experts, embeddings and LM head are all sharded, as vLLM
 * and SGLang do with vocab-parallel embeddings), so
 *     weights per GPU = total parameters x bytes per parameter / t.
 * What the engine may use is a fraction u of the GPU's memory (vLLM's
 * --gpu-memory-utilization, default 0.9; SGLang's --mem-fraction-static);
 * after the weights and a reserve for activations and the runtime, the
 * rest holds KV cache:
 *     KV capacity per GPU = u x memory - weights per GPU - reserve.
 * A deployment fits when that capacity holds the KV of the smallest
 * context it must serve (for kvwall's verdicts: one request at the
 * context asked about).
 */
#include "kvw_model.h"

double kvw_weight_bytes_per_gpu(const kvw_arch *a, double bytes_per_param, int tp)
{
	return a->total_params * bytes_per_param / (tp > 0 ? tp : 1);
}

double kvw_kv_capacity_per_gpu(const kvw_arch *a, double bytes_per_param, int tp, const kvw_mem_budget *m)
{
	return m->utilization * m->gpu_bytes - kvw_weight_bytes_per_gpu(a, bytes_per_param, tp) - m->reserve_bytes;
}

bool kvw_deployment_fits(const kvw_arch *a, double bytes_per_param, const kvw_kvfmt *f, const kvw_mem_budget *m,
                         double min_tokens)
{
	double cap = kvw_kv_capacity_per_gpu(a, bytes_per_param, f->tp, m);
	return cap > 0 && cap >= kvw_kv_bytes(a, f, min_tokens);
}

int kvw_smallest_tp_that_fits(const kvw_arch *a, double bytes_per_param, kvw_kvfmt f, const kvw_mem_budget *m,
                              double min_tokens, int max_tp)
{
	char why[160];
	for (int t = 1; t <= max_tp; t *= 2) {
		f.tp = t;
		if (kvw_kvfmt_check(a, &f, why, (int)sizeof why) && kvw_deployment_fits(a, bytes_per_param, &f, m, min_tokens))
			return t;
	}
	return 0;
}
