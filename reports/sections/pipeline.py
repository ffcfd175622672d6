"""Layer-wise pipeline: the timeline of compute and KV sends of the
layer-wise handoff whose sends matter most (loopback left out), every
layer's bar drawn (alternating shades, no edges that would hide thin
bars), the title in plain units."""
import html as _html

import matplotlib.pyplot as plt

from ..answer import deployments, label
from ..common import img, png
from ..style import WIDTH, seconds

POSITION = 60
TOC = [("sec-pipeline", "Layer-wise pipeline")]  # its entries in the contents


def _candidates(res):
    for dep in deployments(res):
        for l in dep["links"]:
            d = l.get("handoff")
            if d and d.get("pipeline"):
                yield dep, d


def plot_pipeline(res):
    docs = list(_candidates(res))
    if not docs:
        return None, None

    def send_share(item):  # the pipeline whose sends matter most is the one worth drawing
        pl = item[1]["pipeline"]
        return sum(e["send_end_s"] - e["send_start_s"] for e in pl) / max(pl[-1]["compute_end_s"], 1e-30)

    dep, d = max(docs, key=send_share)
    p = d["pipeline"]
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    comp = [(e["compute_start_s"], e["compute_end_s"] - e["compute_start_s"]) for e in p]
    send = [(e["send_start_s"], e["send_end_s"] - e["send_start_s"]) for e in p]
    for k, shades in ((0, ("#2ca02c", "#98df8a")), (1, ("#ff7f0e", "#ffbb78"))):
        bars = comp if k == 0 else send
        for parity in (0, 1):
            ax.broken_barh(bars[parity::2], (1 - k - 0.3, 0.6), facecolors=shades[parity], edgecolor="none")
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["send KV", "compute"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlim(0, max(p[-1]["send_end_s"], p[-1]["compute_end_s"]) * 1.02)
    ax.set_xlabel("time since the prefill started (s)")
    ax.set_ylabel("per layer")
    ax.set_title(f"{d['model']} TP {d.get('tp', 1)} over {d['link']}, {d['ctx']:,} tokens: "
                 f"{seconds(d['transfer_s'])} exposed after a {seconds(p[-1]['compute_end_s'])} prefill")
    return png(fig, res["dir"], "pipeline.png"), (dep, d)


def html(res):
    b64, which = plot_pipeline(res)
    parts = ["<h2 id=sec-pipeline>Layer-wise pipeline</h2>", img(b64, "layer-wise timeline")]
    if which:
        dep, d = which
        parts.append(f"<p class=note>{_html.escape(label(dep))} over {_html.escape(d['link'])}: each layer's KV is "
                     f"sent as soon as the layer is computed ({len(d['pipeline'])} layers, alternating shades); "
                     f"what is left after the last layer, {_html.escape(seconds(d['transfer_s']))}, is what the "
                     "handoff adds to the time to first token.</p>")
    return parts
