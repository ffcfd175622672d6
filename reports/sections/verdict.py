"""Verdict: one row per deployment and link, for both scenarios: the
handoff after a prefill and a stored prefix fetched.  Each winner and its
L* come from the same kvwall crossover document, so they cannot disagree.
Loopback TCP is left out (answer.py).  Also written as verdict.csv."""
import os

from ..answer import deployments, label, lstar_text
from ..common import source, table, write_csv

POSITION = 10
TOC = [("sec-verdict", "Verdict: every deployment and link, both scenarios")]  # its entries in the contents


def verdict_rows(res):
    rows = []
    for dep in deployments(res):
        for l in dep["links"]:
            h, p = l.get("handoff") or {}, l.get("prefix_fetch") or {}
            d = p or h
            rows.append({
                "deployment": label(dep), "model": dep["model"], "tp": dep["tp"], "kv_dtype": dep["kv_dtype"],
                "block_tokens": dep["block"], "link": l["name"], "link_gbps": d.get("link_gbps"),
                "link_efficiency": d.get("link_efficiency"), "ctx": d.get("ctx"),
                "handoff_mode": h.get("transfer_mode"), "handoff_winner": h.get("winner"),
                "handoff_s": h.get("transfer_s"), "handoff_lstar": lstar_text(h) if h else None,
                "prefix_winner": p.get("winner"), "prefix_s": p.get("transfer_s"),
                "prefix_lstar": lstar_text(p) if p else None,
                "recompute_s": d.get("recompute_s"), "bandwidth_threshold_gbps": p.get("bandwidth_threshold_gbps"),
                "handoff_threshold_gbps": h.get("bandwidth_threshold_gbps"),
                "crossover_tokens": p.get("crossover_tokens"), "regime": p.get("regime"),
                "fits": d.get("fits"), "compute": source(d.get("compute_source")),
                "link_source": source(d.get("link_source")),
                "from": f"{source(d.get('compute_source'))} / {source(d.get('link_source'))}",
            })
    return rows


def html(res):
    verdict = verdict_rows(res)
    write_csv(os.path.join(res["dir"], "verdict.csv"), verdict)
    return ["<h2 id=sec-verdict>Verdict</h2>",
            table(verdict, [("deployment", "deployment"), ("link", "link"), ("link_gbps", "GB/s used"),
                            ("ctx", "at ctx"), ("handoff_winner", "handoff: winner"),
                            ("handoff_s", "handoff: exposed s"), ("handoff_lstar", "handoff: L*"),
                            ("prefix_winner", "stored prefix: winner"), ("prefix_s", "stored prefix: load s"),
                            ("prefix_lstar", "stored prefix: L*"), ("recompute_s", "recompute s"),
                            ("bandwidth_threshold_gbps", "B* GB/s"), ("from", "compute / link from")],
                  "verdict", lambda r: "recompute" if "recompute" in (r["handoff_winner"], r["prefix_winner"]) else ""),
            "<p class=note>Two scenarios per link. Handoff: the KV of a prefill sent to the decode GPU "
            "(layer-wise: the transfer left after the last layer; bulk: all of it), against the decode GPU "
            "recomputing the prompt; it optimises time to first token. Stored prefix: KV loaded from another node's "
            "pool before the request runs, against recomputing it; it optimises prefill time. L*: the context where "
            "the winner flips, searched from one KV block to the model's window (none: one side wins throughout; "
            "latency-bound: a flip under one block, decided by the link's fixed latency, not a crossover). B*: the "
            "link speed below which recompute wins at that context. GB/s used: the link at its achieved fraction "
            "(spec sheets) or as measured. GB = 1e9 bytes.</p>"]
