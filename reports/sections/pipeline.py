"""Layer-wise pipeline: the timeline of compute and KV sends, for the
layer-wise crossover whose sends matter most."""
import matplotlib.pyplot as plt

from ..common import img, png

POSITION = 60


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
    return png(fig, res["dir"], "pipeline.png"), d


def html(res):
    b64, _ = plot_pipeline(res)
    return ["<h2>Layer-wise pipeline</h2>", img(b64, "layer-wise timeline")]
