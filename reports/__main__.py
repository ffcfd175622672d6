"""python3 -m reports DIR: make DIR/report.html (and its PNGs and CSVs) from
what kvwall wrote into DIR.  Exit 0 ok, 1 bad input: one line
"reports: PATH: problem" on stderr, and nothing written (every file of the
report is kept in memory until all of it could be made, common.staged)."""
import sys

from .common import staged
from .report import ReportError, load, render


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print("usage: python3 -m reports DIR  (a results directory written by run_all.sh)",
              file=sys.stderr if len(argv) != 2 else sys.stdout)
        return 1 if len(argv) != 2 else 0
    try:
        with staged():
            path = render(load(argv[1]))
    except ReportError as e:
        print(f"reports: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a shape load() does not know yet: still one line, nothing written
        what = str(e).splitlines()[0] if str(e) else ""
        print(f"reports: {argv[1]}: cannot make the report from this directory ({type(e).__name__}"
              f"{': ' + what if what else ''})", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
