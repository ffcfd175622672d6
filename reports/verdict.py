"""Verdict table: one row per (model, link) from `kvwall crossover --json` files.

usage: python3 -m reports.verdict DIR
Reads DIR/crossover-*.json, prints the table and writes DIR/verdict.csv
(whole or not at all).  Every number is labelled with where it came from
(spec sheet, measured profile, or given).
"""
import csv
import glob
import io
import json
import os
import sys

COLUMNS = ["model", "link", "regime", "crossover_tokens", "ctx", "winner", "recompute_s",
           "transfer_s", "bandwidth_threshold_gbps", "transfer_mode", "compute_source", "link_source"]


def load(directory):
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "crossover-*.json"))):
        with open(path) as f:
            doc = json.load(f)
        if doc.get("schema") != "kvwall.crossover/1":
            raise ValueError(f"{path}: not a kvwall.crossover/1 document")
        rows.append({k: doc.get(k) for k in COLUMNS})
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def human(rows):
    out = io.StringIO()
    head = f"{'model':<16} {'link':<14} {'at ctx':>7} {'winner':<9} {'recompute s':>11} " \
           f"{'transfer s':>10} {'B* GB/s':>8}  {'L* (tokens)':<12} regime"
    out.write(head + "\n")
    for r in rows:
        out.write(f"{r['model']:<16} {r['link']:<14} {r['ctx']:>7} {r['winner']:<9} "
                  f"{fmt(r['recompute_s'], '.4g'):>11} {fmt(r['transfer_s'], '.4g'):>10} "
                  f"{fmt(r['bandwidth_threshold_gbps'], '.4g'):>8}  {fmt(r['crossover_tokens'], 'd'):<12} "
                  f"{r['regime']}\n")
    sources = sorted({(r["compute_source"], r["link_source"]) for r in rows})
    for c, l in sources:
        out.write(f"source: compute {c}; link {l}\n")
    return out.getvalue()


def write_csv(rows, path):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: python3 -m reports.verdict DIR (a results directory)", file=sys.stderr)
        return 1
    try:
        rows = load(argv[1])
    except (OSError, ValueError) as e:
        print(f"reports.verdict: {e}", file=sys.stderr)
        return 1
    if not rows:
        print(f"reports.verdict: no crossover-*.json in {argv[1]}", file=sys.stderr)
        return 1
    sys.stdout.write(human(rows))
    write_csv(rows, os.path.join(argv[1], "verdict.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
