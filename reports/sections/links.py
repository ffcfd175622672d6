"""Links and HBM: every measured link next to its catalog spec sheet, as a
table (links.csv) and a bar chart."""
import os

import matplotlib.pyplot as plt

from ..common import img, png, spec_for, spec_gpu, table, write_csv

POSITION = 30


def link_rows(res):
    rows = []
    prof = res["profile"] or {}
    for l in prof.get("links", []):
        spec = spec_for(l, res)
        sbw = spec["bandwidth_GBps"] if spec else None
        rows.append({"link": l["name"], "class": l.get("class"), "measured_GBps": l["bandwidth_GBps"],
                     "alpha_us": l.get("alpha_us"), "fit_r2": l.get("fit_r2"),
                     "spec": spec["name"] if spec else None, "spec_GBps": sbw,
                     "measured_over_spec": l["bandwidth_GBps"] / sbw if sbw else None})
    hbm = prof.get("hbm", {})
    gpu = spec_gpu(res)
    if hbm.get("copy_GBps"):
        sbw = gpu["bandwidth_GBps"] if gpu else None
        rows.append({"link": "hbm_copy", "class": "hbm", "measured_GBps": hbm["copy_GBps"], "alpha_us": None,
                     "fit_r2": None, "spec": gpu["name"] if gpu else None, "spec_GBps": sbw,
                     "measured_over_spec": hbm["copy_GBps"] / sbw if sbw else None})
    return rows


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
    return png(fig, res["dir"], "links.png")


def html(res):
    links = link_rows(res)
    write_csv(os.path.join(res["dir"], "links.csv"), links)
    return ["<h2>Links and HBM: measured vs spec sheet</h2>",
            table(links, [("link", "link"), ("class", "class"), ("measured_GBps", "measured GB/s"),
                          ("alpha_us", "alpha us"), ("fit_r2", "fit R²"), ("spec", "spec sheet"),
                          ("spec_GBps", "spec GB/s"), ("measured_over_spec", "measured / spec")], "links")
            if links else "<p class=note>No link was measured in this run (no profile.json).</p>",
            img(plot_links(res, links), "measured vs spec")]
