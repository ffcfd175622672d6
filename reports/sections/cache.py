"""Prefix cache: what each tier of a Mooncake/LMCache-style KV pool is
worth, from cache.json (kvwall cache --json) in the results directory.

Hit rate against each tier's size (one line per policy, the tier's own
hits and the whole cache's), TTFT against DRAM size, the tier
configurations (TTFT and prefill GPU-seconds saved against no cache), and
per tier in words whether reading it beats recomputing, with the engine
settings of the best configuration.  Writes cache-configs.csv and
cache-curves.csv.  Absent without cache.json.
"""
import os
from html import escape

import matplotlib.pyplot as plt

from .. import style
from .. import shapes
from ..common import img, png, read_json, table, write_csv

POSITION = 55
TIERS = ["hbm", "dram", "ssd", "remote"]


def toc(res):
    if not os.path.exists(os.path.join(res["dir"], "cache.json")):
        return []
    return [("sec-cache", "Prefix cache: tiers, hit rates, load or recompute")]


def load(res):
    path = os.path.join(res["dir"], "cache.json")
    if not os.path.lexists(path):
        return None
    return shapes.cache(read_json(path), path)


def curves(doc):
    out = {}
    for r in doc["rows"]:
        if r["kind"] == "curve":
            out.setdefault((r["config"], r["policy"]), []).append(r)
    return out


def plot_hits(res, doc):
    cs = curves(doc)
    tiers = [t for t in TIERS if any(k[0] == t for k in cs)]
    if not tiers:
        return None
    fig, axes = plt.subplots(len(tiers), 1, figsize=(style.WIDTH, 2.8 * len(tiers) + 0.4), squeeze=False)
    flat = [row[0] for row in axes]
    for ax, t in zip(flat, tiers):
        for (tier, pol), rows in sorted(cs.items()):
            if tier != t:
                continue
            x = [r["capacity_bytes"] / 1e9 for r in rows]
            ax.plot(x, [r[f"{t}_hit"] for r in rows], marker="o", ms=3, label=f"{pol}: {t}'s own hits")
            ax.plot(x, [r["token_hit"] for r in rows], ls="--", label=f"{pol}: whole cache")
        ax.set_xscale("log")
        ax.set_xlabel(f"{t} size" + (" per instance" if t == "hbm" else " per node" if t != "remote" else "")
                      + " (GB, 1e9 B)")
        ax.set_ylabel("token hit rate (fraction)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    flat[0].set_title(f"Prefix hit rate vs tier size: {doc.get('trace')} on {doc.get('model')}")
    fig.tight_layout()
    return png(fig, res["dir"], "cache-hits.png")


def plot_ttft(res, doc):
    cs = {k: v for k, v in curves(doc).items() if k[0] == "dram"}
    if not cs:
        return None
    fig, ax = plt.subplots(figsize=(style.WIDTH, 3.6))
    for (_, pol), rows in sorted(cs.items()):
        x = [r["capacity_bytes"] / 1e9 for r in rows]
        ax.plot(x, [r["ttft_p50_s"] for r in rows], marker="o", ms=3, label=f"{pol} p50")
        ax.plot(x, [r["ttft_p90_s"] for r in rows], marker="s", ms=3, ls="--", label=f"{pol} p90")
    none = [r for r in doc["rows"] if r["kind"] == "config" and r["config"] == "none"]
    if none:
        ax.axhline(none[0]["ttft_p90_s"], color="#999", lw=1, label="no cache p90")
    ax.set_xscale("log")
    ax.set_xlabel("DRAM per node (GB, 1e9 B)")
    ax.set_ylabel("TTFT (s)")
    ax.set_title("TTFT vs DRAM size (prefill-only FCFS instances)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png(fig, res["dir"], "cache-ttft.png")


CONFIG_COLS = [("config", "tiers"), ("policy", "policy"), ("token_hit", "token hit"), ("block_hit", "block hit"),
               ("hbm_hit", "hbm"), ("dram_hit", "dram"), ("ssd_hit", "ssd"), ("remote_hit", "remote"),
               ("prefill_saved", "prefill saved"), ("ttft_p50_s", "TTFT p50 s"), ("ttft_p90_s", "TTFT p90 s"),
               ("gpu_s_saved", "GPU-s saved"), ("load_hidden", "load hidden by queue")]


def decisions(doc):
    out = []
    for d in doc.get("decisions", []):
        out.append(f"<li><b>{escape(d['tier'])}</b> ({d['gbps_per_gpu']:.3g} GB/s per GPU, "
                   f"alpha {d['alpha_us']:.3g} us): {escape(d['words'])}</li>")
    return "<ul>" + "".join(out) + "</ul>" if out else "<p class=note>Only an HBM tier: nothing to load.</p>"


def html(res):
    doc = load(res)
    if doc is None:
        return []
    configs = [r for r in doc["rows"] if r["kind"] == "config"]
    write_csv(os.path.join(res["dir"], "cache-configs.csv"), configs)
    write_csv(os.path.join(res["dir"], "cache-curves.csv"), [r for r in doc["rows"] if r["kind"] == "curve"])
    size90 = "".join(f"<li>{escape(s['tier'])}, {escape(s['policy'])}: 90% of its attainable "
                     f"{s['attainable_token_hit']:.3f} at {s['size90_bytes'] / 1e9:.4g} GB</li>"
                     for s in doc.get("size90", []) if s.get("size90_bytes"))
    settings = "".join(f"<li>{escape(k)}: <code>{escape(str(doc.get(f)))}</code></li>"
                       for k, f in (("vLLM", "vllm_settings"), ("LMCache", "lmcache_settings"),
                                    ("llm-d", "llmd_settings")) if doc.get(f))
    return [
        "<h2 id=sec-cache>Prefix cache: tiers, hit rates, load or recompute</h2>",
        f"<p>{escape(str(doc.get('trace')))}, {doc.get('requests')} requests, {escape(str(doc.get('model')))}"
        f", {doc.get('instances')} prefill instances ({escape(str(doc.get('route')))} routing, "
        f"{doc.get('block_tokens')}-token blocks). Best configuration by TTFT p90: "
        f"<b>{escape(str(doc.get('winner')))}</b>, {doc.get('winner_ttft_p90_s', float('nan')):.4g} s against "
        f"{doc.get('nocache_ttft_p90_s', float('nan')):.4g} s without a cache.</p>",
        table(configs, CONFIG_COLS, "cache-configs"),
        img(plot_hits(res, doc), "hit rate vs tier size"),
        "<ul>" + size90 + "</ul>" if size90 else "",
        img(plot_ttft(res, doc), "TTFT vs DRAM size"),
        "<h3>Load or recompute, per tier</h3>", decisions(doc),
        "<h3>Engine settings for the best configuration</h3>", "<ul>" + settings + "</ul>",
        "<p class=note>" + "<br>".join(escape(n) for n in doc.get("notes", [])) + "</p>",
    ]

