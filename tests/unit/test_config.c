/* test_config.c — the config.json and spec-sheet parsers: defaults, layer
 * patterns, and that every bad input is refused with the field named. */
#include <string.h>

#include "check.h"
#include "kvw_config.h"
#include "kvw_model.h"

#define BASE "\"num_hidden_layers\": 4, \"hidden_size\": 512, \"num_attention_heads\": 8, " \
             "\"vocab_size\": 1000, \"intermediate_size\": 1024"

static kvw_err parse(const char *json, kvw_arch *a, kvw_diag *d)
{
	d->msg[0] = '\0';
	return kvw_config_parse(json, strlen(json), "t", a, d);
}

static int windowed(const kvw_arch *a, int layer)
{
	return a->groups[a->layer_group[layer]].window > 0;
}

static void test_defaults_and_patterns(void)
{
	kvw_arch a;
	kvw_diag d;
	CHECK(parse("{" BASE "}", &a, &d) == KVW_OK);
	CHECK(a.n_kv_heads == 8 && a.head_dim == 64 && a.attn == KVW_ATTN_MHA && a.tied_embeddings);
	CHECK(parse("{" BASE ", \"num_key_value_heads\": 1, \"head_dim\": null, \"unknown\": [1]}", &a, &d) == KVW_OK);
	CHECK(a.attn == KVW_ATTN_MQA && a.head_dim == 64);
	/* gemma2: even layers slide */
	CHECK(parse("{" BASE ", \"model_type\": \"gemma2\", \"sliding_window\": 16}", &a, &d) == KVW_OK);
	CHECK(windowed(&a, 0) && !windowed(&a, 1) && windowed(&a, 2) && !windowed(&a, 3));
	/* explicit layer_types win */
	CHECK(parse("{" BASE ", \"sliding_window\": 16, \"layer_types\": [\"full_attention\", "
	            "\"sliding_attention\", \"full_attention\", \"full_attention\"]}", &a, &d) == KVW_OK);
	CHECK(!windowed(&a, 0) && windowed(&a, 1) && !windowed(&a, 2));
	/* sliding_window_pattern 2: layers 1 and 3 are full */
	CHECK(parse("{" BASE ", \"sliding_window\": 16, \"sliding_window_pattern\": 2}", &a, &d) == KVW_OK);
	CHECK(windowed(&a, 0) && !windowed(&a, 1) && windowed(&a, 2) && !windowed(&a, 3));
	/* qwen2: slides from max_window_layers on, only when use_sliding_window */
	CHECK(parse("{" BASE ", \"model_type\": \"qwen2\", \"sliding_window\": 16, \"use_sliding_window\": true, "
	            "\"max_window_layers\": 2}", &a, &d) == KVW_OK);
	CHECK(!windowed(&a, 1) && windowed(&a, 2) && windowed(&a, 3));
	CHECK(parse("{" BASE ", \"model_type\": \"qwen2\", \"sliding_window\": 16, \"use_sliding_window\": false}",
	            &a, &d) == KVW_OK);
	CHECK(!windowed(&a, 3));
	/* MoE with dense first layer */
	CHECK(parse("{" BASE ", \"n_routed_experts\": 4, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 256, "
	            "\"first_k_dense_replace\": 1}", &a, &d) == KVW_OK);
	CHECK(!a.groups[a.layer_group[0]].moe && a.groups[a.layer_group[1]].moe);
	/* OPT: plain FFN from ffn_dim */
	CHECK(parse("{\"model_type\": \"opt\", \"num_hidden_layers\": 2, \"hidden_size\": 64, "
	            "\"num_attention_heads\": 4, \"vocab_size\": 10, \"ffn_dim\": 256}", &a, &d) == KVW_OK);
	CHECK(!a.ffn_gated && a.intermediate == 256);
}

static const struct { const char *json; const char *needle; } bad_rows[] = {
	{ "", "malformed JSON" },
	{ "{\"hidden_size\": 1", "malformed JSON" },
	{ "[1, 2]", "JSON object" },
	{ "{\"hidden_size\": 512, \"num_attention_heads\": 8, \"vocab_size\": 1, \"intermediate_size\": 1}", "num_hidden_layers" },
	{ "{\"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"vocab_size\": 1, \"intermediate_size\": 1}", "hidden_size" },
	{ "{\"num_hidden_layers\": 4, \"hidden_size\": 512, \"num_attention_heads\": 8, \"vocab_size\": 1}", "intermediate_size" },
	{ "{\"num_hidden_layers\": \"4\", \"hidden_size\": 512}", "num_hidden_layers" },
	{ "{\"num_hidden_layers\": 0, \"hidden_size\": 512}", "num_hidden_layers" },
	{ "{\"num_hidden_layers\": -3, \"hidden_size\": 512}", "num_hidden_layers" },
	{ "{\"num_hidden_layers\": 1e300, \"hidden_size\": 512}", "num_hidden_layers" },
	{ "{\"num_hidden_layers\": 4.5, \"hidden_size\": 512}", "num_hidden_layers" },
	{ "{" BASE ", \"num_key_value_heads\": 3}", "num_key_value_heads" },
	{ "{" BASE ", \"hidden_size\": 513}", "duplicate" },
	{ "{\"num_hidden_layers\": 4, \"hidden_size\": 513, \"num_attention_heads\": 8, \"vocab_size\": 1, "
	  "\"intermediate_size\": 1}", "head_dim" },
	{ "{" BASE ", \"num_local_experts\": 8}", "num_experts_per_tok" },
	{ "{" BASE ", \"num_local_experts\": 2, \"num_experts_per_tok\": 3}", "num_experts_per_tok" },
	{ "{" BASE ", \"kv_lora_rank\": 512}", "qk_rope_head_dim" },
	{ "{" BASE ", \"layer_types\": [\"full_attention\"]}", "layer_types" },
	{ "{" BASE ", \"layer_types\": [\"x\", \"x\", \"x\", \"x\"]}", "layer_types" },
	{ "{" BASE ", \"tie_word_embeddings\": 1}", "tie_word_embeddings" },
	{ "{" BASE ", \"model_type\": 7}", "model_type" },
};

static void test_bad_configs(void)
{
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		kvw_arch a;
		kvw_diag d;
		kvw_err err = parse(bad_rows[i].json, &a, &d);
		CHECK(err == KVW_EINPUT);
		if (!strstr(d.msg, bad_rows[i].needle)) {
			fprintf(stderr, "row %zu: message '%s' does not name '%s'\n", i, d.msg, bad_rows[i].needle);
			CHECK(0);
		}
		CHECK(strchr(d.msg, '\n') == NULL);
	}
}

static void test_sheets(void)
{
	kvw_hw_link l;
	kvw_hw_gpu g;
	kvw_diag d;
	const char *ok = "{\"schema\": \"kvwall.hw/1\", \"kind\": \"link\", \"name\": \"x\", \"class\": \"network\", "
	                 "\"bandwidth_GBps\": {\"value\": 50, \"source\": \"s\"}, \"latency_us\": {\"value\": 2, \"source\": \"s\"}}";
	CHECK(kvw_hw_link_parse(ok, strlen(ok), &l, &d) == KVW_OK);
	CHECK_NEAR(l.bw, 50e9, 0);
	CHECK_NEAR(l.latency_s, 2e-6, 1e-12);
	const char *nosrc = "{\"schema\": \"kvwall.hw/1\", \"kind\": \"link\", \"name\": \"x\", \"class\": \"network\", "
	                    "\"bandwidth_GBps\": {\"value\": 50}, \"latency_us\": {\"value\": 2, \"source\": \"s\"}}";
	CHECK(kvw_hw_link_parse(nosrc, strlen(nosrc), &l, &d) == KVW_EINPUT && strstr(d.msg, "source"));
	CHECK(kvw_hw_gpu_parse(ok, strlen(ok), &g, &d) == KVW_EINPUT); /* a link is not a GPU */
	/* every shipped sheet parses and cites its sources */
	kvw_cat_kind kinds[] = { KVW_CAT_GPU, KVW_CAT_LINK, KVW_CAT_MODEL };
	for (int k = 0; k < 3; k++) {
		char **names;
		int n;
		CHECK(kvw_catalog_list(kinds[k], &names, &n, &d) == KVW_OK);
		CHECK(n >= 6);
		for (int i = 0; i < n; i++) {
			kvw_arch a;
			kvw_err err = kinds[k] == KVW_CAT_GPU ? kvw_catalog_gpu(names[i], &g, &d)
				: kinds[k] == KVW_CAT_LINK ? kvw_catalog_link(names[i], &l, &d)
				: kvw_catalog_model(names[i], &a, &d);
			if (err)
				fprintf(stderr, "%s: %s\n", names[i], d.msg);
			CHECK(err == KVW_OK);
			/* every catalog link says what its benchmarks achieve, and where that is from */
			if (kinds[k] == KVW_CAT_LINK)
				CHECK(l.efficiency > 0.5 && l.efficiency <= 1 && strlen(l.efficiency_source) > 40);
		}
		kvw_catalog_free_names(names, n);
	}
	/* achieved_fraction: optional, a cited fraction in (0, 1] */
	const char *frac = "{\"schema\": \"kvwall.hw/1\", \"kind\": \"link\", \"name\": \"x\", \"class\": \"network\", "
	                   "\"bandwidth_GBps\": {\"value\": 50, \"source\": \"s\"}, \"latency_us\": {\"value\": 2, \"source\": \"s\"}, "
	                   "\"achieved_fraction\": {\"value\": %s, \"source\": \"perftest\"}}";
	char buf[512];
	snprintf(buf, sizeof buf, frac, "0.9");
	CHECK(kvw_hw_link_parse(buf, strlen(buf), &l, &d) == KVW_OK && l.efficiency == 0.9
	      && strcmp(l.efficiency_source, "perftest") == 0 && l.bw == 50e9);
	CHECK(kvw_hw_link_parse(ok, strlen(ok), &l, &d) == KVW_OK && l.efficiency == 1 && l.efficiency_source[0] == 0);
	snprintf(buf, sizeof buf, frac, "1.2");
	CHECK(kvw_hw_link_parse(buf, strlen(buf), &l, &d) == KVW_EINPUT && strstr(d.msg, "achieved_fraction"));
	snprintf(buf, sizeof buf, frac, "0");
	CHECK(kvw_hw_link_parse(buf, strlen(buf), &l, &d) == KVW_EINPUT && strstr(d.msg, "achieved_fraction"));
	kvw_arch a;
	/* weights as vLLM's --dtype auto loads them: DeepSeek-V3's fp8 checkpoint 1 byte, bf16/fp16 2 */
	CHECK(kvw_catalog_model("deepseek-v3", &a, &d) == KVW_OK && a.weight_bytes == 1 && strcmp(a.weight_dtype, "fp8") == 0);
	CHECK(kvw_catalog_model("llama-3-8b", &a, &d) == KVW_OK && a.weight_bytes == 2 && strcmp(a.weight_dtype, "bf16") == 0);
	const char *f32 = "{" BASE ", \"torch_dtype\": \"float32\"}";
	CHECK(kvw_config_parse(f32, strlen(f32), NULL, &a, &d) == KVW_OK && a.weight_bytes == 2
	      && strcmp(a.weight_dtype, "fp16") == 0 && strcmp(a.name, "model") == 0);
	const char *named = "{" BASE ", \"_name_or_path\": \"org/Some-Model\"}";
	CHECK(kvw_config_parse(named, strlen(named), NULL, &a, &d) == KVW_OK && strcmp(a.name, "Some-Model") == 0
	      && a.weight_bytes == 0);
	CHECK(kvw_catalog_model("no-such-model", &a, &d) == KVW_EUSAGE && strstr(d.msg, "llama-3-8b"));
	CHECK(kvw_catalog_model("LLAMA-3-8B", &a, &d) == KVW_OK);
}

int main(void)
{
	test_defaults_and_patterns();
	test_bad_configs();
	test_sheets();
	return check_done("test_config");
}
