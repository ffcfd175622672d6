#!/usr/bin/env python3
"""kvwall compare and kvwall baseline save, on profiles made here.

A real drop is caught (exit 4, JUnit failure); a drop within the runs'
own spread is not; a missing metric and a hardware change are reported;
Google Benchmark JSON works the same way; bad input is refused.

usage: test_compare.py KVWALL
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

KVWALL = sys.argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from checks import Checks  # noqa: E402

check = Checks("test_compare")




def record(probe, variant, gbps, median, stddev, status="ok"):
    ok = status == "ok"
    return {"probe": probe, "variant": variant, "bytes": 1e9, "iterations": 10, "repetitions": 5,
            "time_s": {"min": median - stddev, "median": median, "p90": median + stddev,
                       "max": median + 2 * stddev, "stddev": stddev} if ok else None,
            "gbps": gbps if ok else None, "tflops": None, "verify": {"checked": 100, "wrong": 0},
            "status": status, "reason": None if ok else "no device"}


def profile(records, gpu="H100 80GB HBM3", driver="12.8", links=()):
    return {"schema": "kvwall.profile/1", "tool": {"name": "kvwall", "version": "test"},
            "label": "made by test_compare.py", "example": False,
            "host": {"cpu": "Test CPU", "logical_cpus": 4,
                     "gpus": [{"name": gpu, "driver": driver}] if gpu else []},
            "results": records, "links": list(links)}


def hbm(gbps, rel_stddev):
    median = 1e9 / (gbps * 1e9)
    return record("hbm", "copy", gbps, median, median * rel_stddev)


def write(tmp, name, doc):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def compare(*args):
    p = subprocess.run([KVWALL, "compare", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def verdicts(out):
    doc = json.loads(out)
    return {m["metric"]: m["verdict"] for m in doc["metrics"]}, doc


def main():
    with tempfile.TemporaryDirectory() as tmp:
        base = write(tmp, "base.json", profile([hbm(3000, 0.005), record("host_link", "h2d", 50, 0.02, 1e-4)],
                                               links=[{"name": "h2d", "bandwidth_GBps": 50}]))
        # 1. a real drop: 20% on HBM with 0.5% spread on both sides
        drop = write(tmp, "drop.json", profile([hbm(2400, 0.005), record("host_link", "h2d", 50, 0.02, 1e-4)],
                                               links=[{"name": "h2d", "bandwidth_GBps": 50}]))
        junit = os.path.join(tmp, "junit.xml")
        rc, out, err = compare(base, drop, "--json", "--junit", junit)
        v, doc = verdicts(out)
        check(rc == 4, f"drop: exit {rc}")
        check(v["hbm/copy:gbps"] == "regression" and v["host_link/h2d:gbps"] == "ok", f"drop verdicts {v}")
        check(doc["verdict"] == "fail" and doc["regressions"] == 1, "drop summary")
        check("regressed" in err and err.count("\n") == 1, f"drop message {err!r}")
        suite = ET.parse(junit).getroot().find("testsuite")
        fails = [tc.get("name") for tc in suite if tc.find("failure") is not None]
        check(fails == ["hbm/copy:gbps"] and suite.get("failures") == "1", f"junit failures {fails}")
        # 2. the same 20% drop, but both runs wobble by 15%: explained by the spread
        noisy_b = write(tmp, "noisy_b.json", profile([hbm(3000, 0.15)]))
        noisy_c = write(tmp, "noisy_c.json", profile([hbm(2400, 0.15)]))
        rc, out, _ = compare(noisy_b, noisy_c, "--json")
        v, _ = verdicts(out)
        check(rc == 0 and v["hbm/copy:gbps"] == "within_noise", f"noise: exit {rc}, {v}")
        # small wobble within the tolerance is ok; a gain is reported as such
        rc, out, _ = compare(base, write(tmp, "wobble.json", profile([hbm(2950, 0.005)])), "--json",
                             "--allow-missing")
        v, _ = verdicts(out)
        check(rc == 0 and v["hbm/copy:gbps"] == "ok", f"wobble {rc} {v}")
        rc, out, _ = compare(base, write(tmp, "gain.json", profile([hbm(3500, 0.005)])), "--json",
                             "--metric", "hbm/*")
        v, _ = verdicts(out)
        check(rc == 0 and v == {"hbm/copy:gbps": "improved"}, f"gain / --metric {rc} {v}")
        # 3. missing metric: the host-link probe was skipped this time
        missing = write(tmp, "missing.json", profile([hbm(3000, 0.005), record("host_link", "h2d", 0, 0, 0, "skipped")]))
        rc, out, err = compare(base, missing, "--json")
        v, _ = verdicts(out)
        check(rc == 4 and v["host_link/h2d:gbps"] == "missing" and v["link/h2d:bandwidth_GBps"] == "missing",
              f"missing: {rc} {v}")
        rc, out, _ = compare(base, missing, "--json", "--allow-missing")
        check(rc == 0, "--allow-missing")
        # new metrics are listed, not failed
        rc, out, _ = compare(missing, base, "--json")
        v, _ = verdicts(out)
        check(rc == 0 and v["host_link/h2d:gbps"] == "new", f"new: {rc} {v}")
        # 4. hardware mismatch: another GPU, or another driver
        for gpu, driver in (("H200", "12.8"), ("H100 80GB HBM3", "13.0")):
            other = write(tmp, "other.json", profile([hbm(3000, 0.005), record("host_link", "h2d", 50, 0.02, 1e-4)],
                                                     gpu=gpu, driver=driver,
                                                     links=[{"name": "h2d", "bandwidth_GBps": 50}]))
            rc, out, err = compare(base, other, "--json")
            v, doc = verdicts(out)
            check(rc == 4 and set(v.values()) == {"not_compared"} and doc["hardware_match"] is False
                  and "hardware differs" in err, f"hardware {gpu}/{driver}: {rc} {v} {err!r}")
            rc, out, _ = compare(base, other, "--json", "--allow-hardware-change")
            v, _ = verdicts(out)
            check(rc == 0 and v["hbm/copy:gbps"] == "ok", f"--allow-hardware-change {rc} {v}")
        # 5. Google Benchmark JSON: aggregates, bytes_per_second
        def gb(bps, rt):
            return {"context": {"num_cpus": 2}, "benchmarks": [
                {"name": "BM_copy/1M_median", "run_name": "BM_copy/1M", "run_type": "aggregate",
                 "aggregate_name": "median", "real_time": rt, "time_unit": "us", "bytes_per_second": bps},
                {"name": "BM_copy/1M_stddev", "run_name": "BM_copy/1M", "run_type": "aggregate",
                 "aggregate_name": "stddev", "real_time": rt * 0.01, "time_unit": "us"},
                {"name": "BM_lat", "run_name": "BM_lat", "run_type": "iteration", "real_time": 100,
                 "time_unit": "ns"},
                {"name": "BM_lat", "run_name": "BM_lat", "run_type": "iteration", "real_time": 102,
                 "time_unit": "ns"}]}
        gb_b = write(tmp, "gb_b.json", gb(1e9, 1000))
        gb_c = write(tmp, "gb_c.json", gb(0.7e9, 1400))
        rc, out, _ = compare(gb_b, gb_c, "--json")
        v, _ = verdicts(out)
        check(rc == 4 and v == {"BM_copy/1M:bytes_per_second": "regression", "BM_lat:real_time_s": "ok"},
              f"gbench: {rc} {v}")
        # 6. bad input: one line, exit 1
        bad = write(tmp, "bad.json", {"schema": "kvwall.profile/1", "results": [{"probe": "x"}]})
        cases = [([base], "BASELINE and CURRENT"), ([base, "/nonexistent.json"], "cannot open"),
                 ([base, bad], "results[0]"), ([base, gb_b], "cannot compare"),
                 ([base, drop, "--tolerance", "five"], "--tolerance"),
                 ([base, drop, "--tolerance", "-5%"], "--tolerance"),
                 ([base, drop, "--metric", "nothing*"], "no metric")]
        for args, needle in cases:
            out_path = os.path.join(tmp, "gate-out.json")
            rc, out, err = compare(*args, "--output", out_path)
            check(rc == 1 and needle in err and err.count("\n") == 1 and out == ""
                  and not os.path.exists(out_path), f"bad {args}: {rc} {err!r}")
        # baseline save: keeps a measured profile, refuses examples and junk
        bdir = os.path.join(tmp, "baseline")
        p = subprocess.run([KVWALL, "baseline", "save", bdir, "--from", base], capture_output=True, text=True)
        check(p.returncode == 0 and json.load(open(os.path.join(bdir, "baseline.json"))) == json.load(open(base)),
              f"baseline save: {p.stderr}")
        example = write(tmp, "example.json", dict(profile([hbm(1, 0.1)]), example=True))
        for args, needle in ((["--from", example], "example"), (["--from", bad], "results[0]"), ([], "--from")):
            p = subprocess.run([KVWALL, "baseline", "save", os.path.join(tmp, "b2"), *args],
                               capture_output=True, text=True)
            check(p.returncode == 1 and needle in p.stderr and not os.path.exists(os.path.join(tmp, "b2")),
                  f"baseline save {args}: {p.returncode} {p.stderr!r}")
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
