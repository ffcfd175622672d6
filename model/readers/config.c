/* config.c — Hugging Face config.json -> kvw_arch.
 *
 * Reads the fields the transformers configuration classes define, with
 * their defaults, for the families kvwall's model covers:
 *   every model:  num_hidden_layers, hidden_size, num_attention_heads,
 *                 vocab_size, intermediate_size (OPT: ffn_dim);
 *                 num_key_value_heads (default: heads), head_dim (default:
 *                 hidden / heads), tie_word_embeddings (default true)
 *   MoE:          num_local_experts | n_routed_experts | num_experts,
 *                 num_experts_per_tok, moe_intermediate_size,
 *                 n_shared_experts, first_k_dense_replace, moe_layer_freq
 *   MLA:          kv_lora_rank, q_lora_rank, qk_rope_head_dim,
 *                 qk_nope_head_dim, v_head_dim
 *   windows:      layer_types ("sliding_attention" / "full_attention"),
 *                 else sliding_window with the family's layer pattern:
 *                 gemma2 even layers, sliding_window_pattern P (layer i
 *                 slides unless (i + 1) % P == 0), qwen2 layers >=
 *                 max_window_layers when use_sliding_window, else all.
 *   weights:      quantization_config.quant_method "fp8" -> 1 byte per
 *                 weight, else torch_dtype as vLLM's --dtype auto loads it
 *                 (bf16 stays bf16, fp16 and fp32 load as fp16: 2 bytes)
 * A field set to null counts as absent.  Unknown fields are ignored.  A
 * config without "_name_or_path" is named after its file (config.json:
 * its directory, as a Hugging Face snapshot is laid out).
 */
#include "kvw_config.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (1L << 40)

/* families whose FFN is up-projection, activation, down-projection */
static const char *const plain_ffn_types[] = {
	"opt", "gpt2", "gpt_neox", "gptj", "bloom", "falcon", "phi", NULL,
};

static json_t *field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_null(v) ? NULL : v;
}

/* integer field in [lo, hi]; returns 0 found, 1 absent, -1 bad (d filled) */
static int get_long(json_t *o, const char *key, long lo, long hi, long *out, kvw_diag *d)
{
	json_t *v = field(o, key);
	if (!v)
		return 1;
	double x;
	if (json_is_integer(v))
		x = (double)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
		x = json_real_value(v);
	else {
		kvw_fail(d, KVW_EINPUT, "field '%s' must be an integer", key);
		return -1;
	}
	if (!(x >= (double)lo && x <= (double)hi)) {
		kvw_fail(d, KVW_EINPUT, "field '%s' = %.0f is outside [%ld, %ld]", key, x, lo, hi);
		return -1;
	}
	*out = (long)x;
	return 0;
}

static int get_int(json_t *o, const char *key, long lo, long hi, int *out, kvw_diag *d)
{
	long v;
	int rc = get_long(o, key, lo, hi > INT_MAX ? INT_MAX : hi, &v, d);
	if (rc == 0)
		*out = (int)v;
	return rc;
}

static int need_long(json_t *o, const char *key, long lo, long hi, long *out, kvw_diag *d)
{
	int rc = get_long(o, key, lo, hi, out, d);
	if (rc == 1)
		kvw_fail(d, KVW_EINPUT, "required field '%s' is missing", key);
	return rc == 0 ? 0 : -1;
}

static int get_bool(json_t *o, const char *key, bool *out, kvw_diag *d)
{
	json_t *v = field(o, key);
	if (!v)
		return 1;
	if (!json_is_boolean(v)) {
		kvw_fail(d, KVW_EINPUT, "field '%s' must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int get_str(json_t *o, const char *key, char *out, size_t cap, kvw_diag *d)
{
	json_t *v = field(o, key);
	if (!v)
		return 1;
	if (!json_is_string(v)) {
		kvw_fail(d, KVW_EINPUT, "field '%s' must be a string", key);
		return -1;
	}
	snprintf(out, cap, "%s", json_string_value(v));
	return 0;
}

static bool plain_ffn(const char *model_type)
{
	for (int i = 0; plain_ffn_types[i]; i++)
		if (strcmp(model_type, plain_ffn_types[i]) == 0)
			return true;
	return false;
}

static int read_heads(json_t *o, kvw_arch *a, kvw_diag *d)
{
	long v;
	if (need_long(o, "num_hidden_layers", 1, KVW_MAX_LAYERS, &v, d)
	    || need_long(o, "hidden_size", 1, 1L << 20, &a->hidden, d))
		return -1;
	long layers = v;
	if (need_long(o, "num_attention_heads", 1, 1L << 16, &v, d))
		return -1;
	a->n_heads = (int)v;
	if (need_long(o, "vocab_size", 1, 1L << 24, &a->vocab, d))
		return -1;
	a->n_kv_heads = a->n_heads;
	if (get_int(o, "num_key_value_heads", 1, 1L << 16, &a->n_kv_heads, d) < 0)
		return -1;
	int rc = get_int(o, "head_dim", 1, 1L << 16, &a->head_dim, d);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (a->hidden % a->n_heads) {
			kvw_fail(d, KVW_EINPUT, "hidden_size %ld is not a multiple of num_attention_heads %d "
			         "and there is no head_dim", a->hidden, a->n_heads);
			return -1;
		}
		a->head_dim = (int)(a->hidden / a->n_heads);
	}
	if (get_long(o, "max_position_embeddings", 1, BIG, &a->max_position, d) < 0)
		return -1;
	a->tied_embeddings = true;
	if (get_bool(o, "tie_word_embeddings", &a->tied_embeddings, d) < 0)
		return -1;
	return (int)layers;
}

static int read_mla(json_t *o, kvw_arch *a, kvw_diag *d)
{
	int rc = get_int(o, "kv_lora_rank", 1, 1L << 20, &a->kv_lora_rank, d);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	const char *keys[] = { "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim" };
	int *dst[] = { &a->qk_rope_head_dim, &a->qk_nope_head_dim, &a->v_head_dim };
	for (int i = 0; i < 3; i++) {
		rc = get_int(o, keys[i], 1, 1L << 16, dst[i], d);
		if (rc == 1)
			kvw_fail(d, KVW_EINPUT, "MLA model (kv_lora_rank set): required field '%s' is missing", keys[i]);
		if (rc)
			return -1;
	}
	return get_int(o, "q_lora_rank", 1, 1L << 20, &a->q_lora_rank, d) < 0 ? -1 : 0;
}

static int read_ffn(json_t *o, kvw_arch *a, kvw_diag *d)
{
	int rc = get_long(o, "intermediate_size", 1, BIG, &a->intermediate, d);
	if (rc == 1)
		rc = get_long(o, "ffn_dim", 1, BIG, &a->intermediate, d);
	if (rc == 1)
		kvw_fail(d, KVW_EINPUT, "required field 'intermediate_size' (or 'ffn_dim') is missing");
	if (rc)
		return -1;
	a->ffn_gated = !plain_ffn(a->model_type);
	const char *expert_keys[] = { "num_local_experts", "n_routed_experts", "num_experts" };
	for (int i = 0; i < 3 && a->n_experts == 0; i++)
		if (get_int(o, expert_keys[i], 1, 1L << 16, &a->n_experts, d) < 0)
			return -1;
	if (a->n_experts == 0)
		return 0;
	rc = get_int(o, "num_experts_per_tok", 1, a->n_experts, &a->experts_per_token, d);
	if (rc == 1)
		kvw_fail(d, KVW_EINPUT, "MoE model: required field 'num_experts_per_tok' is missing");
	if (rc)
		return -1;
	a->moe_intermediate = a->intermediate;
	if (get_long(o, "moe_intermediate_size", 1, BIG, &a->moe_intermediate, d) < 0
	    || get_int(o, "n_shared_experts", 0, 1L << 16, &a->n_shared_experts, d) < 0)
		return -1;
	return 0;
}

/* window of each layer: returns 0 or -1 */
static int read_windows(json_t *o, const kvw_arch *a, int layers, long *win, kvw_diag *d)
{
	long w = 0;
	bool use = true;
	if (get_long(o, "sliding_window", 1, BIG, &w, d) < 0 || get_bool(o, "use_sliding_window", &use, d) < 0)
		return -1;
	json_t *types = field(o, "layer_types");
	if (types) {
		if (!json_is_array(types) || json_array_size(types) != (size_t)layers) {
			kvw_fail(d, KVW_EINPUT, "field 'layer_types' must be an array of %d strings", layers);
			return -1;
		}
		for (int i = 0; i < layers; i++) {
			const char *t = json_string_value(json_array_get(types, (size_t)i));
			if (t && strcmp(t, "full_attention") == 0)
				win[i] = 0;
			else if (t && strcmp(t, "sliding_attention") == 0 && w > 0)
				win[i] = w;
			else {
				kvw_fail(d, KVW_EINPUT, "field 'layer_types'[%d]: expected \"full_attention\" or "
				         "\"sliding_attention\" (with sliding_window set)", i);
				return -1;
			}
		}
		return 0;
	}
	long pattern = 0, max_window_layers = 0;
	if (get_long(o, "sliding_window_pattern", 1, BIG, &pattern, d) < 0
	    || get_long(o, "max_window_layers", 0, BIG, &max_window_layers, d) < 0)
		return -1;
	for (int i = 0; i < layers; i++) {
		bool slide = w > 0 && use;
		if (slide && strcmp(a->model_type, "gemma2") == 0)
			slide = i % 2 == 0;
		else if (slide && pattern > 0)
			slide = (i + 1) % pattern != 0;
		else if (slide && strncmp(a->model_type, "qwen2", 5) == 0)
			slide = i >= max_window_layers;
		win[i] = slide ? w : 0;
	}
	return 0;
}

/* what vLLM's --dtype auto loads (vllm/config.py ModelConfig: "auto" uses
 * FP16 for FP32 and FP16 models, BF16 for BF16 models) */
static int read_weight_dtype(json_t *o, kvw_arch *a, kvw_diag *d)
{
	char dt[32] = "", quant[32] = "";
	json_t *q = field(o, "quantization_config");
	if (get_str(o, "torch_dtype", dt, sizeof dt, d) < 0 || (json_is_object(q)
	    && get_str(q, "quant_method", quant, sizeof quant, d) < 0))
		return -1;
	const char *name = strcmp(quant, "fp8") == 0 ? "fp8" : strcmp(dt, "bfloat16") == 0 ? "bf16"
		: strcmp(dt, "float16") == 0 || strcmp(dt, "float32") == 0 ? "fp16" : NULL;
	if (name) {
		a->weight_bytes = strcmp(name, "fp8") == 0 ? 1 : 2;
		snprintf(a->weight_dtype, sizeof a->weight_dtype, "%s", name);
	}
	return 0;
}

static kvw_err parse_root(json_t *o, kvw_arch *a, kvw_diag *d)
{
	if (get_str(o, "model_type", a->model_type, sizeof a->model_type, d) < 0 || read_weight_dtype(o, a, d) < 0)
		return KVW_EINPUT;
	int layers = read_heads(o, a, d);
	if (layers < 0 || read_mla(o, a, d) || read_ffn(o, a, d))
		return KVW_EINPUT;
	long dense_first = 0, freq = 1;
	if (get_long(o, "first_k_dense_replace", 0, layers, &dense_first, d) < 0
	    || get_long(o, "moe_layer_freq", 1, BIG, &freq, d) < 0)
		return KVW_EINPUT;
	long win[KVW_MAX_LAYERS];
	if (read_windows(o, a, layers, win, d))
		return KVW_EINPUT;
	a->n_layers = 0;
	for (int i = 0; i < layers; i++) {
		bool moe = a->n_experts > 0 && i >= dense_first && i % freq == 0;
		if (!kvw_arch_add_layer(a, win[i], moe))
			return kvw_fail(d, KVW_EINPUT, "more than %d distinct layer kinds", KVW_MAX_GROUPS);
	}
	char why[256];
	if (!kvw_arch_finish(a, why, sizeof why))
		return kvw_fail(d, KVW_EINPUT, "%s", why);
	return KVW_OK;
}

static kvw_err parse_named(const char *text, size_t len, const char *name, const char *fallback, kvw_arch *out,
                           kvw_diag *d)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return kvw_fail(d, KVW_EINPUT, "malformed JSON at line %d column %d: %s",
		                jerr.line, jerr.column, jerr.text);
	kvw_err err = KVW_OK;
	if (!json_is_object(root)) {
		err = kvw_fail(d, KVW_EINPUT, "config.json must hold a JSON object");
		goto out;
	}
	memset(out, 0, sizeof *out);
	if (name)
		snprintf(out->name, sizeof out->name, "%s", name);
	else if (get_str(root, "_name_or_path", out->name, sizeof out->name, d) == 0) {
		const char *slash = strrchr(out->name, '/'); /* "meta-llama/Meta-Llama-3-8B": the model's own name */
		if (slash && slash[1])
			memmove(out->name, slash + 1, strlen(slash + 1) + 1);
	} else
		snprintf(out->name, sizeof out->name, "%s", fallback);
	err = parse_root(root, out, d);
out:
	json_decref(root);
	return err;
}

kvw_err kvw_config_parse(const char *text, size_t len, const char *name, kvw_arch *out, kvw_diag *d)
{
	return parse_named(text, len, name, "model", out, d);
}

/* the file's stem, or for .../NAME/config.json the directory NAME */
static void name_from_path(const char *path, char *out, size_t cap)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strcmp(base, "config.json") == 0 && base - path >= 2) {
		const char *end = base - 1, *start = end;
		while (start > path && start[-1] != '/')
			start--;
		if (end > start) {
			snprintf(out, cap, "%.*s", (int)(end - start), start);
			return;
		}
	}
	const char *dot = strrchr(base, '.');
	snprintf(out, cap, "%.*s", (int)(dot && dot > base ? dot - base : (ptrdiff_t)strlen(base)), base);
	if (!out[0])
		snprintf(out, cap, "model");
}

kvw_err kvw_config_load(const char *path, const char *name, kvw_arch *out, kvw_diag *d)
{
	char *buf;
	size_t len;
	kvw_err err = kvw_read_file(path, 1u << 24, &buf, &len, d);
	if (err)
		return err;
	char fallback[KVW_NAME_LEN];
	name_from_path(path, fallback, sizeof fallback);
	err = parse_named(buf, len, name, fallback, out, d);
	free(buf);
	return err ? kvw_prefix(d, err, path) : KVW_OK;
}
