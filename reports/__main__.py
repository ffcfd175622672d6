"""python3 -m reports DIR: make DIR/report.html (and its PNGs and CSVs) from
what kvwall wrote into DIR.  Exit 0 ok, 1 bad input (the message names it)."""
import sys

from .report import ReportError, load, render


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print("usage: python3 -m reports DIR  (a results directory written by run_all.sh)",
              file=sys.stderr if len(argv) != 2 else sys.stdout)
        return 1 if len(argv) != 2 else 0
    try:
        path = render(load(argv[1]))
    except ReportError as e:
        print(f"reports: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
