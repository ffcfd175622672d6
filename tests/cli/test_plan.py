#!/usr/bin/env python3
"""CLI tests of `kvwall plan` (the real binary, small workloads).

- outputs: the table names the winner and why; --json carries the
  configurations, curves, link sweep, Pareto front and engine settings;
  --csv has one row per simulated configuration with every metric;
- determinism: the same seed gives byte-identical output, with 1 thread or
  2, and twice in a row;
- a measured decode table (hand-written fixture) is used and said to be;
- limits: --rate-scale tiny meets the SLOs with no queueing, huge is
  refused as an unbounded queue (exit 4);
- bad input: each case exits with its documented code, one line on stderr
  naming the problem, nothing on stdout, no --output file left.

usage: test_plan.py KVWALL
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data", "plan")
KVWALL = sys.argv[1]
sys.path.insert(0, os.path.dirname(HERE))
from checks import Checks  # noqa: E402

check = Checks("test_plan")
SMALL = ["plan", "--model", "llama-3-8b", "--hw", "h100-sxm", "--synthetic", "600", "--rate", "4",
         "--isl", "lognormal:2000:1", "--osl", "lognormal:150:1", "--gpus", "4", "--tps", "1,2",
         "--chunks", "512,4096", "--seed", "7"]
CSV_COLS = {"config", "kind", "route", "transfer", "gpus", "p_instances", "p_tp", "d_instances", "d_tp",
            "goodput_rps", "goodput_per_gpu", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s",
            "tpot_p99_s", "e2e_p50_s", "e2e_p90_s", "e2e_p99_s", "attainment", "attain_ttft", "attain_tpot",
            "util_prefill", "util_decode", "link_util", "kv_peak", "preemptions", "recompute_gpu_s",
            "wasted_gpu_s", "handoffs", "failed_slo", "pareto"}


def run(*args):
    p = subprocess.run([KVWALL, *args], capture_output=True, text=True, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def test_outputs():
    rc, out, err = run(*SMALL)
    check(rc == 0, f"plan: exit {rc}: {err}")
    check("winner" in out and " wins with " in out and "req/s per GPU" in out, "table: winner in words")
    check("vllm" in out and "sglang" in out and "dynamo" in out and "llm-d" in out, "table: engine settings")
    check("HBM bound" in out and "us per layer" in out, "table: which decode model was used")
    rc, out, err = run(*SMALL, "--json")
    check(rc == 0, f"plan --json: exit {rc}: {err}")
    doc = json.loads(out) if rc == 0 else {}
    check(doc.get("schema") == "kvwall.plan/1", "schema")
    configs = doc.get("configurations", [])
    kinds = {c["kind"] for c in configs}
    check(kinds == {"aggregated", "disaggregated", "hybrid"}, f"kinds {kinds}")
    routes = {c["route"] for c in configs if c["kind"] == "disaggregated"}
    check(routes == {"transfer", "recompute", "threshold", "load-aware"}, f"routes {routes}")
    check(any(c["transfer"] == "layerwise" for c in configs), "a layer-wise variant was simulated")
    best = max((c for c in configs if c["goodput_per_gpu"] is not None), key=lambda c: c["goodput_per_gpu"])
    check(best["config"] == doc.get("winner"), f"winner {doc.get('winner')} is the best per GPU {best['config']}")
    check(len(doc.get("curves", [])) >= 1 and len(doc["curves"][0]["points"]) == 8, "attainment curves")
    pts = doc["curves"][0]["points"]
    check(all(p1["attainment"] >= p2["attainment"] - 0.05 for p1, p2 in zip(pts, pts[1:])),
          "attainment falls with rate (within noise)")
    sweep = doc.get("link_sweep") or {}
    check(len(sweep.get("points", [])) == 10 and sweep.get("min_gbps_keeping_goodput") is not None, "link sweep")
    gp = [p["goodput_rps"] or 0 for p in sweep.get("points", [])]
    check(all(b >= a * 0.97 for a, b in zip(gp, gp[1:])), f"goodput does not fall with bandwidth: {gp}")
    check(any(p["config"] == doc["winner"] for p in doc.get("pareto", [])), "the winner is on the Pareto front")
    check(len(doc.get("engines", [])) == 4, "four engines")
    rc, out, err = run(*SMALL, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and len(rows) == len(configs), f"csv: one row per configuration ({len(rows)} vs {len(configs)})")
    check(CSV_COLS <= set(rows[0]) if rows else False, f"csv columns missing: {CSV_COLS - set(rows[0] if rows else [])}")


def test_determinism():
    a = run(*SMALL, "--csv", "--jobs", "1")
    b = run(*SMALL, "--csv", "--jobs", "2")
    check(a[0] == 0 and a[1] == b[1], "same CSV with 1 and 2 threads")
    c, d = run(*SMALL, "--json"), run(*SMALL, "--json")
    check(c[0] == 0 and c[1] == d[1], "byte-identical JSON twice")
    e = run(*SMALL[:-1], "8", "--csv")
    check(e[0] == 0 and e[1] != a[1], "another seed, another answer")


def test_decode_table():
    prof = os.path.join(DATA, "decode-profile.json")
    rc, out, err = run(*SMALL, "--profile", prof)
    check(rc == 0 and "measured decode steps in" in out and "hand-written EXAMPLE" in out,
          f"decode table used and labelled: {rc} {err}")


def test_limits():
    rc, out, err = run(*SMALL, "--rate-scale", "1e-6", "--json")
    doc = json.loads(out) if rc == 0 else {}
    check(rc == 0 and doc.get("slo_met") is True, f"rate scale -> 0 meets the SLOs: {rc} {err}")
    rows = doc.get("configurations", [])
    check(all(r["preemptions"] == 0 for r in rows), "no queueing, no preemption at rate scale -> 0")
    rc, out, err = run(*SMALL, "--rate-scale", "1e9")
    check(rc == 4 and "grows without bound" in err and out == "", f"rate scale -> inf refused: {rc} {err!r}")


BAD = [
    (["--trace", os.path.join(DATA, "bad-line.jsonl")], 1, "bad-line.jsonl:2: malformed"),
    (["--trace", os.path.join(DATA, "empty.jsonl")], 1, "no requests"),
    (["--trace", os.path.join(DATA, "backwards.jsonl")], 1, "backwards.jsonl:2: timestamp goes backwards"),
    (["--trace", os.path.join(DATA, "zero-length.jsonl")], 1, "zero-length.jsonl:2: input length 0"),
    (["--trace", os.path.join(DATA, "huge-length.jsonl")], 1, "huge-length.jsonl:2: input length"),
    (["--trace", "no-such-trace"], 1, "no-such-trace"),
    (["--synthetic", "100", "--rate", "1", "--isl", "1e9"], 1, "--isl: 1e+09 tokens is above"),
    (["--synthetic", "100", "--rate", "1", "--isl", "uniform:10:5"], 1, "MIN <= MAX"),
    (["--synthetic", "100", "--rate", "1", "--isl", "banana"], 1, "--isl: 'banana'"),
    (["--synthetic", "100"], 1, "--synthetic needs --rate"),
    (["--trace", "mooncake-conversation", "--synthetic", "5"], 1, "not both"),
    ([], 1, "no workload"),
    (["--synthetic", "100", "--rate", "1", "--route", "magic"], 1, "unknown policy 'magic'"),
    (["--synthetic", "100", "--rate", "1", "--gpus-per-node", "3"], 1, "not a whole number of nodes"),
    (["--synthetic", "100", "--rate", "1", "--deployments", "split"], 1, "'split' is not"),
    (["--synthetic", "100", "--rate", "1", "--profile", os.path.join(DATA, "decode-profile-bad-grid.json")], 1,
     "full batch x ctx grid"),
    (["--synthetic", "100", "--rate", "1", "--model", "llama-3.1-405b"], 1, "weights need"),
    (["--synthetic", "300", "--rate", "1", "--ttft-ms", "1", "--tpot-ms", "1"], 4, "best attainment"),
]


def test_bad_input():
    base = ["plan", "--model", "llama-3-8b", "--hw", "h100-sxm", "--tps", "1,2", "--gpus", "4"]
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "plan.json")
        for extra, code, needle in BAD:
            args = list(base)
            if "--model" in extra:  # replace the model
                i = extra.index("--model")
                args[args.index("--model") + 1] = extra[i + 1]
                extra = extra[:i] + extra[i + 2:]
            rc, out, err = run(*args, *extra, "--output", target)
            lines = err.strip("\n").split("\n")
            check(rc == code, f"{extra}: exit {rc}, want {code} ({err.strip()})")
            check(len(lines) == 1 and needle in err, f"{extra}: stderr {err!r} should be one line with {needle!r}")
            check(out == "" and not os.path.exists(target), f"{extra}: partial output left")
    rc, out, err = run(*base, "--synthetic", "300", "--rate", "1", "--ttft-ms", "1", "--tpot-ms", "1")
    check("budget failed" in err and "TTFT" in err and "TPOT" in err, f"which SLO failed is named: {err!r}")


def main():
    test_outputs()
    test_determinism()
    test_decode_table()
    test_limits()
    test_bad_input()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
