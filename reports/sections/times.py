"""Per deployment: time curves and the context x bandwidth map.  Time curves: recompute against transfer over context
for every link, both scenarios (solid: a stored prefix loaded in bulk;
dashed: the handoff after a prefill), L* marked on the curves and the
range where recompute wins shaded, over the range the crossover was
searched (one KV block to the model's window)."""
import html as _html

import matplotlib.pyplot as plt

from ..answer import anchor, deployments, label, sweep_for, tokens
from ..common import img, png, source
from ..style import WIDTH
from .heatmap import plot_heatmap

POSITION = 40


def _mark(ax, doc, color, lo, hi):
    for x in doc.get("crossings") or []:
        if lo <= x <= hi:
            rows = doc["rows"]
            y = min(rows, key=lambda r: abs(r["ctx"] - x))["recompute_s"]
            ax.plot([x], [y], marker="X", color=color, ms=9, mec="k", zorder=5)


def plot_times(res, dep):
    links = dep["links"]
    if not links or not dep["any"]:
        return None
    rec = dep["any"]["rows"]
    lo, hi = rec[0]["ctx"], rec[-1]["ctx"]
    fig, ax = plt.subplots(figsize=(WIDTH, 4.8))
    L = [r["ctx"] for r in rec]
    R = [r["recompute_s"] for r in rec]
    ax.plot(L, R, "k-", lw=2.5, label="recompute the prompt")
    shaded = False
    for l in links:
        color = None
        for scen, ls in (("prefix_fetch", "-"), ("handoff", "--")):
            d = l.get(scen)
            if not d:
                continue
            T = [r["transfer_s"] for r in d["rows"]]
            what = "stored prefix" if scen == "prefix_fetch" else f"handoff ({d.get('transfer_mode')})"
            lstar = f", L* {tokens(d['crossover_tokens'])}" if d.get("crossover_tokens") else ""
            line, = ax.plot([r["ctx"] for r in d["rows"]], T, ls, color=color, lw=1.6,
                            label=f"{l['name']} {l['gbps']:.3g} GB/s, {what}{lstar}")
            color = line.get_color()
            ax.fill_between(L, R, T, where=[r < t for r, t in zip(R, T)], color=color, alpha=0.15, lw=0)
            shaded = shaded or any(r < t for r, t in zip(R, T))
            _mark(ax, d, color, lo, hi)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("time (s)")
    ax.set_title(f"{label(dep)}: recompute vs transfer ({source(dep['any'].get('compute_source'))} compute)")
    handles, labels = ax.get_legend_handles_labels()
    if shaded:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="#999999", alpha=0.3))
        labels.append("shaded: recompute wins over that link")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return png(fig, res["dir"], f"times-{dep['slug']}.png")


def toc(res):
    """one entry, "Per deployment", with each deployment's two plots under it"""
    sub = [f"<a href='#{anchor(d)}'>{_html.escape(label(d))}</a>: <a href='#{anchor(d)}-times'>time curves</a>, "
           f"<a href='#{anchor(d)}-heatmap'>context x bandwidth</a>" for d in deployments(res)]
    return [(None, "Per deployment", sub)] if sub else []


def html(res):
    parts = []
    for dep in deployments(res):
        parts.append(f"<h2 id={anchor(dep)}>{_html.escape(label(dep))}</h2>")
        parts.append(f"<h3 id={anchor(dep)}-times>Recompute and transfer time</h3>")
        parts.append(img(plot_times(res, dep), f"times for {label(dep)}"))
        parts.append("<p class=note>Solid: a stored prefix loaded in bulk; dashed: the handoff after a prefill "
                     "(layer-wise: the time exposed after the last layer). X: L*, where that curve crosses "
                     "recompute.</p>")
        rows = sweep_for(res, dep)
        parts.append(f"<h3 id={anchor(dep)}-heatmap>Context x bandwidth</h3>")
        parts.append(img(plot_heatmap(res, dep, rows) if rows else None, f"heatmap for {label(dep)}"))
    return parts
