"""Probes: every record of the profile (probes.csv), failed and skipped ones
with their reasons."""
import html as _html
import os

from ..common import table, write_csv

POSITION = 80
TOC = [("sec-probes", "Probes")]  # its entries in the contents


def probe_rows(res):
    prof = res["profile"] or {}
    return [{"probe": r["probe"], "variant": r["variant"], "status": r["status"], "gbps": r["gbps"],
             "tflops": r["tflops"], "median_s": (r["time_s"] or {}).get("median"),
             "checked": r["verify"]["checked"], "wrong": r["verify"]["wrong"], "reason": r["reason"]}
            for r in prof.get("results", [])]


def html(res):
    probes = probe_rows(res)
    write_csv(os.path.join(res["dir"], "probes.csv"), probes)
    parts = ["<h2 id=sec-probes>Probes</h2>",
             table(probes, [("probe", "probe"), ("variant", "variant"), ("status", "status"),
                            ("gbps", "GB/s"), ("tflops", "TFLOP/s"), ("median_s", "median s"),
                            ("checked", "checked"), ("wrong", "wrong"), ("reason", "reason")], "probes",
                   lambda r: r["status"] if r["status"] != "ok" else "")
             if probes else "<p class=note>No probe ran (no profile.json).</p>"]
    bad = [p for p in probes if p["status"] != "ok"]
    if bad:
        parts.append("<p class=note>Failed or skipped: " + "; ".join(
            f"{_html.escape(p['probe'])} {_html.escape(p['status'])}: {_html.escape(p['reason'] or '')}"
            for p in bad) + "</p>")
    return parts
