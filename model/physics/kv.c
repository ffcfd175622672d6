/* kv.c — KV cache size.
 *
 * Per token and layer, one GPU caches
 *   MHA/GQA/MQA: 2 * K_gpu vectors of d elements (keys and values), where
 *                K_gpu = max(K / tp, 1): heads replicate when tp > K;
 *   MLA:         one latent of r_kv elements plus one RoPE key of d_rope
 *                elements (no factor 2: values are decompressed from the
 *                latent); every tensor-parallel rank holds the whole latent.
 * A vector of d elements takes d * bytes(dtype); int4 takes d / 2 bytes plus
 * one fp16 scale per KVW_INT4_GROUP elements.
 * A sliding-window layer holds min(L, W) tokens, a full layer L.
 */
#include "kvw_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const dtype_names[KVW_DT_COUNT] = {
	[KVW_DT_BF16] = "bf16", [KVW_DT_FP16] = "fp16", [KVW_DT_FP8] = "fp8",
	[KVW_DT_INT4] = "int4", [KVW_DT_FP32] = "fp32", [KVW_DT_TF32] = "tf32",
};

const char *kvw_dtype_name(kvw_dtype dt)
{
	return (unsigned)dt < KVW_DT_COUNT ? dtype_names[dt] : "?";
}

bool kvw_dtype_parse(const char *s, kvw_dtype *out)
{
	for (int i = 0; i < KVW_DT_COUNT; i++)
		if (strcmp(s, dtype_names[i]) == 0) {
			*out = (kvw_dtype)i;
			return true;
		}
	return false;
}

/* vLLM's --kv-cache-dtype choices (engine arguments: auto, fp8, fp8_e4m3,
 * fp8_e5m2); auto keeps the model's 16-bit dtype, 2 bytes like bf16 */
static const struct { const char *alias; kvw_dtype dt; } kv_aliases[] = {
	{ "auto", KVW_DT_BF16 }, { "fp8_e4m3", KVW_DT_FP8 }, { "fp8_e5m2", KVW_DT_FP8 },
};

bool kvw_kv_dtype_parse(const char *s, kvw_dtype *out)
{
	for (size_t i = 0; i < sizeof kv_aliases / sizeof kv_aliases[0]; i++)
		if (strcmp(s, kv_aliases[i].alias) == 0) {
			*out = kv_aliases[i].dt;
			return true;
		}
	return kvw_dtype_parse(s, out);
}

bool kvw_kvfmt_check(const kvw_arch *a, const kvw_kvfmt *f, char *why, int whylen)
{
	if (f->dtype != KVW_DT_BF16 && f->dtype != KVW_DT_FP16 && f->dtype != KVW_DT_FP8
	    && f->dtype != KVW_DT_INT4) {
		snprintf(why, (size_t)whylen, "KV dtype %s is not one of bf16, fp16, fp8, int4",
		         kvw_dtype_name(f->dtype));
		return false;
	}
	if (f->tp < 1 || f->tp > a->n_heads || a->n_heads % f->tp) {
		snprintf(why, (size_t)whylen, "--tp %d must divide the %d attention heads of %s",
		         f->tp, a->n_heads, a->name);
		return false;
	}
	if (a->attn != KVW_ATTN_MLA) {
		int k = a->n_kv_heads;
		if ((f->tp <= k && k % f->tp) || (f->tp > k && f->tp % k)) {
			snprintf(why, (size_t)whylen,
			         "--tp %d and the %d KV heads of %s: one must divide the other",
			         f->tp, k, a->name);
			return false;
		}
	}
	return true;
}

int kvw_kv_heads_per_gpu(const kvw_arch *a, int tp)
{
	if (a->attn == KVW_ATTN_MLA)
		return 1;
	int k = a->n_kv_heads / (tp > 0 ? tp : 1);
	return k > 1 ? k : 1;
}

static double vector_bytes(kvw_dtype dt, int d)
{
	switch (dt) {
	case KVW_DT_FP8: return d;
	case KVW_DT_INT4: return d / 2.0 + 2.0 * ((d + KVW_INT4_GROUP - 1) / KVW_INT4_GROUP);
	case KVW_DT_FP32: return 4.0 * d;
	default: return 2.0 * d;
	}
}

double kvw_kv_bytes_per_token_layer(const kvw_arch *a, const kvw_kvfmt *f)
{
	if (a->attn == KVW_ATTN_MLA)
		return vector_bytes(f->dtype, a->kv_lora_rank) + vector_bytes(f->dtype, a->qk_rope_head_dim);
	return 2.0 * kvw_kv_heads_per_gpu(a, f->tp) * vector_bytes(f->dtype, a->head_dim);
}

double kvw_kv_bytes_per_token(const kvw_arch *a, const kvw_kvfmt *f)
{
	return kvw_arch_kv_layers(a) * kvw_kv_bytes_per_token_layer(a, f);
}

double kvw_tokens_held(long window, double L)
{
	if (L <= 0)
		return 0;
	return window > 0 ? fmin(L, (double)window) : L;
}

double kvw_kv_bytes(const kvw_arch *a, const kvw_kvfmt *f, double L)
{
	double per = kvw_kv_bytes_per_token_layer(a, f), sum = 0;
	for (int g = 0; g < a->n_groups; g++)
		sum += a->groups[g].count * kvw_tokens_held(a->groups[g].window, L);
	return per * sum;
}
