"""The answer and the deployment, first on the page: one sentence per
deployment (which side wins on each link, up to what context, B* and the
links' margin), then the deployment restated: models, TP and how it was
chosen, KV dtype, block size, layer-wise or not, whether it fits, the GPU
and the links with the fraction of their line rate the model takes."""
import html as _html

from ..answer import anchor, deployments, headline
from ..common import spec_gpu, table

POSITION = 1


def _gb(x):
    return "-" if x is None else f"{x / 1e9:.3g} GB"


def _source(doc):
    s = doc.get("model_source") or ""
    return "catalog" if s.startswith("catalog") else s.replace("config ", "config.json: ", 1) or "-"


def _choice(text):
    return "auto: smallest that fits" if text.startswith("auto") else text


def deployment_rows(deps):
    rows = []
    for dep in deps:
        d, run = dep["any"] or {}, dep["run"]
        fits = d.get("fits")
        best = d.get("smallest_tp_that_fits")
        rows.append({
            "model": dep["model"], "from": _source(d), "tp": dep["tp"],
            "tp_choice": _choice(run.get("tp_choice") or d.get("tp_choice") or "given"),
            "kv_dtype": dep["kv_dtype"],
            "handoff": ("layer-wise" if any((l.get("handoff") or {}).get("transfer_mode") == "layerwise"
                                            for l in dep["links"]) else "bulk, after prefill"),
            "block": f"{dep['block']}-token blocks" if dep["block"] else "packed",
            "weights": _gb(d.get("weights_per_gpu_bytes")),
            "fits": "-" if fits is None else "yes" if fits else
                    f"NO: DOES NOT FIT ({f'smallest TP that fits: {best}' if best else 'no TP up to 64 fits'})",
            "window": d.get("context_window"), "ctx": d.get("ctx")})
    return rows


def _links_note(res, deps):
    links = {}
    for dep in deps:
        for l in dep["links"]:
            d = l.get("prefix_fetch") or l.get("handoff")
            links.setdefault(l["name"], d)
    parts = []
    for name, d in links.items():
        eff = d.get("link_efficiency")
        how = "measured" if str(d.get("link_source", "")).startswith("measured") else \
            f"{d.get('link_line_rate_gbps', 0):.4g} GB/s line rate x {eff:.3g} achieved" if eff else "spec sheet"
        parts.append(f"{name} {d['link_gbps']:.3g} GB/s ({how})")
    return "; ".join(parts)


def html(res):
    deps = deployments(res)
    if not deps:
        return []
    gpu = spec_gpu(res)
    parts = ["<section id=answer><h2>The answer</h2><ul class=headlines>"]
    for dep in deps:
        parts.append(f"<li class=headline id={anchor(dep)}-answer>{_html.escape(headline(dep, gpu['name'] if gpu else None))}</li>")
    parts.append("</ul></section>")
    parts.append("<section id=deployment><h2>Deployment</h2>")
    parts.append(table(deployment_rows(deps), [("model", "model"), ("from", "from"), ("tp", "TP"),
                                                ("tp_choice", "TP chosen"), ("kv_dtype", "KV dtype"),
                                                ("handoff", "handoff"), ("block", "KV messages"),
                                                ("weights", "weights / GPU"), ("fits", "fits the GPU"),
                                                ("window", "window (tokens)"), ("ctx", "verdict at (tokens)")],
                       "deployment-table", lambda r: "failed" if r["fits"].startswith("NO") else ""))
    any_doc = deps[0]["any"] or {}
    mem = next((n for n in any_doc.get("notes", []) if n.startswith("fit:")), "")
    left = sorted({n for dep in deps for n in dep["left_out"]})
    note = [f"GPU: {_html.escape(gpu['name'])} spec sheet" if gpu else "GPU: none given",
            f"compute: {_html.escape(any_doc.get('compute_source', '-'))}",
            f"links: {_html.escape(_links_note(res, deps))}"]
    if " within " in mem:
        note.append("memory per GPU: " + _html.escape(mem.split(" within ", 1)[1]) + " usable for weights and KV "
                    "(utilisation 0.9 is vLLM's default --gpu-memory-utilization)")
    if left:
        note.append(f"left out of the verdicts: {_html.escape(', '.join(left))} (loopback, not a network path; "
                    "run_all.sh --include-loopback keeps it)")
    parts.append("<p class=note>" + "<br>".join(n for n in note if n) + "</p></section>")
    return parts
