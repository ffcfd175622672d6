/* probe_math.h — the arithmetic of the GPU probes that needs no GPU
 * (probe_math.c), unit-tested in test_harness: one layer's GEMM and
 * attention shapes and their FLOPs (the prefill and overlap probes), the
 * overlap slowdown and when a measurement of it is inconsistent, and a
 * decode-step point. */
#ifndef KVW_PROBE_MATH_H
#define KVW_PROBE_MATH_H

#include <stdbool.h>
#include <stddef.h>

#include "kvw_model.h"

/* One transformer layer as the prefill probe runs it: its linear GEMMs
 * Y[rows T x n] = X[rows T x k] W^T for T tokens, and its causal
 * attention, h heads over h_kv KV heads, query/key size d_qk, value size
 * d_v.
 *   MHA/GQA/MQA  qkv [h -> (H + 2K) d], o [H d -> h]
 *   MLA          as vLLM and SGLang run a prefill: the "compute friendly"
 *                (MHA) form of vllm/v1/attention/backends/mla/common.py,
 *                the latent up-projected per head, so attention is H heads
 *                over H KV heads, d_qk = nope + rope (192 for DeepSeek-V3),
 *                d_v = v_head_dim (128).  GEMMs as vLLM's DeepseekV2
 *                MLAAttention (vllm/model_executor/models/deepseek_v2.py):
 *                q_a+kv_a fused [h -> r_q + r_kv + rope] (fused_qkv_a_proj),
 *                q_b [r_q -> H (nope + rope)], kv_b [r_kv -> H (nope + v)],
 *                o [H v -> h]; with q_lora_rank 0: q [h -> H (nope + rope)]
 *                and kv_a [h -> r_kv + rope]
 *   FFN dense    up (gate+up when gated) [h -> 2 I], down [I -> h]
 *   FFN MoE      router [h -> E] on T rows, then up and down of one
 *                expert's width on T x (top-k + shared) rows (the routed
 *                GEMMs' FLOPs without the grouping)
 * These are the parameter conventions of model/physics/arch.c, so 2 T
 * sum(rows n k) is exactly what the model charges one layer of that group
 * (kvw_group_linear_flops): the probe's TFLOP/s applies to the model's
 * FLOPs unchanged. */
#define KVW_LAYER_MAX_GEMMS 8
typedef struct kvw_layer_gemm {
	const char *name; /* "qkv", "q_b", "router", ... */
	long n, k;
	double rows;   /* rows per token: 1, or top-k + shared experts */
	bool bf16;     /* bf16 even in an fp8 run: the MoE router, which vLLM leaves unquantized */
} kvw_layer_gemm;
typedef struct kvw_layer_shapes {
	int n_gemm;
	kvw_layer_gemm g[KVW_LAYER_MAX_GEMMS];
	int heads, kv_heads, d_qk, d_v;
} kvw_layer_shapes;

/* The shapes of one layer of a (moe: its MoE FFN, else the dense one);
 * false with why when a has no such layer or a size is not positive. */
bool kvw_layer_shapes_of(const kvw_arch *a, bool moe, kvw_layer_shapes *s, char *why, size_t cap);
/* 2 T sum(rows n k): the GEMMs' FLOPs for T tokens */
double kvw_layer_gemm_flops(const kvw_layer_shapes *s, double tokens);
/* 2 H (d_qk + d_v) T (T + 1) / 2: causal attention's FLOPs, the model's
 * convention (kvw_group_attn_flops of a full-attention layer) */
double kvw_layer_attn_flops(const kvw_layer_shapes *s, double tokens);

/* Why the prefill probe cannot time this layer's attention: NULL when the
 * own kernel has the shape (kvw_attn_own_has) or cuDNN is usable for it
 * (cudnn_why NULL), else the reason naming the shape, what the own kernel
 * has, and why cuDNN is not there (cudnn_why: kvw_cudnn_unavailable's
 * answer, or kvw_sdpa_head_refusal's).  The probe records the attention
 * as skipped with it (not failed). */
const char *kvw_prefill_attention_unrunnable(const kvw_layer_shapes *l, const char *cudnn_why, char *buf,
                                             size_t cap);

/* Why the decode probe skips an MLA model (NULL for others): engines
 * decode MLA in the absorbed form (vLLM's "data-movement friendly" path,
 * vllm/v1/attention/backends/mla/common.py): MQA of H query heads over one
 * latent KV head, d_qk = kv_lora_rank + rope (576 for DeepSeek-V3), d_v =
 * kv_lora_rank (512), which neither cuDNN's SDPA (kvw_sdpa_head_refusal:
 * head sizes up to 256) nor the own decode kernel (64 and 128) takes. */
const char *kvw_mla_decode_reason(const kvw_arch *a, char *buf, size_t cap);

/* One side's slowdown under overlap: together / alone, both medians with
 * their standard deviations.  Running beside a copy cannot make GEMMs
 * faster, so a ratio under 1 is noise — or a broken measurement.  Noise
 * is 3 x the combined relative spread plus 1%.  A ratio within noise of
 * 1 or above is kept (slowdown = max(1, ratio), *noise set); one below
 * 1 - noise is refused: false, with why. */
bool kvw_overlap_slowdown(double together, double together_sd, double alone, double alone_sd, double *slowdown,
                          double *noise, char *why, size_t cap);

/* A decode-step point (profile.decode.points[]): one layer's median time
 * layer_s, the bytes it reads (weights + KV), the HBM read bandwidth in
 * bytes/s; fills achieved GB/s, the bound bytes / bw and the fixed time
 * layer_s - bound the bytes do not explain. */
typedef struct kvw_decode_point {
	int batch;
	long ctx;
	double layer_s, step_s, bytes, achieved_gbps, bound_s, fixed_s;
} kvw_decode_point;
void kvw_decode_point_fill(kvw_decode_point *p, int batch, long ctx, double layer_s, int n_layers, double bytes,
                           double read_bw);

/* Bytes one decode layer reads: its weights (params x bytes per param)
 * and the KV of batch sequences of ctx tokens (kv_bytes_per_token of one
 * layer each). */
double kvw_decode_layer_bytes(double layer_params, double weight_bytes, int batch, long ctx, double kv_bytes_per_token);

/* The catalog spec sheet (model/catalog/hardware/gpu) of a CUDA device
 * name, as run_all.sh picks it; NULL when none matches. */
const char *kvw_gpu_sheet_for(const char *device_name);

#endif
