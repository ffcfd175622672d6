"""Links and HBM: every measured link next to its catalog spec sheet, and
every catalog link the verdicts use at its line rate and at the fraction
of it the model takes (cited in the sheet), plus HBM when measured or
known from the GPU's sheet; a table (links.csv) and a bar chart whose
legend lists only the series drawn."""
import os

import matplotlib.pyplot as plt

from ..answer import deployments
from ..common import img, png, spec_for, spec_gpu, spec_links, table, write_csv
from ..style import WIDTH

POSITION = 30
TOC = [("sec-links", "Links and HBM: measured vs spec sheet")]  # its entries in the contents


def _row(name, cls, measured, alpha, r2, spec, achieved_frac):
    sbw = spec["bandwidth_GBps"] if spec else None
    return {"link": name, "class": cls, "measured_GBps": measured, "alpha_us": alpha, "fit_r2": r2,
            "spec": spec["name"] if spec else None, "spec_GBps": sbw,
            "achieved_fraction": achieved_frac, "model_GBps": sbw * achieved_frac if sbw and achieved_frac else None,
            "measured_over_spec": measured / sbw if measured and sbw else None}


def link_rows(res):
    rows = []
    prof = res["profile"] or {}
    specs = spec_links(res)
    for l in prof.get("links", []):
        spec = spec_for(l, res)
        name = l["name"] + (" (loopback)" if l["name"].startswith("tcp_loopback") else "")
        rows.append(_row(name, l.get("class"), l["bandwidth_GBps"], l.get("alpha_us"), l.get("fit_r2"), spec,
                         spec.get("achieved_fraction") if spec else None))
    used = []
    for dep in deployments(res):
        for l in dep["links"]:
            if l["name"] in specs and l["name"] not in used:
                used.append(l["name"])
    for n in used:
        s = specs[n]
        rows.append(_row(n, s.get("class"), None, s.get("latency_us"), None, s, s.get("achieved_fraction")))
    hbm = prof.get("hbm", {})
    gpu = spec_gpu(res)
    if hbm.get("copy_GBps") or gpu:
        rows.append(_row("HBM (copy)", "hbm", hbm.get("copy_GBps"), None, None, gpu, None))
    return rows


def plot_links(res, rows):
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 0.9 + 0.42 * len(rows)))
    series = [("measured_GBps", "measured here", "#1f77b4", 0.27), ("model_GBps",
               "spec sheet x achieved fraction (what the model uses)", "#9ecae1", 0.0),
              ("spec_GBps", "spec sheet line rate", "#bbbbbb", -0.27)]
    y = list(range(len(rows)))
    for key, name, color, off in series:
        pts = [(i + off, r[key]) for i, r in zip(y, rows) if r.get(key)]
        if pts:  # no legend entry for a series with no bar
            ax.barh([p[0] for p in pts], [p[1] for p in pts], height=0.26, label=name, color=color)
    ax.set_yticks(y)
    ax.set_yticklabels([r["link"] for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("bandwidth (GB/s, 1 GB = 1e9 B; HBM: copy traffic, read + write)")
    ax.set_ylabel("link")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_title("Measured vs spec sheet")
    return png(fig, res["dir"], "links.png")


def html(res):
    links = link_rows(res)
    write_csv(os.path.join(res["dir"], "links.csv"), links)
    return ["<h2 id=sec-links>Links and HBM: measured vs spec sheet</h2>",
            table(links, [("link", "link"), ("class", "class"), ("measured_GBps", "measured GB/s"),
                          ("alpha_us", "alpha us"), ("fit_r2", "fit R²"), ("spec", "spec sheet"),
                          ("spec_GBps", "spec GB/s"), ("achieved_fraction", "achieved fraction"),
                          ("model_GBps", "model uses GB/s"), ("measured_over_spec", "measured / spec")], "links")
            if links else "<p class=note>No link was measured or used in this run.</p>",
            img(plot_links(res, links), "measured vs spec"),
            "<p class=note>A spec sheet's achieved fraction is what the usual benchmark of that link class reaches "
            "(perftest ib_write_bw, nccl-tests, iperf3, nvbandwidth), with its source in the sheet "
            "(kvwall hw --json); a measured link is used as measured.</p>"]
