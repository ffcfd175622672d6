/* plan_engines.c — the winner as the engines people run would be launched.
 * Each setting was checked against the engine's documentation or source
 * (stored copies, late 2026):
 *
 *   vLLM    docs/features/nixl_connector_usage.md: prefill and decode
 *           instances both take --kv-transfer-config
 *           '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'; the
 *           decode side pulls the KV after the prefill (no layer-wise send).
 *           docs/features/nixl_connector_compatibility.md: heterogeneous TP
 *           (P TP != D TP) is supported for dense and MoE models (HND
 *           layout); MLA only partly (its KV is replicated per rank, no head
 *           splitting).  Aggregated: --tensor-parallel-size and
 *           --max-num-batched-tokens, the chunked-prefill budget
 *           (docs/configuration/optimization.md, "Chunked Prefill").
 *   SGLang  docs/advanced_features/pd_disaggregation.md: --disaggregation-mode
 *           prefill|decode, --disaggregation-transfer-backend mooncake|nixl,
 *           sglang_router.launch_router --pd-disaggregation --prefill URL
 *           --decode URL; docs/advanced_features/server_arguments.md:
 *           --disaggregation-decode-tp is given on the prefill server when
 *           the decode TP differs; --chunked-prefill-size for aggregated.
 *   llm-d   llm-d-router, plugin prefix-based-pd-decider
 *           (PrefixBasedPDDeciderConfig.NonCachedTokens: "non cached minimum
 *           tokens that triggers disaggregated PD"), referenced from the
 *           disagg-profile-handler's deciders.prefill.
 *   Dynamo  DynamoGraphDeployment services VllmPrefillWorker and
 *           VllmDecodeWorker with `replicas` (examples/backends/vllm/deploy/
 *           disagg.yaml); prefill workers run `python3 -m dynamo.vllm
 *           --is-prefill-worker` (the operator's component command).
 * None of them recomputes part of a prefix on the decode side while the
 * rest ships, none sends layer by layer over NIXL, and none moves a running
 * decode between aggregated instances (TaiChi's hybrid); where the winner
 * needs that, the note says so and gives the closest setting.
 */
#include "plan.h"

#include <stdio.h>
#include <string.h>

static void add(json_t *arr, const char *engine, const char *settings, const char *source, const char *note)
{
	json_t *o = json_object();
	json_object_set_new(o, "engine", json_string(engine));
	json_object_set_new(o, "settings", json_string(settings));
	json_object_set_new(o, "source", json_string(source));
	json_object_set_new(o, "note", note && *note ? json_string(note) : json_null());
	json_array_append_new(arr, o);
}

static bool is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static void vllm_disagg(json_t *arr, const kvw_deploy *d, const char *model, bool mla)
{
	char s[600], note[400] = "";
	const kvw_inst_group *p = &d->g[0], *q = &d->g[1];
	snprintf(s, sizeof s, "%d x prefill: vllm serve %s --tensor-parallel-size %d --kv-transfer-config "
	         "'{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}'; %d x decode: the same with "
	         "--tensor-parallel-size %d", p->count, model, p->tp, q->count, q->tp);
	if (p->tp != q->tp && mla)
		snprintf(note, sizeof note, "TP_p %d != TP_d %d on an MLA model: NixlConnector supports it only partly "
		         "(the latent is replicated, no head splitting)", p->tp, q->tp);
	if (d->layerwise)
		snprintf(note + strlen(note), sizeof note - strlen(note), "%slayer-wise transfer cannot be expressed: "
		         "the decode side pulls the KV after the prefill", *note ? "; " : "");
	if (is(d->route, "load-aware") || is(d->route, "recompute"))
		snprintf(note + strlen(note), sizeof note - strlen(note), "%srouting '%s' cannot be expressed in vLLM "
		         "itself (the proxy or llm-d decides where a prompt is prefilled)", *note ? "; " : "", d->route);
	add(arr, "vllm", s, "docs.vllm.ai features/nixl_connector_usage, nixl_connector_compatibility", note);
}

static void sglang_disagg(json_t *arr, const kvw_deploy *d, const char *model)
{
	char s[700];
	const kvw_inst_group *p = &d->g[0], *q = &d->g[1];
	char dtp[64] = "";
	if (p->tp != q->tp)
		snprintf(dtp, sizeof dtp, " --disaggregation-decode-tp %d", q->tp);
	snprintf(s, sizeof s, "%d x python -m sglang.launch_server --model-path %s --disaggregation-mode prefill "
	         "--disaggregation-transfer-backend mooncake --tp-size %d%s; %d x ... --disaggregation-mode decode "
	         "--tp-size %d; python -m sglang_router.launch_router --pd-disaggregation --prefill URL... "
	         "--decode URL...", p->count, model, p->tp, dtp, q->count, q->tp);
	add(arr, "sglang", s, "docs.sglang.io advanced_features/pd_disaggregation, server_arguments",
	    d->layerwise ? "layer-wise overlap is not a flag: Mooncake ships per request after the prefill" : NULL);
}

static void llmd_disagg(json_t *arr, const kvw_deploy *d)
{
	char s[300], note[300] = "";
	long t = is(d->route, "threshold") ? d->threshold : is(d->route, "recompute") ? 10000000 : 0;
	snprintf(s, sizeof s, "prefix-based-pd-decider nonCachedTokens: %ld (disagg-profile-handler deciders.prefill)", t);
	if (is(d->route, "load-aware"))
		snprintf(note, sizeof note, "the decider compares non-cached tokens with a fixed threshold; load-aware "
		         "routing and split recompute cannot be expressed (closest: this threshold, 0 = always ship)");
	else if (is(d->route, "recompute"))
		snprintf(note, sizeof note, "a threshold above every prompt keeps all prefills on the decode pool");
	add(arr, "llm-d", s, "llm-d-router plugin prefix-based-pd-decider", note);
}

static void dynamo_disagg(json_t *arr, const kvw_deploy *d)
{
	char s[300];
	snprintf(s, sizeof s, "VllmPrefillWorker replicas: %d (--tensor-parallel-size %d, python3 -m dynamo.vllm "
	         "--is-prefill-worker); VllmDecodeWorker replicas: %d (--tensor-parallel-size %d)", d->g[0].count,
	         d->g[0].tp, d->g[1].count, d->g[1].tp);
	add(arr, "dynamo", s, "ai-dynamo/dynamo examples/backends/vllm/deploy/disagg.yaml", NULL);
}

static void aggregated(json_t *arr, const kvw_inst_group *g, const char *model, const char *note)
{
	char s[400];
	snprintf(s, sizeof s, "%d x vllm serve %s --tensor-parallel-size %d --max-num-batched-tokens %ld", g->count,
	         model, g->tp, g->chunk);
	add(arr, "vllm", s, "docs.vllm.ai configuration/optimization (chunked prefill)", note);
	snprintf(s, sizeof s, "%d x python -m sglang.launch_server --model-path %s --tp-size %d --chunked-prefill-size %ld",
	         g->count, model, g->tp, g->chunk);
	add(arr, "sglang", s, "docs.sglang.io advanced_features/server_arguments", note);
	add(arr, "llm-d", "no P/D split: one InferencePool of the aggregated replicas (no prefix-based-pd-decider)",
	    "llm-d-router", note);
	snprintf(s, sizeof s, "aggregated worker (python3 -m dynamo.vllm) replicas: %d, --tensor-parallel-size %d",
	         g->count, g->tp);
	add(arr, "dynamo", s, "ai-dynamo/dynamo examples/backends/vllm/deploy/agg.yaml", note);
}

json_t *plan_engine_settings(const kvw_deploy *dep, const char *model, bool mla)
{
	json_t *arr = json_array();
	if (is(dep->kind, "disaggregated")) {
		vllm_disagg(arr, dep, model, mla);
		sglang_disagg(arr, dep, model);
		llmd_disagg(arr, dep);
		dynamo_disagg(arr, dep);
	} else if (is(dep->kind, "aggregated")) {
		aggregated(arr, &dep->g[0], model, NULL);
	} else {
		char note[300];
		snprintf(note, sizeof note, "no engine expresses the hybrid (P-heavy and D-heavy instances with decodes "
		         "moved off P-heavy ones): closest, two aggregated pools: %d with a %ld-token budget and %d with "
		         "%ld, behind a router; shown: the P-heavy pool", dep->g[0].count, dep->g[0].chunk, dep->g[1].count,
		         dep->g[1].chunk);
		aggregated(arr, &dep->g[0], model, note);
	}
	return arr;
}
