"""The decision report: a results directory -> report.html, PNGs and CSVs.

Reads only what kvwall wrote there (see load()); computes nothing about the
model itself, so the page shows exactly the numbers the CLI produced:

  run.json                            how run_all.sh was called (optional)
  profile.json                        kvwall probe (kvwall.profile/1)
  hw.json                             kvwall hw --json (spec sheets)
  crossover-<model>-<link>.json       kvwall crossover --json (bulk)
  crossover-<model>-<link>-layerwise.json   the same with --layerwise
  sweep-<model>.csv                   kvwall sweep --csv

The page is self-contained (images embedded as base64 PNG) and opens
with the verdict table.  Every number is labelled measured or spec sheet.
"""
import base64
import csv
import glob
import html
import io
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class ReportError(Exception):
    """A results directory the report cannot be made from."""


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: {e}") from None


def load(directory):
    if not os.path.isdir(directory):
        raise ReportError(f"{directory} is not a directory")
    res = {"dir": directory, "run": {}, "profile": None, "hw": [], "crossover": [], "layerwise": {}, "sweeps": {},
           "validation": None}
    path = os.path.join(directory, "run.json")
    if os.path.exists(path):
        res["run"] = _read_json(path)
    path = os.path.join(directory, "profile.json")
    if os.path.exists(path):
        res["profile"] = _read_json(path)
        if res["profile"].get("schema") != "kvwall.profile/1":
            raise ReportError(f"{path}: not a kvwall.profile/1 file")
    path = os.path.join(directory, "hw.json")
    if os.path.exists(path):
        res["hw"] = _read_json(path).get("hardware", [])
    for path in sorted(glob.glob(os.path.join(directory, "crossover-*.json"))):
        doc = _read_json(path)
        if doc.get("schema") != "kvwall.crossover/1":
            raise ReportError(f"{path}: not a kvwall.crossover/1 document")
        key = (doc["model"], doc["link"])
        if doc.get("transfer_mode") == "layerwise":
            res["layerwise"][key] = doc
        else:
            res["crossover"].append(doc)
    for path in sorted(glob.glob(os.path.join(directory, "sweep-*.csv"))):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and not {"ctx", "bandwidth_gbps", "recompute_s", "transfer_s"} <= set(rows[0]):
            raise ReportError(f"{path}: not a kvwall sweep CSV")
        res["sweeps"][os.path.basename(path)[6:-4]] = rows
    path = os.path.join(directory, "validation.json")
    if os.path.exists(path):
        res["validation"] = _read_json(path)
        if res["validation"].get("schema") != "kvwall.validation/1" or "analysis" not in res["validation"]:
            raise ReportError(f"{path}: not an analysed kvwall.validation/1 document (kvwall validate --out)")
        if res["profile"] is None:
            res["profile"] = res["validation"].get("profile")
    if not res["crossover"] and res["profile"] is None:
        raise ReportError(f"{directory}: no crossover-*.json, profile.json or validation.json")
    return res


# ---- tables -----------------------------------------------------------------

def _source(text):
    if not text:
        return "-"
    if text.startswith("measured"):
        return "measured (EXAMPLE)" if "EXAMPLE" in text else "measured"
    if text.startswith("spec sheet"):
        return "spec sheet"
    return "given"


def verdict_rows(res):
    rows = []
    for d in res["crossover"]:
        lw = res["layerwise"].get((d["model"], d["link"]))
        rows.append({
            "model": d["model"], "link": d["link"], "ctx": d["ctx"], "winner": d["winner"],
            "crossover_tokens": d["crossover_tokens"], "regime": d["regime"],
            "bandwidth_threshold_gbps": d["bandwidth_threshold_gbps"],
            "recompute_s": d["recompute_s"], "transfer_s": d["transfer_s"],
            "layerwise_exposed_s": lw["transfer_s"] if lw else None,
            "compute": _source(d.get("compute_source")), "link_source": _source(d.get("link_source")),
        })
    return rows


def _spec_links(res):
    return {h["name"]: h for h in res["hw"] if h.get("class") != "gpu"}


def _spec_gpu(res):
    name = (res["run"] or {}).get("hw")
    for h in res["hw"]:
        if h.get("class") == "gpu" and h["name"].lower() == str(name).lower():
            return h
    return None


def _spec_for(link, res):
    """The catalog link a measured link is compared with, or None (loopback TCP has none)."""
    gpu = _spec_gpu(res) or {}
    specs = _spec_links(res)
    n = link["name"]
    if link.get("spec"):
        return specs.get(link["spec"])
    if n.startswith("nvlink_c2c"):
        return specs.get("nvlink-c2c")
    if n.startswith("pcie"):
        return specs.get(gpu.get("host_link") or "pcie-gen5-x16")
    if n.startswith("peer"):
        return specs.get(gpu.get("peer_link") or "")
    return None


def link_rows(res):
    rows = []
    prof = res["profile"] or {}
    for l in prof.get("links", []):
        spec = _spec_for(l, res)
        sbw = spec["bandwidth_GBps"] if spec else None
        rows.append({"link": l["name"], "class": l.get("class"), "measured_GBps": l["bandwidth_GBps"],
                     "alpha_us": l.get("alpha_us"), "fit_r2": l.get("fit_r2"),
                     "spec": spec["name"] if spec else None, "spec_GBps": sbw,
                     "measured_over_spec": l["bandwidth_GBps"] / sbw if sbw else None})
    hbm = prof.get("hbm", {})
    gpu = _spec_gpu(res)
    if hbm.get("copy_GBps"):
        sbw = gpu["bandwidth_GBps"] if gpu else None
        rows.append({"link": "hbm_copy", "class": "hbm", "measured_GBps": hbm["copy_GBps"], "alpha_us": None,
                     "fit_r2": None, "spec": gpu["name"] if gpu else None, "spec_GBps": sbw,
                     "measured_over_spec": hbm["copy_GBps"] / sbw if sbw else None})
    return rows


def probe_rows(res):
    prof = res["profile"] or {}
    return [{"probe": r["probe"], "variant": r["variant"], "status": r["status"], "gbps": r["gbps"],
             "tflops": r["tflops"], "median_s": (r["time_s"] or {}).get("median"),
             "checked": r["verify"]["checked"], "wrong": r["verify"]["wrong"], "reason": r["reason"]}
            for r in prof.get("results", [])]


def write_csv(path, rows):
    if not rows:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


# ---- plots ------------------------------------------------------------------

def _png(fig, directory, name):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(directory, name))
    return base64.b64encode(data).decode("ascii")


def plot_links(res, rows):
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(rows)))
    names = [r["link"] for r in rows]
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], [r["measured_GBps"] for r in rows], height=0.4, label="measured", color="#1f77b4")
    ax.barh([i - 0.2 for i in y], [r["spec_GBps"] or 0 for r in rows], height=0.4, label="spec sheet", color="#bbbbbb")
    ax.set_yticks(list(y))
    ax.set_yticklabels(names)
    ax.set_xscale("log")
    ax.set_xlabel("GB/s (1e9 B/s; HBM: copy traffic, read + write)")
    ax.legend(loc="lower right")
    ax.set_title("Measured vs spec sheet")
    return _png(fig, res["dir"], "links.png")


def plot_times(res, model):
    docs = [d for d in res["crossover"] if d["model"] == model]
    if not docs:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    rec = docs[0]["rows"]
    ax.plot([r["ctx"] for r in rec], [r["recompute_s"] for r in rec], "k-", lw=2.5, label="recompute")
    for d in docs:
        line, = ax.plot([r["ctx"] for r in d["rows"]], [r["transfer_s"] for r in d["rows"]], "--",
                        label=f"transfer over {d['link']} ({_source(d.get('link_source'))})")
        if d["crossover_tokens"] and d["crossover_tokens"] >= rec[0]["ctx"]:
            ax.axvline(d["crossover_tokens"], color=line.get_color(), lw=0.8)
            ax.annotate(f"L*={d['crossover_tokens']}", (d["crossover_tokens"], rec[0]["recompute_s"]),
                        color=line.get_color(), fontsize=8, rotation=90)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("seconds")
    ax.set_title(f"{model}: recompute vs transfer ({_source(docs[0].get('compute_source'))} compute)")
    ax.legend(fontsize=7)
    return _png(fig, res["dir"], f"times-{model}.png")


def _fit(f):
    """measured ~ overhead + scale x predicted, as text"""
    if not f or f.get("overhead_s") is None or f.get("scale") is None:
        return ""
    return f"{f['overhead_s'] * 1e3:.2f} ms + {f['scale']:.3f} x predicted"


def validation_rows(res):
    v = res["validation"]
    if not v:
        return []
    rows = []
    for p in v["analysis"]["pairs"]:
        splits = [abs(s["error"]) for s in p.get("splits", []) if s.get("error") is not None]
        rows.append({"model": p["model"], "path": p["path"], "profile_link": p["profile_link"],
                     "measured": ", ".join(f"{x:.0f}" for x in p["measured"]["crossovers"])
                     or p["measured"]["regime"],
                     "predicted": ", ".join(f"{x:.0f}" for x in p["predicted"]["crossovers"])
                     or p["predicted"]["regime"],
                     "crossover_error": p.get("crossover_error"), "max_time_error": p.get("max_time_error"),
                     "split_error": max(splits) if splits else None, "pass": "yes" if p["pass"] else "NO",
                     "why": p.get("why") or "", "recompute_fit": _fit(p.get("recompute_fit")),
                     "transfer_fit": _fit(p.get("transfer_fit"))})
    return rows


def plot_validation(res, model):
    pairs = [p for p in res["validation"]["analysis"]["pairs"] if p["model"] == model]
    if not pairs:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    pts = pairs[0]["points"]
    L = [p["tokens"] for p in pts]
    ax.plot(L, [p["recompute_predicted_s"] for p in pts], "k-", lw=2, label="recompute, predicted")
    ax.plot(L, [p["recompute_measured_s"] for p in pts], "ko", label="recompute, measured")
    for p in pairs:
        line, = ax.plot(L, [q["transfer_predicted_s"] for q in p["points"]], "--", label=f"{p['path']}, predicted")
        ax.plot(L, [q["transfer_measured_s"] for q in p["points"]], "o", color=line.get_color(), mfc="none",
                label=f"{p['path']}, measured")
        for x in p["measured"]["crossovers"]:
            ax.axvline(x, color=line.get_color(), lw=0.8)
        for x in p["predicted"]["crossovers"]:
            ax.axvline(x, color=line.get_color(), lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("prompt length L (tokens)")
    ax.set_ylabel("seconds")
    ax.set_title(f"{model}: measured (points) vs predicted (lines); L*: solid measured, dotted predicted")
    ax.legend(fontsize=7)
    return _png(fig, res["dir"], f"validation-{model}.png")


def plot_heatmap(res, model, rows):
    ctxs = sorted({int(r["ctx"]) for r in rows})
    bws = sorted({float(r["bandwidth_gbps"]) for r in rows})
    if len(ctxs) < 2 or len(bws) < 2:
        return None
    ratio = {(int(r["ctx"]), float(r["bandwidth_gbps"])): math.log10(float(r["transfer_s"]) / float(r["recompute_s"]))
             for r in rows}
    z = [[ratio[(c, b)] for c in ctxs] for b in bws]
    fig, ax = plt.subplots(figsize=(8, 5))
    lim = max(abs(v) for row in z for v in row) or 1
    mesh = ax.pcolormesh(ctxs, bws, z, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest")
    ax.contour(ctxs, bws, z, levels=[0], colors="k", linewidths=2)
    fig.colorbar(mesh, ax=ax, label="log10(transfer / recompute): red = recompute wins")
    for d in res["crossover"]:
        if d["model"] != model:
            continue
        bw = d.get("link_gbps")
        if bw:
            ax.axhline(bw, color="k", ls=":", lw=1)
            ax.annotate(d["link"], (ctxs[0], bw), fontsize=7, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("link bandwidth (GB/s)")
    ax.set_title(f"{model}: where transfer wins (black line: decision boundary)")
    return _png(fig, res["dir"], f"heatmap-{model}.png")


def plot_pipeline(res):
    docs = [d for d in res["layerwise"].values() if d.get("pipeline")]
    if not docs:
        return None, None

    def send_share(doc):  # the pipeline whose sends matter most is the one worth drawing
        pl = doc["pipeline"]
        return sum(e["send_end_s"] - e["send_start_s"] for e in pl) / max(pl[-1]["compute_end_s"], 1e-30)

    d = max(docs, key=send_share)
    p = d["pipeline"]
    if not p:
        return None, None
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for e in p:
        ax.barh(1, e["compute_end_s"] - e["compute_start_s"], left=e["compute_start_s"], color="#2ca02c",
                edgecolor="white", height=0.6)
        ax.barh(0, e["send_end_s"] - e["send_start_s"], left=e["send_start_s"], color="#ff7f0e",
                edgecolor="white", height=0.6)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["send KV", "compute layer"])
    ax.set_xlabel("seconds")
    ax.set_title(f"Layer-wise transfer, {d['model']} over {d['link']} at {d['ctx']} tokens: "
                 f"{d['transfer_s'] * 1e3:.3g} ms exposed after the last layer")
    return _png(fig, res["dir"], "pipeline.png"), d


def plot_prefill(res):
    prof = res["profile"] or {}
    sec = prof.get("prefill") or prof.get("prefill_gemm")
    if not sec or not sec.get("gemm"):
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    g = sec["gemm"]
    ax.plot([p["tokens"] for p in g], [p["tflops"] for p in g], "o-", label="GEMM (measured)")
    if sec.get("gemm_fp8"):
        g8 = sec["gemm_fp8"]
        ax.plot([p["tokens"] for p in g8], [p["tflops"] for p in g8], "^-", label="GEMM fp8 (measured)")
    if sec.get("attention"):
        a = sec["attention"]
        ax.plot([p["tokens"] for p in a], [p["tflops"] for p in a], "s-", label="attention (measured)")
    gpu = _spec_gpu(res)
    if gpu and gpu.get("bf16_tflops"):
        ax.axhline(gpu["bf16_tflops"], color="gray", ls="--", label=f"{gpu['name']} bf16 dense peak (spec)")
    ax.set_xscale("log")
    ax.set_xlabel("tokens")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(f"Prefill efficiency, {sec.get('model', '?')} layer shapes"
                 + (" (hand-written EXAMPLE)" if prof.get("example") else ""))
    ax.legend(fontsize=8)
    return _png(fig, res["dir"], "prefill.png")


# ---- HTML -------------------------------------------------------------------

def _fmt(v, spec=".4g"):
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return html.escape(str(v))


def _table(rows, cols, table_id=None, row_class=None):
    out = [f'<table{f" id={chr(34)}{table_id}{chr(34)}" if table_id else ""}><tr>']
    out += [f"<th>{html.escape(label)}</th>" for _, label in cols]
    out.append("</tr>")
    for r in rows:
        cls = row_class(r) if row_class else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        out += [f"<td>{_fmt(r.get(k))}</td>" for k, _ in cols]
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _img(b64, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">' if b64 else \
        f"<p class=note>{html.escape(alt)}: no data in this run.</p>"


CSS = """body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px}
th{background:#eee}tr.failed td{background:#fdd}tr.skipped td{color:#777}tr.recompute td{background:#eef7ee}
.note{color:#555;font-size:13px}img{max-width:100%}h2{border-bottom:1px solid #ddd;padding-bottom:3px}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;background:#ffe9a8;font-size:12px}"""


def render(res):
    verdict = verdict_rows(res)
    links = link_rows(res)
    probes = probe_rows(res)
    prof = res["profile"] or {}
    run = res["run"] or {}
    d = res["dir"]
    write_csv(os.path.join(d, "verdict.csv"), verdict)
    write_csv(os.path.join(d, "links.csv"), links)
    write_csv(os.path.join(d, "probes.csv"), probes)
    models = list(dict.fromkeys(v["model"] for v in verdict))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>kvwall report</title><style>{CSS}</style>"
             "</head><body>", "<h1>kvwall: transfer or recompute the KV cache?</h1>"]
    mode = run.get("mode", "")
    if mode:
        parts.append(f"<p><span class=badge>{html.escape(mode)}</span></p>")
    if prof.get("example"):
        parts.append("<p><span class=badge>profile is a hand-written EXAMPLE, not a measurement</span></p>")
    parts.append("<h2>Verdict</h2>")
    parts.append(_table(verdict, [("model", "model"), ("link", "link"), ("ctx", "at ctx"), ("winner", "winner"),
                                  ("crossover_tokens", "L* (tokens)"), ("regime", "regime"),
                                  ("bandwidth_threshold_gbps", "B* (GB/s)"), ("recompute_s", "recompute s"),
                                  ("transfer_s", "transfer s"), ("layerwise_exposed_s", "layer-wise exposed s"),
                                  ("compute", "compute from"), ("link_source", "link from")],
                        "verdict", lambda r: "recompute" if r["winner"] == "recompute" else ""))
    parts.append("<p class=note>L*: the context length where the winner flips (none: one side wins over the whole "
                 "searched range). B*: the link bandwidth at which transfer and recompute tie at that context. "
                 "Layer-wise exposed: transfer time left after the last layer when each layer's KV is sent as soon "
                 "as it is computed. GB = 1e9 bytes.</p>")
    vrows = validation_rows(res)
    if vrows:
        v = res["validation"]
        write_csv(os.path.join(d, "validation-pairs.csv"), vrows)
        parts.append("<h2>Model check: measured vs predicted crossover</h2>")
        if v.get("synthetic"):
            parts.append("<p><span class=badge>validation document is SYNTHETIC, not a measurement</span></p>")
        parts.append(_table(vrows, [("model", "model"), ("path", "path"), ("profile_link", "profile link"),
                                    ("measured", "L* measured"), ("predicted", "L* predicted"),
                                    ("crossover_error", "L* error"), ("max_time_error", "worst |time error|"),
                                    ("split_error", "worst |split error|"), ("pass", "within target"),
                                    ("why", "first miss"), ("recompute_fit", "measured recompute ~"),
                                    ("transfer_fit", "measured transfer ~")], "validation",
                            lambda r: "failed" if r["pass"] != "yes" else ""))
        an = v["analysis"]
        parts.append(f"<p class=note>{html.escape(v.get('label') or '')}. Error = (predicted - measured) / measured; "
                     f"target {an['tolerance']:.3g} on times at &ge; {an['gated_from_tokens']} tokens, on L* and on "
                     f"splits. Pairs with a measured crossover: {an['pairs_with_crossover']}.</p>")
        for m in dict.fromkeys(r["model"] for r in vrows):
            parts.append(_img(plot_validation(res, m), f"validation for {m}"))
    parts.append("<h2>Links and HBM: measured vs spec sheet</h2>")
    parts.append(_table(links, [("link", "link"), ("class", "class"), ("measured_GBps", "measured GB/s"),
                                ("alpha_us", "alpha us"), ("fit_r2", "fit R²"), ("spec", "spec sheet"),
                                ("spec_GBps", "spec GB/s"), ("measured_over_spec", "measured / spec")], "links")
                 if links else "<p class=note>No link was measured in this run (no profile.json).</p>")
    parts.append(_img(plot_links(res, links), "measured vs spec"))
    for m in models:
        parts.append(f"<h2>{html.escape(m)}: recompute and transfer time</h2>")
        parts.append(_img(plot_times(res, m), f"times for {m}"))
    for m, rows in res["sweeps"].items():
        parts.append(f"<h2>{html.escape(m)}: context x bandwidth</h2>")
        parts.append(_img(plot_heatmap(res, m, rows), f"heatmap for {m}"))
    b64, lw = plot_pipeline(res)
    parts.append("<h2>Layer-wise pipeline</h2>")
    parts.append(_img(b64, "layer-wise timeline"))
    parts.append("<h2>Prefill efficiency</h2>")
    parts.append(_img(plot_prefill(res), "prefill curve"))
    sec = prof.get("prefill") or prof.get("prefill_gemm")
    if sec and not prof.get("prefill"):
        parts.append("<p class=note>Only the GEMM half of the prefill curve was measured; verdicts use the spec "
                     "sheet's compute rate.</p>")
    parts.append("<h2>Probes</h2>")
    parts.append(_table(probes, [("probe", "probe"), ("variant", "variant"), ("status", "status"),
                                 ("gbps", "GB/s"), ("tflops", "TFLOP/s"), ("median_s", "median s"),
                                 ("checked", "checked"), ("wrong", "wrong"), ("reason", "reason")], "probes",
                        lambda r: r["status"] if r["status"] != "ok" else "")
                 if probes else "<p class=note>No probe ran (no profile.json).</p>")
    bad = [p for p in probes if p["status"] != "ok"]
    if bad:
        parts.append("<p class=note>Failed or skipped: " + "; ".join(
            f"{html.escape(p['probe'])} {html.escape(p['status'])}: {html.escape(p['reason'] or '')}" for p in bad)
            + "</p>")
    parts.append("<h2>Topology</h2>")
    topo = prof.get("topology")
    parts.append(f"<pre>{html.escape(json.dumps(topo, indent=1))}</pre>" if topo else
                 "<p class=note>Not measured in this run (the hwloc topology probe is not built yet).</p>")
    parts.append("<h2>Provenance</h2>")
    host = prof.get("host", {})
    facts = [("host", host.get("hostname")), ("cpu", host.get("cpu")),
             ("gpus", ", ".join(f"{g.get('name')} (driver CUDA {g.get('driver_cuda', '?')})"
                                for g in host.get("gpus", [])) or "none"),
             ("kvwall", (prof.get("tool") or {}).get("version") or run.get("version")),
             ("profile command", prof.get("command")), ("profile time", prof.get("created_utc")),
             ("run command", run.get("command")), ("run started", run.get("started_utc")),
             ("spec sheet for compute", run.get("hw"))]
    parts.append(_table([{"k": k, "v": v} for k, v in facts], [("k", "what"), ("v", "value")], "provenance"))
    parts.append("</body></html>\n")
    text = "".join(parts)
    path = os.path.join(d, "report.html")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
