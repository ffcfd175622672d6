"""The decision report: a results directory -> report.html, PNGs and CSVs.

Reads only what kvwall wrote there (see load()); computes nothing about the
model itself, so the page shows exactly the numbers the CLI produced:

  run.json                            how run_all.sh was called (optional)
  profile.json                        kvwall probe (kvwall.profile/1)
  hw.json                             kvwall hw --json (spec sheets)
  deployments.json, run.json           the deployments modelled (run_all.sh)
  crossover-*.json                    kvwall crossover --json, by "scenario": a
                                      stored prefix fetched (prefix_fetch, bulk) or
                                      the handoff after a prefill (handoff; older
                                      files: transfer_mode layerwise)
  sweep-<model>.csv                   kvwall sweep --csv
  plan.json                           kvwall plan --json (deployment plan, optional)

The page is self-contained (images embedded as base64 PNG) and opens
with the verdict table.  Every number is labelled measured or spec sheet.
This file reads the directory and frames the page; each section of the
page (and the CSV it writes) is its own module in sections/, shared
helpers are in common.py.
"""
import glob
import html
import os

from . import shapes
from .common import ReportError, read_csv, read_json, write_text
from .sections import all_sections
from .sections.verdict import verdict_rows

__all__ = ["ReportError", "load", "render", "verdict_rows"]


def load(directory):
    """Everything the report is made from, each file checked against its
    shape (shapes.py) before a section sees it."""
    if not os.path.isdir(directory):
        raise ReportError(f"{directory} is not a directory")
    res = {"dir": directory, "run": {}, "profile": None, "hw": [], "crossover": [], "handoff": [], "sweeps": {},
           "validation": None, "plan": None}
    path = os.path.join(directory, "run.json")
    if os.path.lexists(path):
        res["run"] = shapes.run(read_json(path), path)
    path = os.path.join(directory, "profile.json")
    if os.path.lexists(path):
        res["profile"] = shapes.profile(read_json(path), path)
    path = os.path.join(directory, "hw.json")
    if os.path.lexists(path):
        res["hw"] = shapes.hardware(read_json(path), path)
    for path in sorted(glob.glob(os.path.join(directory, "crossover-*.json"))):
        doc = shapes.crossover(read_json(path), path)
        scenario = doc.get("scenario") or ("handoff" if doc.get("transfer_mode") == "layerwise" else "prefix_fetch")
        res["handoff" if scenario == "handoff" else "crossover"].append(doc)
    for path in sorted(glob.glob(os.path.join(directory, "sweep-*.csv"))):
        res["sweeps"][os.path.basename(path)[6:-4]] = shapes.sweep(read_csv(path), path)
    path = os.path.join(directory, "validation.json")
    if os.path.lexists(path):
        res["validation"] = shapes.validation(read_json(path), path)
        if res["profile"] is None:
            res["profile"] = res["validation"].get("profile")
    path = os.path.join(directory, "plan.json")
    if os.path.lexists(path):
        res["plan"] = shapes.plan(read_json(path), path)
    if not res["crossover"] and not res["handoff"] and res["profile"] is None and res["plan"] is None:
        raise ReportError(f"{directory}: no crossover-*.json, profile.json, validation.json or plan.json")
    return res


CSS = """body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px}
th{background:#eee}tr.failed td{background:#fdd}tr.skipped td{color:#777}tr.recompute td{background:#eef7ee}
.note{color:#555;font-size:13px}img{max-width:100%}h2{border-bottom:1px solid #ddd;padding-bottom:3px}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;background:#ffe9a8;font-size:12px}
h1{font-size:22px;margin:0 0 6px}ul.headlines{padding-left:1.2em;margin:0.3em 0 0.8em}
li.headline{margin:0 0 0.45em;font-size:15px;line-height:1.35}#deployment table td{font-size:12px}
nav#toc ul{margin:0.2em 0;font-size:13px}h3{margin:1.2em 0 0.3em}"""


def render(res):
    prof = res["profile"] or {}
    run = res["run"] or {}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>kvwall report</title><style>{CSS}</style>"
             "</head><body>", "<h1>kvwall: transfer or recompute the KV cache?</h1>"]
    mode = run.get("mode", "")
    if mode:
        parts.append(f"<p><span class=badge>{html.escape(mode)}</span></p>")
    if prof.get("example"):
        parts.append("<p><span class=badge>profile is a hand-written EXAMPLE, not a measurement</span></p>")
    for section in all_sections():
        parts += section.html(res)
    parts.append("</body></html>\n")
    text = "".join(parts)
    path = os.path.join(res["dir"], "report.html")
    write_text(path, text)
    return path
