/* cmd_kv.c — kvwall kv: how many bytes of KV cache a context costs, and
 * (with --hw) whether the weights and that KV fit the GPU; --tp 1,2,4,8
 * compares tensor-parallel degrees in a table. */
#include <stdio.h>
#include <stdlib.h>

#include "cmds.h"
#include "kvw_model.h"
#include "out.h"
#include "scenario.h"

static const kvw_opt opts[] = {
	KVW_OPTS_MODEL,
	{ "ctx", KVW_OPT_LONG, KVW_ARG(ctx), "8192", 1, 1L << 24, "context length in tokens [cut to the model's window]" },
	{ "hw", KVW_OPT_STR, KVW_ARG(hw), NULL, 0, 0, "GPU spec sheet whose memory the weights and KV must fit (kvwall hw)" },
	KVW_OPTS_MEMORY,
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const char *attn_name(const kvw_arch *a)
{
	static const char *const n[] = { "MHA", "GQA", "MQA", "MLA" };
	return n[a->attn];
}

/* one row per --tp value */
static kvw_err tp_table(kvw_setup *s, kvw_out *o, kvw_diag *d)
{
	kvw_out_table(o, "tp_rows");
	kvw_out_col(o, "tp", "TP", NULL);
	kvw_out_col(o, "kv_heads_per_gpu", "KV heads/GPU", NULL);
	kvw_out_col(o, "kv_bytes_per_token", "KV B/token/GPU", "%.0f");
	kvw_out_col(o, "kv_bytes_total", "KV B at ctx/GPU", "%.0f");
	kvw_out_col(o, "weights_per_gpu_bytes", "weights B/GPU", "%.0f");
	kvw_out_col(o, "kv_capacity_per_gpu_bytes", "KV capacity B/GPU", "%.0f");
	kvw_out_col(o, "fits", "fits", NULL);
	char why[256];
	for (int i = 0; i < s->n_tps; i++) {
		kvw_kvfmt f = { s->sc.kv.dtype, (int)s->tps[i] };
		if (!kvw_kvfmt_check(&s->arch, &f, why, sizeof why))
			return kvw_fail(d, KVW_EUSAGE, "%s", why);
		double cap = kvw_kv_capacity_per_gpu(&s->arch, s->weight_bytes, f.tp, &s->mem);
		json_t *row[] = {
			json_integer(f.tp), json_integer(kvw_kv_heads_per_gpu(&s->arch, f.tp)),
			kvw_num(kvw_kv_bytes_per_token(&s->arch, &f)), kvw_num(kvw_kv_bytes(&s->arch, &f, (double)s->ctx)),
			kvw_num(kvw_weight_bytes_per_gpu(&s->arch, s->weight_bytes, f.tp)),
			s->have_gpu ? kvw_num(cap) : json_null(),
			s->have_gpu ? json_boolean(kvw_deployment_fits(&s->arch, s->weight_bytes, &f, &s->mem, (double)s->ctx))
			            : json_null(),
		};
		kvw_out_row(o, row);
	}
	return KVW_OK;
}

static kvw_err run(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	kvw_setup *s = calloc(1, sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_out o;
	kvw_out_init(&o, "kvwall.kv/1");
	kvw_err err = kvw_setup_model(a, s, d);
	if (err)
		goto out;
	const kvw_arch *m = &s->arch;
	const kvw_kvfmt *f = &s->sc.kv;
	double L = (double)s->ctx, per_gpu = kvw_kv_bytes(m, f, L);
	int sliding = 0;
	for (int g = 0; g < m->n_groups; g++)
		sliding += m->groups[g].window > 0 ? m->groups[g].count : 0;
	snprintf(o.title, sizeof o.title, "KV cache of %s at %ld tokens", m->name, s->ctx);
	kvw_setup_describe(s, &o, false);
	kvw_setup_ctx_note(s, a->ctx, &o);
	kvw_out_field(&o, "attention_kind", "attention kind", NULL, json_string(attn_name(m)));
	kvw_out_field(&o, "layers", "layers", NULL, json_integer(m->n_layers));
	kvw_out_field(&o, "sliding_window_layers", "sliding-window layers", NULL, json_integer(sliding));
	kvw_out_field(&o, "kv_heads_per_gpu", "KV heads per GPU", NULL, json_integer(kvw_kv_heads_per_gpu(m, f->tp)));
	kvw_out_field(&o, "kv_bytes_per_layer_per_token", "KV bytes / layer / token", "%.0f",
	              kvw_num(kvw_kv_bytes_per_token_layer(m, f)));
	kvw_out_field(&o, "kv_bytes_per_token", "KV bytes / token", "%.0f", kvw_num(kvw_kv_bytes_per_token(m, f)));
	kvw_out_field(&o, "ctx", "context (tokens)", NULL, json_integer(s->ctx));
	kvw_out_field(&o, "kv_bytes_total", "KV bytes at context (per GPU)", "%.0f", kvw_num(per_gpu));
	kvw_out_field(&o, "kv_bytes_total_all_gpus", "KV bytes at context (all GPUs)", "%.0f",
	              kvw_num(per_gpu * f->tp));
	if (s->have_gpu && s->n_tps == 1)
		kvw_setup_describe_fit(s, &o);
	kvw_out_note(&o, "per GPU under tensor parallelism %d; heads replicate when tp > KV heads; "
	             "MLA latents are held whole by every rank; sliding-window layers hold min(L, W) tokens", f->tp);
	if (s->n_tps > 1 && (err = tp_table(s, &o, d)))
		goto out;
	err = kvw_out_emit(&o, a, argc, argv, d);
out:
	kvw_out_free(&o);
	free(s);
	return err;
}

const kvw_cmd kvw_cmd_kv = {
	"kv", "(--model M | --config PATH) [--ctx N] [--kv-dtype D] [--tp T | --tp 1,2,4,8 | --tp auto --hw GPU]",
	"KV cache bytes per token, per layer and for a context; with --hw, whether the deployment fits", opts, 0, run,
};
