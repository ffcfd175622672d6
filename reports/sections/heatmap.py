"""Heatmap: per model, transfer / recompute over context x link bandwidth
(sweep-<model>.csv), with the decision boundary and the links on it."""
import html as _html
import math

import matplotlib.pyplot as plt

from ..common import img, png

POSITION = 50


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
    return png(fig, res["dir"], f"heatmap-{model}.png")


def html(res):
    parts = []
    for m, rows in res["sweeps"].items():
        parts.append(f"<h2>{_html.escape(m)}: context x bandwidth</h2>")
        parts.append(img(plot_heatmap(res, m, rows), f"heatmap for {m}"))
    return parts
