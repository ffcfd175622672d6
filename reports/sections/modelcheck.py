"""Model check: kvwall validate's measured vs predicted times and crossovers
(validation.json), a table with the residual fits and one plot per model.
Also written as validation-pairs.csv."""
import html as _html
import os

import matplotlib.pyplot as plt

from ..common import img, png, table, write_csv
from ..style import WIDTH

POSITION = 20


def toc(res):
    return [("sec-modelcheck", "Model check: measured vs predicted")] if res.get("validation") else []


def _fit(f):
    """measured ~ overhead + scale x predicted, as text"""
    if not f or f.get("overhead_s") is None or f.get("scale") is None:
        return ""
    return f"{f['overhead_s'] * 1e3:.2f} ms + {f['scale']:.3f} x predicted"


def validation_rows(res):
    v = res["validation"]
    if not v:
        return []
    rows = []
    for p in v["analysis"]["pairs"]:
        splits = [abs(s["error"]) for s in p.get("splits", []) if s.get("error") is not None]
        rows.append({"model": p["model"], "path": p["path"], "profile_link": p["profile_link"],
                     "measured": ", ".join(f"{x:.0f}" for x in p["measured"]["crossovers"])
                     or p["measured"]["regime"],
                     "predicted": ", ".join(f"{x:.0f}" for x in p["predicted"]["crossovers"])
                     or p["predicted"]["regime"],
                     "crossover_error": p.get("crossover_error"), "max_time_error": p.get("max_time_error"),
                     "split_error": max(splits) if splits else None, "pass": "yes" if p["pass"] else "NO",
                     "why": p.get("why") or "", "recompute_fit": _fit(p.get("recompute_fit")),
                     "transfer_fit": _fit(p.get("transfer_fit"))})
    return rows


def plot_validation(res, model):
    pairs = [p for p in res["validation"]["analysis"]["pairs"] if p["model"] == model]
    if not pairs:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 5))
    pts = pairs[0]["points"]
    L = [p["tokens"] for p in pts]
    ax.plot(L, [p["recompute_predicted_s"] for p in pts], "k-", lw=2, label="recompute, predicted")
    ax.plot(L, [p["recompute_measured_s"] for p in pts], "ko", label="recompute, measured")
    for p in pairs:
        line, = ax.plot(L, [q["transfer_predicted_s"] for q in p["points"]], "--", label=f"{p['path']}, predicted")
        ax.plot(L, [q["transfer_measured_s"] for q in p["points"]], "o", color=line.get_color(), mfc="none",
                label=f"{p['path']}, measured")
        for x in p["measured"]["crossovers"]:
            ax.axvline(x, color=line.get_color(), lw=0.8)
        for x in p["predicted"]["crossovers"]:
            ax.axvline(x, color=line.get_color(), lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("prompt length L (tokens)")
    ax.set_ylabel("time (s)")
    ax.set_title(f"{model}: measured (points) vs predicted (lines)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title="L*: solid measured, dotted predicted", title_fontsize=8)
    return png(fig, res["dir"], f"validation-{model}.png")


def html(res):
    vrows = validation_rows(res)
    if not vrows:
        return []
    v = res["validation"]
    write_csv(os.path.join(res["dir"], "validation-pairs.csv"), vrows)
    parts = ["<h2 id=sec-modelcheck>Model check: measured vs predicted crossover</h2>"]
    if v.get("synthetic"):
        parts.append("<p><span class=badge>validation document is SYNTHETIC, not a measurement</span></p>")
    parts.append(table(vrows, [("model", "model"), ("path", "path"), ("profile_link", "profile link"),
                               ("measured", "L* measured"), ("predicted", "L* predicted"),
                               ("crossover_error", "L* error"), ("max_time_error", "worst |time error|"),
                               ("split_error", "worst |split error|"), ("pass", "within target"),
                               ("why", "first miss"), ("recompute_fit", "measured recompute ~"),
                               ("transfer_fit", "measured transfer ~")], "validation",
                       lambda r: "failed" if r["pass"] != "yes" else ""))
    an = v["analysis"]
    parts.append(f"<p class=note>{_html.escape(v.get('label') or '')}. Error = (predicted - measured) / measured; "
                 f"target {an['tolerance']:.3g} on times at &ge; {an['gated_from_tokens']} tokens, on L* and on "
                 f"splits. Pairs with a measured crossover: {an['pairs_with_crossover']}.</p>")
    for m in dict.fromkeys(r["model"] for r in vrows):
        parts.append(img(plot_validation(res, m), f"validation for {m}"))
    return parts
