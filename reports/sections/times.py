"""Time curves: per model, recompute and transfer time over context for
every link, with L* marked."""
import html as _html

import matplotlib.pyplot as plt

from ..common import img, png, source

POSITION = 40


def plot_times(res, model):
    docs = [d for d in res["crossover"] if d["model"] == model]
    if not docs:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    rec = docs[0]["rows"]
    ax.plot([r["ctx"] for r in rec], [r["recompute_s"] for r in rec], "k-", lw=2.5, label="recompute")
    for d in docs:
        line, = ax.plot([r["ctx"] for r in d["rows"]], [r["transfer_s"] for r in d["rows"]], "--",
                        label=f"transfer over {d['link']} ({source(d.get('link_source'))})")
        if d["crossover_tokens"] and d["crossover_tokens"] >= rec[0]["ctx"]:
            ax.axvline(d["crossover_tokens"], color=line.get_color(), lw=0.8)
            ax.annotate(f"L*={d['crossover_tokens']}", (d["crossover_tokens"], rec[0]["recompute_s"]),
                        color=line.get_color(), fontsize=8, rotation=90)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("seconds")
    ax.set_title(f"{model}: recompute vs transfer ({source(docs[0].get('compute_source'))} compute)")
    ax.legend(fontsize=7)
    return png(fig, res["dir"], f"times-{model}.png")


def html(res):
    parts = []
    for m in dict.fromkeys(d["model"] for d in res["crossover"]):
        parts.append(f"<h2>{_html.escape(m)}: recompute and transfer time</h2>")
        parts.append(img(plot_times(res, m), f"times for {m}"))
    return parts
