"""Context x bandwidth (sweep-<deployment>.csv): who wins where, the two
regions shaded, the decision boundary, and the deployment's links drawn
across at the bandwidth the model takes them at, labelled on the right
without overlapping.  Drawn inside each deployment's part of the page
(times.py); not a section of its own."""
import math

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..answer import label
from ..common import png
from ..style import WIDTH, label_gap, spread

TRANSFER, RECOMPUTE = "#cfe3f5", "#f6cfc9"


def _link_labels(fig, ax, links, ylo, yhi):
    """links at the same bandwidth share a label; labels spread apart"""
    by_bw = {}
    for l in links:
        if l["gbps"] and ylo <= l["gbps"] <= yhi:
            by_bw.setdefault(round(l["gbps"], 3), []).append(l["name"])
    if not by_bw:
        return
    bws = sorted(by_bw)
    frac = [(math.log(b) - math.log(ylo)) / (math.log(yhi) - math.log(ylo)) for b in bws]
    pos = spread(frac, label_gap(fig, ax, 8))
    for b, f, p in zip(bws, frac, pos):
        ax.axhline(b, color="k", ls=":", lw=1)
        ax.text(1.03, p, f"{', '.join(by_bw[b])} ({b:.3g} GB/s)", transform=ax.transAxes, fontsize=8, va="center")
        ax.plot([1.0, 1.025], [f, p], transform=ax.transAxes, color="0.4", lw=0.6, clip_on=False)


def plot_heatmap(res, dep, rows):
    ctxs = sorted({int(r["ctx"]) for r in rows})
    bws = sorted({float(r["bandwidth_gbps"]) for r in rows})
    if len(ctxs) < 2 or len(bws) < 2:
        return None
    ratio = {(int(r["ctx"]), float(r["bandwidth_gbps"])): math.log10(float(r["transfer_s"]) / float(r["recompute_s"]))
             for r in rows}
    z = [[ratio[(c, b)] for c in ctxs] for b in bws]
    fig, ax = plt.subplots(figsize=(WIDTH * 0.78, 4.6))
    lo, hi = min(min(r) for r in z), max(max(r) for r in z)
    if lo < 0 < hi:
        ax.contourf(ctxs, bws, z, levels=[lo - 1, 0, hi + 1], colors=[TRANSFER, RECOMPUTE])
        ax.contour(ctxs, bws, z, levels=[0], colors="k", linewidths=2)
    else:
        ax.contourf(ctxs, bws, z, levels=[lo - 1, hi + 1], colors=[TRANSFER if hi <= 0 else RECOMPUTE])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(ctxs[0], ctxs[-1])
    ax.set_ylim(bws[0], bws[-1])
    _link_labels(fig, ax, dep["links"], bws[0], bws[-1])
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("link bandwidth (GB/s)")
    ax.set_title(f"{label(dep)}, stored prefix: who wins where")
    ax.legend([Patch(color=TRANSFER), Patch(color=RECOMPUTE), Line2D([], [], color="k", lw=2),
               Line2D([], [], color="k", ls=":", lw=1)],
              ["transfer wins", "recompute wins", "decision boundary (B*)", "links of this deployment"],
              loc="upper left", fontsize=8, framealpha=0.9)
    return png(fig, res["dir"], f"heatmap-{dep['slug']}.png")
