#!/usr/bin/env python3
"""The decision report, made from fixture profiles and opened in a browser.

For each fixture (a CPU-only run measured on this project's CI machine
class, a GPU-shaped hand-written example, and an example with failures)
the test writes a results directory with the real kvwall binary, runs
`python3 -m reports DIR`, opens report.html in headless Chromium, takes a
screenshot, and checks: no console message, the verdict table first with
one row per (model, link), every probe listed, a failed probe shown as
failed.  A page with a console.error proves the console check can fail.
Without Chromium it skips (exit 77).

usage: test_report.py KVWALL
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")
KVWALL = os.path.abspath(sys.argv[1])
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from checks import Checks  # noqa: E402

check = Checks("test_report")




def kv(*args):
    p = subprocess.run([KVWALL, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"kvwall {' '.join(args)}: {p.stderr}")


def browser(url, tmp):
    """(dom, console lines, screenshot path) of a page in headless Chromium."""
    shot = os.path.join(tmp, "shot.png")
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp}/chrome", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    shotp = subprocess.run(base + ["--window-size=1200,2400", f"--screenshot={shot}", url],
                           capture_output=True, text=True, timeout=120)
    console = [l for l in (dom.stderr + shotp.stderr).splitlines() if ":CONSOLE" in l]
    return dom.stdout, console, shot


def make_results(tmp, profile, links, models):
    d = os.path.join(tmp, "results")
    os.makedirs(d)
    shutil.copy(profile, os.path.join(d, "profile.json"))
    kv("hw", "--json", "--output", os.path.join(d, "hw.json"))
    for m in models:
        for l in links:
            for lw in ([], ["--layerwise"]):
                suffix = "-layerwise" if lw else ""
                kv("crossover", "--model", m, "--hw", "h100-sxm", "--link", l, "--profile",
                   os.path.join(d, "profile.json"), *lw, "--json", "--output",
                   os.path.join(d, f"crossover-{m}-{l}{suffix}.json"))
        kv("sweep", "--model", m, "--hw", "h100-sxm", "--ctx-steps", "6", "--bw-steps", "6", "--csv",
           "--output", os.path.join(d, f"sweep-{m}.csv"))
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump({"hw": "h100-sxm", "mode": "test fixture", "command": "test_report.py"}, f)
    return d


FIXTURES = [
    ("cpu-profile.json", ["ib-ndr", "tcp_loopback_4streams"], None),
    ("example-profile.json", ["ib-ndr", "host_h2d_pinned"], None),
    ("failed-profile.json", ["ib-ndr"], "hbm"),
]


def test_fixture(name, links, failed_probe):
    models = ["llama-3-8b", "deepseek-v3"]
    with tempfile.TemporaryDirectory() as tmp:
        d = make_results(tmp, os.path.join(DATA, name), links, models)
        p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT)
        check(p.returncode == 0, f"{name}: reports exit {p.returncode}: {p.stderr}")
        html = os.path.join(d, "report.html")
        check(os.path.exists(html), f"{name}: no report.html")
        for csv_name in ("verdict.csv", "probes.csv"):
            check(os.path.exists(os.path.join(d, csv_name)), f"{name}: no {csv_name}")
        dom, console, shot = browser("file://" + html, tmp)
        check(console == [], f"{name}: console messages {console}")
        check(os.path.exists(shot) and os.path.getsize(shot) > 20000, f"{name}: screenshot missing or empty")
        first = dom.find("<table")
        check(first >= 0 and dom[first:first + 40].find('id="verdict"') >= 0, f"{name}: verdict is not the first table")
        verdict = dom[first:dom.find("</table>", first)]
        check(verdict.count("<tr") - 1 == len(links) * len(models), f"{name}: verdict rows")
        check(dom.count("data:image/png;base64,") >= 4, f"{name}: plots not embedded")
        prof = json.load(open(os.path.join(DATA, name)))
        for r in prof["results"]:
            check(r["probe"] in dom, f"{name}: probe {r['probe']} not listed")
        if failed_probe:
            rows = re.findall(r'<tr class="failed">(.*?)</tr>', dom)
            check(any(f"<td>{failed_probe}</td>" in r for r in rows), f"{name}: {failed_probe} not shown failed")
        if prof.get("example"):
            check("hand-written EXAMPLE" in dom, f"{name}: example profile not labelled")


def test_validation():
    """kvwall validate --out DIR alone makes a report: the model-check table
    (one row per model x path, a miss shown failed), the synthetic label and
    one measured-vs-predicted plot per model"""
    sys.path.insert(0, os.path.join(ROOT, "tests", "validate"))
    import make_doc
    with tempfile.TemporaryDirectory() as tmp:
        doc = make_doc.document(os.path.join(ROOT, "model", "catalog"))
        doc["models"][0]["transfers"][1]["points"][6]["seconds"] *= 1.5  # one miss: llama-2-7b tcp
        src = os.path.join(tmp, "doc.json")
        with open(src, "w") as f:
            json.dump(doc, f)
        d = os.path.join(tmp, "v")
        p = subprocess.run([KVWALL, "validate", "--from", src, "--out", d], capture_output=True, text=True)
        check(p.returncode == 4, f"validate with one miss: exit 4 ({p.returncode}: {p.stderr})")
        p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT)
        check(p.returncode == 0, f"validation report: exit {p.returncode}: {p.stderr}")
        dom, console, shot = browser("file://" + os.path.join(d, "report.html"), tmp)
        check(console == [], f"validation report: console messages {console}")
        start = dom.find('id="validation"')
        table = dom[start:dom.find("</table>", start)] if start >= 0 else ""
        check(table.count("<tr") - 1 == 4, f"validation table: 4 rows ({table.count('<tr') - 1})")
        failed = re.findall(r'<tr class="failed">(.*?)</tr>', table)
        check(len(failed) == 1 and "llama-2-7b" in failed[0] and "tcp_gpu_staged" in failed[0],
              f"the one miss shown failed: {failed}")
        check("SYNTHETIC" in dom, "synthetic validation labelled")
        check(os.path.exists(os.path.join(d, "validation-llama-3-8b.png")), "validation plot written")
        check(dom.count('alt="validation for') == 2, "one validation plot per model")
        with open(os.path.join(d, "validation.json")) as f:
            v = json.load(f)
        del v["analysis"]
        with open(os.path.join(d, "validation.json"), "w") as f:
            json.dump(v, f)
        os.remove(os.path.join(d, "report.html"))
        p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT)
        check(p.returncode == 1 and "validation.json" in p.stderr and p.stderr.count("\n") == 1,
              f"unanalysed validation.json refused: {p.stderr!r}")
        check(not os.path.exists(os.path.join(d, "report.html")), "no report from a bad validation.json")


def test_plan_section():
    """kvwall plan --json alone makes a report with its plan section: the
    winner in words, the four plan plots, the engines' settings, plan.csv"""
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "plan")
        os.makedirs(d)
        kv("plan", "--model", "llama-3-8b", "--hw", "h100-sxm", "--synthetic", "400", "--rate", "4", "--gpus", "4",
           "--tps", "1,2", "--json", "--output", os.path.join(d, "plan.json"))
        p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT)
        check(p.returncode == 0, f"plan report: exit {p.returncode}: {p.stderr}")
        dom, console, _ = browser("file://" + os.path.join(d, "report.html"), tmp)
        check(console == [], f"plan report: console messages {console}")
        check("Deployment plan" in dom and " wins with " in dom, "plan section with the winner in words")
        for alt in ("goodput per GPU by deployment", "attainment vs rate", "Pareto front", "goodput vs link bandwidth"):
            check(f'alt="{alt}" src="data:image/png;base64,' in dom, f"plan plot embedded: {alt}")
        check('id="plan-engines"' in dom and "vllm" in dom, "engine settings table")
        check(os.path.exists(os.path.join(d, "plan.csv")), "plan.csv written")


def test_console_check_can_fail():
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "bad.html")
        with open(page, "w") as f:
            f.write("<html><body><script>console.error('kvwall-test')</script></body></html>")
        _, console, _ = browser("file://" + page, tmp)
        check(any("kvwall-test" in l for l in console), "a console.error went unnoticed")


def test_bad_input():
    with tempfile.TemporaryDirectory() as tmp:
        for setup, needle in ((None, "not a directory"), ("{bad json", "profile.json"), ("{}", "not a kvwall.profile/1")):
            d = os.path.join(tmp, "missing") if setup is None else tempfile.mkdtemp(dir=tmp)
            if setup is not None:
                with open(os.path.join(d, "profile.json"), "w") as f:
                    f.write(setup)
            p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT)
            check(p.returncode == 1 and needle in p.stderr and p.stderr.count("\n") == 1,
                  f"bad input {setup!r}: {p.returncode} {p.stderr!r}")
            check(not os.path.exists(os.path.join(d, "report.html")), f"bad input {setup!r}: report written")


def main():
    if not CHROMIUM:
        print("SKIPPED: chromium not installed (apt-get install chromium)")
        return 77
    for name, links, failed_probe in FIXTURES:
        test_fixture(name, links, failed_probe)
    test_validation()
    test_plan_section()
    test_console_check_can_fail()
    test_bad_input()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
