/* probe_math.c — the GPU probes' arithmetic without a GPU (probe_math.h). */
#include "probe_math.h"

#include "kvw_gpuplan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void add_gemm(kvw_layer_shapes *s, const char *name, long n, long k, double rows, bool bf16)
{
	s->g[s->n_gemm++] = (kvw_layer_gemm){ .name = name, .n = n, .k = k, .rows = rows, .bf16 = bf16 };
}

/* the attention GEMMs of an MLA layer in vLLM's prefill (probe_math.h) */
static void mla_gemms(const kvw_arch *a, kvw_layer_shapes *s)
{
	long h = a->hidden, H = a->n_heads, dq = a->qk_nope_head_dim + a->qk_rope_head_dim;
	long kv_a = (long)a->kv_lora_rank + a->qk_rope_head_dim;
	if (a->q_lora_rank > 0) {
		add_gemm(s, "q_a+kv_a", a->q_lora_rank + kv_a, h, 1, false);
		add_gemm(s, "q_b", H * dq, a->q_lora_rank, 1, false);
	} else {
		add_gemm(s, "q", H * dq, h, 1, false);
		add_gemm(s, "kv_a", kv_a, h, 1, false);
	}
	add_gemm(s, "kv_b", H * (a->qk_nope_head_dim + a->v_head_dim), a->kv_lora_rank, 1, false);
	add_gemm(s, "o", h, H * a->v_head_dim, 1, false);
	s->heads = s->kv_heads = a->n_heads;
	s->d_qk = (int)dq;
	s->d_v = a->v_head_dim;
}

static void mha_gemms(const kvw_arch *a, kvw_layer_shapes *s)
{
	long h = a->hidden, qd = (long)a->n_heads * a->head_dim, kvd = (long)a->n_kv_heads * a->head_dim;
	add_gemm(s, "qkv", qd + 2 * kvd, h, 1, false);
	add_gemm(s, "o", h, qd, 1, false);
	s->heads = a->n_heads;
	s->kv_heads = a->n_kv_heads;
	s->d_qk = s->d_v = a->head_dim;
}

static void ffn_gemms(const kvw_arch *a, bool moe, kvw_layer_shapes *s)
{
	long width = moe ? a->moe_intermediate : a->intermediate;
	double rows = moe ? a->experts_per_token + a->n_shared_experts : 1;
	if (moe)
		add_gemm(s, "router", a->n_experts, a->hidden, 1, true);
	add_gemm(s, "up", (a->ffn_gated ? 2 : 1) * width, a->hidden, rows, false);
	add_gemm(s, "down", a->hidden, width, rows, false);
}

bool kvw_layer_shapes_of(const kvw_arch *a, bool moe, kvw_layer_shapes *s, char *why, size_t cap)
{
	memset(s, 0, sizeof *s);
	if (moe && a->n_experts < 1) {
		snprintf(why, cap, "%s has no MoE layer", a->name);
		return false;
	}
	if (a->attn == KVW_ATTN_MLA)
		mla_gemms(a, s);
	else
		mha_gemms(a, s);
	ffn_gemms(a, moe, s);
	for (int i = 0; i < s->n_gemm; i++)
		if (s->g[i].n < 1 || s->g[i].k < 1) {
			snprintf(why, cap, "%s: the %s GEMM has a size that is not positive (%ld x %ld)", a->name,
			         s->g[i].name, s->g[i].n, s->g[i].k);
			return false;
		}
	if (s->heads < 1 || s->kv_heads < 1 || s->d_qk < 1 || s->d_v < 1) {
		snprintf(why, cap, "%s: attention sizes not positive", a->name);
		return false;
	}
	return true;
}

double kvw_layer_gemm_flops(const kvw_layer_shapes *s, double tokens)
{
	double f = 0;
	for (int i = 0; i < s->n_gemm; i++)
		f += 2.0 * tokens * s->g[i].rows * (double)s->g[i].n * (double)s->g[i].k;
	return f;
}

double kvw_layer_attn_flops(const kvw_layer_shapes *s, double tokens)
{
	return 2.0 * s->heads * (double)(s->d_qk + s->d_v) * kvw_attn_pairs(0, tokens, true);
}

const char *kvw_prefill_attention_unrunnable(const kvw_layer_shapes *l, const char *cudnn_why, char *buf,
                                             size_t cap)
{
	if (kvw_attn_own_has(l->d_qk, l->d_v, l->heads, l->kv_heads) || !cudnn_why)
		return NULL;
	snprintf(buf, cap, "attention of d_qk %d, d_v %d (%d heads over %d KV heads) runs through cuDNN only (the own "
	         "kernel has one head size of 64 or 128 for Q, K and V): %s", l->d_qk, l->d_v, l->heads, l->kv_heads,
	         cudnn_why);
	return buf;
}

const char *kvw_mla_decode_reason(const kvw_arch *a, char *buf, size_t cap)
{
	if (a->attn != KVW_ATTN_MLA)
		return NULL;
	int d_qk = a->kv_lora_rank + a->qk_rope_head_dim, d_v = a->kv_lora_rank;
	char no[192];
	const char *cudnn = kvw_sdpa_head_refusal(d_qk, d_v, false, 90, no, sizeof no);
	snprintf(buf, cap, "MLA decode is absorbed: MQA, %d heads over 1 latent KV head, d_qk %d, d_v %d; no kernel "
	         "here has it (%s; own kernel: 64, 128)", a->n_heads, d_qk, d_v,
	         cudnn ? cudnn : "cuDNN's paged SDPA graph is not built for it");
	return buf;
}

bool kvw_overlap_slowdown(double together, double together_sd, double alone, double alone_sd, double *slowdown,
                          double *noise, char *why, size_t cap)
{
	*slowdown = NAN;
	*noise = NAN;
	if (!(together > 0) || !(alone > 0) || !(together_sd >= 0) || !(alone_sd >= 0)) {
		snprintf(why, cap, "overlap: a time is not positive (together %g s, alone %g s)", together, alone);
		return false;
	}
	double rt = together_sd / together, ra = alone_sd / alone, ratio = together / alone;
	*noise = 3.0 * sqrt(rt * rt + ra * ra) + 0.01;
	if (ratio < 1.0 - *noise) {
		snprintf(why, cap, "overlap: together %.4g s is faster than alone %.4g s (ratio %.3f, noise %.3f): the "
		         "streams did not overlap as timed, or the alone run was disturbed", together, alone, ratio, *noise);
		return false;
	}
	*slowdown = ratio > 1.0 ? ratio : 1.0;
	return true;
}

void kvw_decode_point_fill(kvw_decode_point *p, int batch, long ctx, double layer_s, int n_layers, double bytes,
                           double read_bw)
{
	p->batch = batch;
	p->ctx = ctx;
	p->layer_s = layer_s;
	p->step_s = layer_s * n_layers;
	p->bytes = bytes;
	p->achieved_gbps = bytes / layer_s / 1e9;
	p->bound_s = bytes / read_bw;
	p->fixed_s = layer_s - p->bound_s;
}

double kvw_decode_layer_bytes(double layer_params, double weight_bytes, int batch, long ctx, double kv_bytes_per_token)
{
	return layer_params * weight_bytes + (double)batch * (double)ctx * kv_bytes_per_token;
}

const char *kvw_gpu_sheet_for(const char *n)
{
	if (!n)
		return NULL;
	if (strstr(n, "GH200"))
		return "gh200";
	if (strstr(n, "H200"))
		return "h200";
	if (strstr(n, "H100"))
		return strstr(n, "PCIe") ? "h100-pcie" : "h100-sxm";
	if (strstr(n, "B200"))
		return "b200";
	if (strstr(n, "A100"))
		return "a100-sxm";
	return NULL;
}
