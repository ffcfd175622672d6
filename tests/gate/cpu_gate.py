#!/usr/bin/env python3
"""The CI demonstration of kvwall's regression gate (kvwall compare), on
measurements made in this run only, so a slower or busier machine cannot
fail it:

  1. same run: the CPU-side probe (host_memcpy) twice, back to back, A then
     B; `compare A B` must pass.  Under load the second run can land in a
     worse moment than the first; the gate's noise rule absorbs most of
     that, and B is measured again (at most 3 times) before this counts as
     a failure: a real regression is in the code, which A and B share.
  2. a regression planted in this run's own numbers: A with every GB/s
     divided by 10 (times x 10) must fail with exit 4, each host_memcpy
     metric a "regression" in the table and in the JUnit file.  The noise
     rule is off here (--sigma 0) because a busy machine's spread can
     explain any drop; the rule itself is tested on recorded profiles in
     tests/cli/test_compare.py.
  3. the committed baseline (tests/baseline/c-kernels, recorded on another
     machine of this class) against A: printed, never asserted.  Absolute
     bandwidths differ between hosts of one class (glibc's memcpy strategy
     follows the cache size each VM reports; see bench/probes/probe_cpu.c).

usage: cpu_gate.py KVWALL BASELINE WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import Checks  # noqa: E402

KVWALL, BASELINE, WORK = sys.argv[1:4]
check = Checks("gate.cpu")


def kvwall(*args):
    p = subprocess.run([KVWALL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def probe(name):
    out = os.path.join(WORK, name)
    rc, _, err = kvwall("probe", "host_memcpy", "--out", out)
    if rc != 0:
        sys.exit(f"gate.cpu: kvwall probe host_memcpy: exit {rc}: {err.strip()}")
    return os.path.join(out, "profile.json")


def compare(base, cur, *extra):
    rc, out, err = kvwall("compare", base, cur, "--tolerance", "50%", "--metric", "host_memcpy/*", "--json", *extra)
    try:
        rows = {m["metric"]: m for m in json.loads(out)["metrics"]}
    except (ValueError, KeyError):
        rows = {}
    return rc, rows, err


def show(title, rows):
    print(title)
    for name, m in rows.items():
        base, cur, change = m["baseline"], m["current"], m["change_pct"]
        print(f"  {name:<34} {base if base is None else f'{base:8.3f}'} -> "
              f"{cur if cur is None else f'{cur:8.3f}'} GB/s  "
              f"{'' if change is None else f'{change:+6.1f}%'}  {m['verdict']}")


def planted(src, dst, factor):
    doc = json.load(open(src))
    for r in doc["results"]:
        if r["status"] == "ok" and r.get("gbps"):
            r["gbps"] /= factor
            r["time_s"] = {k: (v * factor if v is not None else None) for k, v in r["time_s"].items()}
    doc["label"] = f"planted regression: {src} with GB/s / {factor}"
    with open(dst, "w") as f:
        json.dump(doc, f)
    return dst


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    a = probe("a")
    # 1. same run, same machine, same moment
    for attempt in range(1, 4):
        b = probe(f"b{attempt}")
        rc, rows, err = compare(a, b, "--junit", os.path.join(WORK, "junit-same.xml"))
        show(f"same run, A -> B (attempt {attempt}):", rows)
        if rc == 0:
            break
    check(rc == 0 and rows and all(m["verdict"] in ("ok", "improved", "within_noise") for m in rows.values()),
          f"A -> B, both measured here: exit {rc} {err.strip()}")
    check(len(rows) >= 2, f"host_memcpy gives its metrics ({sorted(rows)})")
    # 2. a planted 10x drop of this run's own numbers
    slow = planted(a, os.path.join(WORK, "a-slowed.json"), 10)
    junit = os.path.join(WORK, "junit-planted.xml")
    rc, rows, err = compare(a, slow, "--sigma", "0", "--junit", junit)
    show("planted, A -> A with GB/s / 10:", rows)
    check(rc == 4 and "regressed" in err, f"planted drop: exit {rc} {err.strip()}")
    check(rows and all(m["verdict"] == "regression" for m in rows.values()), "every planted metric is a regression")
    suite = ET.parse(junit).getroot().find("testsuite")
    check(suite.get("failures") == str(len(rows)), f"JUnit counts {suite.get('failures')} failures of {len(rows)}")
    # ... and the other way round it is an improvement, not a failure
    rc, rows, _ = compare(slow, a, "--sigma", "0")
    check(rc == 0 and all(m["verdict"] == "improved" for m in rows.values()), f"planted gain: exit {rc}")
    # 3. the recorded baseline of another machine: informational
    rc, rows, err = compare(BASELINE, a, "--allow-missing", "--allow-hardware-change")
    show(f"informational, not asserted: {os.path.relpath(BASELINE)} (another machine) -> A (exit {rc}):", rows)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
