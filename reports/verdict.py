"""The answer on the terminal: python3 -m reports.verdict DIR.

One headline sentence per deployment, then the verdict table (the
report's, verdict_rows), read from DIR/crossover-*.json.  Exit 0 ok, 1 bad
input.
"""
import signal
import sys
import textwrap

from .answer import deployments, headline
from .common import spec_gpu
from .report import ReportError, load, verdict_rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(argv):
    if len(argv) != 2:
        print("usage: python3 -m reports.verdict DIR", file=sys.stderr)
        return 1
    try:
        res = load(argv[1])
        rows = verdict_rows(res)
    except ReportError as e:
        print(f"reports.verdict: {e}", file=sys.stderr)
        return 1
    gpu = spec_gpu(res)
    for dep in deployments(res):
        # link and model names keep their hyphens on one line
        print(textwrap.fill(headline(dep, gpu["name"] if gpu else None), 110, subsequent_indent="  ",
                            break_on_hyphens=False))
    print()
    print(f"{'deployment':<34} {'link':<22} {'GB/s':>6} {'handoff':<9} {'exposed s':>9} {'prefix':<9} "
          f"{'load s':>8} {'recompute s':>11} {'B* GB/s':>8}  L* (stored prefix)")
    for r in rows:
        print(f"{r['deployment'][:34]:<34} {r['link'][:22]:<22} {fmt(r['link_gbps'], '.4g'):>6} "
              f"{r['handoff_winner'] or '-':<9} {fmt(r['handoff_s'], '.4g'):>9} {r['prefix_winner'] or '-':<9} "
              f"{fmt(r['prefix_s'], '.4g'):>8} {fmt(r['recompute_s'], '.4g'):>11} "
              f"{fmt(r['bandwidth_threshold_gbps'], '.4g'):>8}  {r['prefix_lstar'] or '-'}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends it quietly, as a Unix tool
    sys.exit(main(sys.argv))
