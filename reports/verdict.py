"""Verdict table on the terminal: python3 -m reports.verdict DIR.

The same rows as the report's first table (report.verdict_rows), read from
DIR/crossover-*.json.  Exit 0 ok, 1 bad input.
"""
import sys

from .report import ReportError, load, verdict_rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(argv):
    if len(argv) != 2:
        print("usage: python3 -m reports.verdict DIR", file=sys.stderr)
        return 1
    try:
        rows = verdict_rows(load(argv[1]))
    except ReportError as e:
        print(f"reports.verdict: {e}", file=sys.stderr)
        return 1
    print(f"{'model':<14} {'link':<24} {'winner':<9} {'recompute s':>11} {'transfer s':>10} "
          f"{'layer-wise s':>12} {'B* GB/s':>8}  {'L*':<8} {'link from':<10} regime")
    for r in rows:
        print(f"{r['model']:<14} {r['link']:<24} {r['winner']:<9} {fmt(r['recompute_s'], '.4g'):>11} "
              f"{fmt(r['transfer_s'], '.4g'):>10} {fmt(r['layerwise_exposed_s'], '.4g'):>12} "
              f"{fmt(r['bandwidth_threshold_gbps'], '.4g'):>8}  {fmt(r['crossover_tokens'], 'd'):<8} "
              f"{r['link_source']:<10} {r['regime']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
