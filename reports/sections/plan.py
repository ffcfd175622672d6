"""Deployment plan (kvwall plan --json, plan.json): the winner in words at
the top, goodput per GPU of every deployment, attainment vs rate for the top
few, the Pareto front of TTFT vs TPOT vs goodput per GPU, goodput vs link
bandwidth, and the engines' settings.  With --prefix-cache, a line on the
cache under the winner (what it takes from prefill, TTFT with and without
it, the winner without it) and its columns in the best-of-each-kind table.
Also written as plan.csv."""
import html as _html
import os

import matplotlib.pyplot as plt

from ..common import img, png, table, write_csv

POSITION = 15
COLORS = {"aggregated": "tab:blue", "disaggregated": "tab:orange", "hybrid": "tab:green"}


def _found(plan):
    return [c for c in plan.get("configurations", []) if c.get("goodput_per_gpu") is not None]


def plot_goodput(res, plan):
    rows = sorted(_found(plan), key=lambda c: -c["goodput_per_gpu"])[:24]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, max(3, 0.28 * len(rows) + 1)))
    ax.barh(range(len(rows)), [c["goodput_per_gpu"] for c in rows],
            color=[COLORS.get(c["kind"], "grey") for c in rows])
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([c["config"] for c in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("goodput per GPU (req/s within the SLOs)")
    ax.set_title("goodput per GPU by deployment (blue aggregated, orange disaggregated, green hybrid)")
    return png(fig, res["dir"], "plan-goodput.png")


def plot_curves(res, plan):
    curves = plan.get("curves") or []
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for c in curves:
        pts = [p for p in c["points"] if p.get("rate_rps") is not None]
        ax.plot([p["rate_rps"] for p in pts], [100 * (p["attainment"] or 0) for p in pts], "o-", label=c["config"])
    target = plan.get("attainment_target")
    if target is not None:
        ax.axhline(100 * target, color="k", ls=":", lw=1)
    ax.set_xlabel("request rate (req/s)")
    ax.set_ylabel("SLO attainment (%)")
    ax.set_title("attainment vs rate, top configurations (dotted: the target)")
    ax.legend(fontsize=7)
    return png(fig, res["dir"], "plan-attainment.png")


def plot_pareto(res, plan):
    rows = _found(plan)
    front = {p["config"] for p in plan.get("pareto") or []}
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for c in rows:
        on = c["config"] in front
        ax.scatter(c["ttft_p90_s"], c["tpot_p90_s"], s=20 + 200 * c["goodput_per_gpu"] / max(r["goodput_per_gpu"] for r in rows),
                   color=COLORS.get(c["kind"], "grey"), edgecolors="k" if on else "none", alpha=0.9 if on else 0.35)
        if on:
            ax.annotate(c["config"], (c["ttft_p90_s"], c["tpot_p90_s"]), fontsize=6)
    ax.set_xlabel("TTFT p90 at goodput (s)")
    ax.set_ylabel("TPOT p90 at goodput (s)")
    ax.set_title("Pareto front (outlined): TTFT vs TPOT vs goodput per GPU (marker size)")
    return png(fig, res["dir"], "plan-pareto.png")


def plot_link(res, plan):
    sw = plan.get("link_sweep")
    if not sw:
        return None
    pts = sw["points"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot([p["gbps"] for p in pts], [p["goodput_rps"] or 0 for p in pts], "o-")
    ax.axvline(sw["link_gbps"], color="k", ls=":", lw=1)
    ax.annotate("this cluster's link", (sw["link_gbps"], 0), fontsize=7, rotation=90, va="bottom")
    if sw.get("min_gbps_keeping_goodput"):
        ax.axvline(sw["min_gbps_keeping_goodput"], color="tab:red", ls="--", lw=1)
        ax.annotate(f"keeps {100 * sw['keep_fraction']:.0f}% of goodput", (sw["min_gbps_keeping_goodput"], 0),
                    fontsize=7, rotation=90, va="bottom", color="tab:red")
    ax.set_xscale("log")
    ax.set_xlabel(f"{sw['link_class']} link bandwidth per GPU (GB/s)")
    ax.set_ylabel("goodput (req/s)")
    ax.set_title(f"{sw['config']}: goodput vs link bandwidth")
    return png(fig, res["dir"], "plan-link.png")


def toc(res):
    return [("sec-plan", "Deployment plan: aggregated, disaggregated or hybrid, P:D and TP")] if res.get("plan") else []


def best_per_kind(plan):
    out = []
    for kind in ("aggregated", "disaggregated", "hybrid"):
        rows = [c for c in _found(plan) if c["kind"] == kind]
        if rows:
            out.append(max(rows, key=lambda c: c["goodput_per_gpu"]))
    return out


def _num(x, fmt):
    return format(x, fmt) if isinstance(x, (int, float)) else "-"


def cache_line(plan):
    """the prefix cache and what it did, in words; "" when the plan ran without one"""
    if not plan.get("prefix_cache"):
        return ""
    e = _html.escape
    nc = plan.get("nocache_winner")
    if nc is None:
        without = "without the cache no deployment searched meets the SLOs"
    elif plan.get("cache_changes_winner"):
        without = (f"without the cache {e(nc)} would win at "
                   f"{_num(plan.get('nocache_winner_goodput_per_gpu'), '.3g')} req/s per GPU (the cache changes the winner)")
    else:
        without = (f"without the cache the same deployment wins, at "
                   f"{_num(plan.get('winner_goodput_per_gpu_nocache'), '.3g')} req/s per GPU")
    return (f"<p class=cache><b>Prefix cache</b>: {e(plan['prefix_cache'])}. For the winner "
            f"{_num(100 * (plan.get('cache_prefill_saved') or 0), '.0f')}% of prompt tokens come from the cache "
            f"(found cached: {_num(100 * (plan.get('cache_prefix_hit') or 0), '.0f')}%; a prefix below HBM takes "
            f"{_num(plan.get('cache_load_ms'), '.3g')} ms to load on average); TTFT p90 "
            f"{_num(plan.get('cache_ttft_p90_s'), '.3g')} s against {_num(plan.get('cache_ttft_p90_nocache_s'), '.3g')} s "
            f"without the cache at the same rate; {without}.</p>")


def html(res):
    plan = res.get("plan")
    if not plan:
        return []
    write_csv(os.path.join(res["dir"], "plan.csv"), plan.get("configurations", []))
    e = _html.escape
    parts = ["<h2 id=sec-plan>Deployment plan</h2>",
             f"<p><b>{e(plan.get('answer', ''))}</b></p>",
             f"<p class=note>{e(plan.get('model', ''))} on {plan.get('gpus')} x {e(plan.get('gpu', ''))}; "
             f"workload: {e(plan.get('workload', ''))}; SLOs: {e(plan.get('slo', ''))}. Prefill compute: "
             f"{e(plan.get('compute_source', ''))}. Decode steps: {e(plan.get('decode_source', ''))}. "
             f"Links: {e(plan.get('inter_link', ''))}; within a node {e(plan.get('intra_link', ''))}. "
             f"{e(plan.get('handoff_costs', ''))}.</p>"]
    line = cache_line(plan)
    if line:
        parts.insert(2, line)
    cols = [("config", "deployment"), ("goodput_rps", "goodput req/s"), ("goodput_per_gpu", "per GPU"),
            ("ttft_p90_s", "TTFT p90 s"), ("tpot_p90_s", "TPOT p90 s"), ("util_prefill", "util P"),
            ("util_decode", "util D"), ("link_util", "link util"), ("wasted_gpu_s", "wasted GPU s"),
            ("failed_slo", "fails first")]
    if line:
        cols += [("prefill_saved", "prefill saved"), ("ttft_p90_nocache_s", "TTFT p90 no cache s"),
                 ("goodput_per_gpu_nocache", "per GPU no cache")]
    parts.append("<h3>Best of each kind</h3>")
    parts.append(table(best_per_kind(plan), cols, "plan-best"))
    parts.append(img(plot_goodput(res, plan), "goodput per GPU by deployment"))
    parts.append(img(plot_curves(res, plan), "attainment vs rate"))
    parts.append(img(plot_pareto(res, plan), "Pareto front"))
    parts.append(img(plot_link(res, plan), "goodput vs link bandwidth"))
    eng = plan.get("engines") or []
    if eng:
        parts.append("<h3>Engine settings for the winner</h3>")
        parts.append(table(eng, [("engine", "engine"), ("settings", "settings"), ("note", "note"),
                                 ("source", "checked against")], "plan-engines"))
    parts.append("<p class=note>Goodput: the highest rate at which the SLOs hold (rate bisection over the "
                 "workload's timeline), per GPU over the GPUs a deployment uses. Every configuration simulated is "
                 "in plan.csv.</p>")
    return parts
