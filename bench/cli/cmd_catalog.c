/* cmd_catalog.c — kvwall models and kvwall hw: what the catalog holds. */
#include <stdio.h>
#include <stdlib.h>

#include "cmds.h"
#include "kvw_config.h"
#include "kvw_model.h"
#include "out.h"
#include "scenario.h"

static const kvw_opt opts[] = {
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const char *attn_names[] = { "MHA", "GQA", "MQA", "MLA" };

static void model_row(kvw_out *o, const kvw_arch *m)
{
	kvw_kvfmt bf16 = { KVW_DT_BF16, 1 };
	long window = 0;
	int sliding = 0;
	for (int g = 0; g < m->n_groups; g++)
		if (m->groups[g].window > 0) {
			window = m->groups[g].window;
			sliding += m->groups[g].count;
		}
	json_t *row[] = {
		json_string(m->name), json_string(m->model_type), json_string(attn_names[m->attn]),
		json_integer(m->n_layers), json_integer(m->n_heads), json_integer(m->n_kv_heads),
		json_integer(sliding), window ? json_integer(window) : json_null(),
		json_integer(m->n_experts), kvw_num(m->active_params / 1e9), kvw_num(m->total_params / 1e9),
		kvw_num(kvw_kv_bytes_per_token(m, &bf16)),
	};
	kvw_out_row(o, row);
}

static kvw_err run_models(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->catalog)
		kvw_catalog_set_dir(a->catalog);
	char **names;
	int n;
	kvw_err err = kvw_catalog_list(KVW_CAT_MODEL, &names, &n, d);
	if (err)
		return err;
	kvw_arch *m = malloc(sizeof *m);
	kvw_out o;
	kvw_out_init(&o, "kvwall.models/1");
	if (!m) {
		err = kvw_fail(d, KVW_ESYS, "out of memory");
		goto out;
	}
	snprintf(o.title, sizeof o.title, "Models in %s/models", kvw_catalog_dir());
	kvw_out_table(&o, "models");
	const char *cols[][3] = {
		{ "name", "name", NULL }, { "model_type", "type", NULL }, { "attention", "attn", NULL },
		{ "layers", "layers", NULL }, { "heads", "heads", NULL }, { "kv_heads", "KV heads", NULL },
		{ "sliding_layers", "sliding", NULL }, { "window", "window", NULL }, { "experts", "experts", NULL },
		{ "active_params_b", "active B", "%.2f" }, { "total_params_b", "total B", "%.2f" },
		{ "kv_bytes_per_token_bf16", "KV B/token bf16", "%.0f" },
	};
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
		kvw_out_col(&o, cols[c][0], cols[c][1], cols[c][2]);
	for (int i = 0; i < n; i++) {
		if ((err = kvw_catalog_model(names[i], m, d)))
			goto out;
		model_row(&o, m);
	}
	kvw_out_note(&o, "active params: non-embedding matmul weights a token uses (MoE: active experts); "
	             "total: every expert plus embeddings");
	err = kvw_out_emit(&o, a, argc, argv, d);
out:
	free(m);
	kvw_out_free(&o);
	kvw_catalog_free_names(names, n);
	return err;
}

static kvw_err add_gpus(kvw_out *o, kvw_diag *d)
{
	char **names;
	int n;
	kvw_err err = kvw_catalog_list(KVW_CAT_GPU, &names, &n, d);
	for (int i = 0; i < n && !err; i++) {
		kvw_hw_gpu g;
		if ((err = kvw_catalog_gpu(names[i], &g, d)))
			break;
		json_t *row[] = {
			json_string("gpu"), json_string(g.name), kvw_num(g.hbm_bw / 1e9), json_null(),
			kvw_num(g.peak_flops[KVW_DT_BF16] / 1e12),
			g.peak_flops[KVW_DT_FP8] > 0 ? kvw_num(g.peak_flops[KVW_DT_FP8] / 1e12) : json_null(),
			json_null(), kvw_num(g.memory_bytes / 1e9), g.host_link[0] ? json_string(g.host_link) : json_null(),
			g.peer_link[0] ? json_string(g.peer_link) : json_null(), json_string(g.description),
		};
		kvw_out_row(o, row);
	}
	kvw_catalog_free_names(names, n);
	return err;
}

static kvw_err add_links(kvw_out *o, kvw_diag *d)
{
	char **names;
	int n;
	kvw_err err = kvw_catalog_list(KVW_CAT_LINK, &names, &n, d);
	for (int i = 0; i < n && !err; i++) {
		kvw_hw_link l;
		if ((err = kvw_catalog_link(names[i], &l, d)))
			break;
		json_t *row[] = {
			json_string(l.kind), json_string(l.name), kvw_num(l.bw / 1e9), kvw_num(l.latency_s * 1e6),
			json_null(), json_null(), kvw_num(l.efficiency), json_null(), json_null(), json_null(),
			json_string(l.description),
		};
		kvw_out_row(o, row);
	}
	kvw_catalog_free_names(names, n);
	return err;
}

static kvw_err run_hw(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->catalog)
		kvw_catalog_set_dir(a->catalog);
	kvw_out o;
	kvw_out_init(&o, "kvwall.hw/1-list");
	snprintf(o.title, sizeof o.title, "Spec sheets in %s/hardware", kvw_catalog_dir());
	kvw_out_table(&o, "hardware");
	kvw_out_col(&o, "class", "class", NULL);
	kvw_out_col(&o, "name", "name", NULL);
	kvw_out_col(&o, "bandwidth_GBps", "GB/s", "%.4g");
	kvw_out_col(&o, "latency_us", "latency us", "%.3g");
	kvw_out_col(&o, "bf16_tflops", "bf16 TFLOP/s", "%.1f");
	kvw_out_col(&o, "fp8_tflops", "fp8 TFLOP/s", "%.1f");
	kvw_out_col(&o, "achieved_fraction", "achieved", "%.3g");
	kvw_out_col(&o, "memory_GB", "memory GB", "%.0f");
	kvw_out_col(&o, "host_link", "host link", NULL);
	kvw_out_col(&o, "peer_link", "peer link", NULL);
	kvw_out_col(&o, "description", "description", NULL);
	kvw_err err = add_gpus(&o, d);
	if (!err)
		err = add_links(&o, d);
	kvw_out_note(&o, "GPU bandwidth is HBM; link bandwidth is one direction, data rate; dense peaks (no sparsity); "
	             "achieved: the fraction of a link's rate its usual benchmark reaches (perftest, nccl-tests, iperf3, "
	             "nvbandwidth), which the model applies; every value's source is in its JSON sheet");
	if (!err)
		err = kvw_out_emit(&o, a, argc, argv, d);
	kvw_out_free(&o);
	return err;
}

const kvw_cmd kvw_cmd_models = {
	"models", "[--json | --csv]", "the model architectures in the catalog", opts, 0, run_models,
};

const kvw_cmd kvw_cmd_hw = {
	"hw", "[--json | --csv]", "the GPU and link spec sheets in the catalog", opts, 0, run_hw,
};
