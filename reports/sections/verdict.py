"""Verdict: one row per (model, link) — who wins at the context, L*, B*, and
where each number came from.  Also written as verdict.csv."""
import os

from ..common import source, table, write_csv

POSITION = 10


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
            "compute": source(d.get("compute_source")), "link_source": source(d.get("link_source")),
        })
    return rows


def html(res):
    verdict = verdict_rows(res)
    write_csv(os.path.join(res["dir"], "verdict.csv"), verdict)
    return ["<h2>Verdict</h2>",
            table(verdict, [("model", "model"), ("link", "link"), ("ctx", "at ctx"), ("winner", "winner"),
                            ("crossover_tokens", "L* (tokens)"), ("regime", "regime"),
                            ("bandwidth_threshold_gbps", "B* (GB/s)"), ("recompute_s", "recompute s"),
                            ("transfer_s", "transfer s"), ("layerwise_exposed_s", "layer-wise exposed s"),
                            ("compute", "compute from"), ("link_source", "link from")],
                  "verdict", lambda r: "recompute" if r["winner"] == "recompute" else ""),
            "<p class=note>L*: the context length where the winner flips (none: one side wins over the whole "
            "searched range). B*: the link bandwidth at which transfer and recompute tie at that context. "
            "Layer-wise exposed: transfer time left after the last layer when each layer's KV is sent as soon "
            "as it is computed. GB = 1e9 bytes.</p>"]
