#!/usr/bin/env python3
"""The answer a cluster owner reads first, golden: `python3 -m reports.verdict
DIR` (one headline sentence per deployment, then the verdict table) for a
results directory made with the real kvwall binary (fixture.py), compared
with tests/golden/report_answer.txt, and the facts it must show checked
one by one:
- loopback left out: the CPU profile's tcp_loopback_4streams is in no
  headline and no verdict row, the deployment says it was left out; with
  include_loopback it is back, labelled "loopback, not a network path";
- L* within the window: Llama-2-7B over 25 GbE recomputes "at every context
  up to its 4,096-token window" (it would cross far beyond it);
- a TP that does not fit flagged: Llama-3-70B at TP 1 on an 80 GB H100;
- link efficiency applied and labelled: ib-ndr used at 50 x 0.966 = 48.3 GB/s;
- a storage link (nvme-gen4-ssd) is asked only for a stored prefix, as
  run_all.sh does, and the headline says so.
No browser needed.  usage: test_headline.py KVWALL [--update]
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(ROOT, "tests", "golden", "report_answer.txt")
KVWALL = os.path.abspath(sys.argv[1])
UPDATE = "--update" in sys.argv
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from checks import Checks  # noqa: E402
from fixture import make_results  # noqa: E402

check = Checks("test_headline")
PROFILE = os.path.join(ROOT, "tests", "data", "cpu-profile.json")
LINKS = ["ib-ndr", "eth-25", "tcp_loopback_4streams"]
DEPLOYMENTS = [("llama-2-7b", "auto"), ("llama-3-70b", 1), ("llama-3-8b", 2)]


def answer(d):
    p = subprocess.run([sys.executable, "-m", "reports.verdict", d], capture_output=True, text=True, cwd=ROOT)
    check(p.returncode == 0 and p.stderr == "", f"reports.verdict: {p.returncode} {p.stderr}")
    return p.stdout


def report(d):
    p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT)
    check(p.returncode == 0, f"reports: {p.stderr}")
    return open(os.path.join(d, "report.html")).read()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        d = make_results(KVWALL, tmp, PROFILE, LINKS, DEPLOYMENTS)
        text = answer(d)
        if UPDATE:
            with open(GOLDEN, "w") as f:
                f.write(text)
        want = open(GOLDEN).read() if os.path.exists(GOLDEN) else None
        check(text == want, f"the answer differs from {GOLDEN} (rerun with --update if intended)")
        heads = [h for h in re.split(r"\n(?=\S)", text.split("\n\n")[0])]
        check(len(heads) == len(DEPLOYMENTS), f"{len(heads)} headlines for {len(DEPLOYMENTS)} deployments")
        check("tcp_loopback" not in text, "loopback left out of the headlines and the verdict")
        page = report(d)
        check("left out of the verdicts: tcp_loopback_4streams (loopback, not a network path" in page,
              "the deployment says loopback was left out")
        l2 = " ".join(next(h for h in heads if h.startswith("llama-2-7b")).split())
        check("recompute the KV cache on eth-25, at every context up to its 4,096-token window" in l2,
              f"llama-2-7b answered within its window: {l2}")
        l70 = " ".join(next(h for h in heads if h.startswith("llama-3-70b")).split())
        check("DOES NOT FIT the GPU (TP 4 would)" in l70, f"llama-3-70b TP 1 flagged: {l70}")
        check("NO: DOES NOT FIT (smallest TP that fits: 4)" in page, "the deployment table flags it")
        check("ib-ndr 48.3 GB/s (50 GB/s line rate x 0.966 achieved)" in page, "link efficiency labelled")
        check(re.search(r"ib-ndr\s+48\.3 ", text) is not None, "the verdict uses ib-ndr at 48.3 GB/s")
    with tempfile.TemporaryDirectory() as tmp:
        # a storage link is asked only for a stored prefix, and said to be one
        d = make_results(KVWALL, tmp, PROFILE, ["ib-ndr", "nvme-gen4-ssd"], DEPLOYMENTS[2:])
        check(not any("nvme-gen4-ssd-handoff" in f for f in os.listdir(d))
              and any("nvme-gen4-ssd-prefix" in f for f in os.listdir(d)), "no handoff document for the SSD")
        head = re.sub(r"-\s+", "-", " ".join(answer(d).split("\n\n")[0].split()))  # wrapped at hyphens
        check("load a stored prefix from nvme-gen4-ssd (a storage link)" in head, f"the SSD named a storage link: {head}")
        check("after a prefill and for a stored prefix alike" not in head, f"no handoff claimed for the SSD: {head}")
        page = report(d)
        check("nvme-gen4-ssd" in page, "the report shows the SSD's row")
        p = subprocess.run([KVWALL, "crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "nvme-gen4-ssd",
                            "--scenario", "handoff"], capture_output=True, text=True)
        check(p.returncode == 0 and "nvme-gen4-ssd is a storage link" in p.stdout,
              f"crossover --scenario handoff over a storage link says what it answers: {p.stdout[-300:]}")
    with tempfile.TemporaryDirectory() as tmp:
        d = make_results(KVWALL, tmp, PROFILE, LINKS, DEPLOYMENTS[:1], include_loopback=True)
        text = answer(d)
        check("tcp_loopback_4streams (loopback, not a network path)" in " ".join(text.split()),
              "asked for, loopback is back, labelled")
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
