#!/usr/bin/env python3
"""The decision report, made from fixture profiles and opened in a browser.

For each fixture (a CPU-only run measured on this project's CI machine
class, a GPU-shaped hand-written example, and an example with failures)
the test writes a results directory with the real kvwall binary
(fixture.py), runs `python3 -m reports DIR`, opens report.html in headless
Chromium, takes a screenshot, and checks:
- no console message; every probe listed, a failed probe shown as failed;
- the first screen (1280 x 900): the answer, one headline sentence per
  deployment, and the deployment table with every model, measured from the
  page's own layout (a copy of report.html with a script that writes the
  elements' boxes into the DOM);
- the verdict table: one row per (deployment, link), loopback left out;
- every figure (matplotlib, through $KVW_REPORT_LAYOUT, reports/layout.py):
  no text box intersects another, and every axis has a label, with its unit
  in parentheses unless its ticks are names.
A page with a console.error proves the console check can fail, and a
figure with two labels drawn on top of each other proves the overlap check
can.  Without Chromium it skips (exit 77).

usage: test_report.py KVWALL
"""
import html as html_lib
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

sys.path.insert(0, HERE)
from fixture import kv, make_results  # noqa: E402

check = Checks("test_report")




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


FIRST_SCREEN = (1280, 900)
LAYOUT_JS = """<script>
window.addEventListener('load', function () {
  function box(e) { var r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  var out = {headlines: [], deployment: null, rows: [], viewport: [innerWidth, innerHeight]};
  document.querySelectorAll('li.headline').forEach(function (e) { out.headlines.push(box(e)); });
  var dep = document.getElementById('deployment');
  if (dep) {
    out.deployment = box(dep);
    dep.querySelectorAll('tr').forEach(function (e) { out.rows.push([box(e), e.textContent]); });
  }
  document.body.setAttribute('data-layout', JSON.stringify(out));
});
</script>"""


def first_screen(html_path, tmp):
    """the boxes of the headlines and the deployment table in a 1280 x 900 window"""
    page = os.path.join(os.path.dirname(html_path), "first-screen.html")
    with open(html_path) as f:
        text = f.read()
    with open(page, "w") as f:
        f.write(text.replace("</body>", LAYOUT_JS + "</body>"))
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp}/chrome-first", f"--window-size={FIRST_SCREEN[0]},{FIRST_SCREEN[1]}"]
    dom = subprocess.run(base + ["--dump-dom", "file://" + page], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-layout="([^"]*)"', dom)
    return json.loads(html_lib.unescape(m.group(1))) if m else None


def intersect(a, b):
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5


def overlaps(fig):
    t = fig["texts"]
    return [(t[i]["text"], t[j]["text"]) for i in range(len(t)) for j in range(i + 1, len(t))
            if intersect(t[i]["box"], t[j]["box"])]


UNIT = re.compile(r"\(\S[^)]*\)")


def unlabelled(fig):
    bad = []
    for ax in fig["axes"]:
        for k in ("x", "y"):
            lab = ax[k + "label"]
            if not lab.strip() or (not ax[k + "_categorical"] and not UNIT.search(lab)):
                bad.append(f"{k}: {lab!r}")
    return bad


def check_figures(name, layout_file, want_at_least):
    figs = [json.loads(l) for l in open(layout_file)] if os.path.exists(layout_file) else []
    check(len(figs) >= want_at_least, f"{name}: {len(figs)} figures recorded, want >= {want_at_least}")
    for f in figs:
        o = overlaps(f)
        check(not o, f"{name}: {f['figure']}: labels overlap: {o[:3]}")
        u = unlabelled(f)
        check(not u, f"{name}: {f['figure']}: axis without a label and unit: {u}")
        check(f["size_in"][0] <= 10, f"{name}: {f['figure']} wider than the page ({f['size_in'][0]} in)")


FIXTURES = [  # (profile, links, the ones the verdicts keep, a failed probe)
    ("cpu-profile.json", ["ib-ndr", "eth-100", "roce-400", "tcp_loopback_4streams"], 3, None),
    ("example-profile.json", ["ib-ndr", "host_h2d_pinned"], 2, None),
    ("failed-profile.json", ["ib-ndr"], 1, "hbm"),
]
DEPLOYMENTS = [("llama-3-8b", "auto"), ("deepseek-v3", "auto"), ("llama-3-70b", 1)]


def test_fixture(name, links, kept, failed_probe):
    with tempfile.TemporaryDirectory() as tmp:
        d = make_results(KVWALL, tmp, os.path.join(DATA, name), links, DEPLOYMENTS)
        cache = name == FIXTURES[0][0]
        if cache:
            kv(KVWALL, "cache", "--model", "llama-3-8b", "--hw", "h100-sxm", "--dram", "256GB", "--ssd", "2TB",
               "--points", "3", "--max-requests", "2000", "--instances", "4", "--json", "--output",
               os.path.join(d, "cache.json"))
        layout = os.path.join(tmp, "layout.jsonl")
        p = subprocess.run([sys.executable, "-m", "reports", d], capture_output=True, text=True, cwd=ROOT,
                           env=dict(os.environ, KVW_REPORT_LAYOUT=layout))
        check(p.returncode == 0, f"{name}: reports exit {p.returncode}: {p.stderr}")
        check_figures(name, layout, 1 + 2 * len(DEPLOYMENTS) + 1)
        html = os.path.join(d, "report.html")
        check(os.path.exists(html), f"{name}: no report.html")
        for csv_name in ("verdict.csv", "probes.csv"):
            check(os.path.exists(os.path.join(d, csv_name)), f"{name}: no {csv_name}")
        dom, console, shot = browser("file://" + html, tmp)
        check(console == [], f"{name}: console messages {console}")
        check(os.path.exists(shot) and os.path.getsize(shot) > 20000, f"{name}: screenshot missing or empty")
        answer, table_at = dom.find('id="answer"'), dom.find("<table")
        check(0 <= answer < table_at and dom[table_at:table_at + 60].find('id="deployment-table"') >= 0,
              f"{name}: the answer and the deployment do not open the page")
        start = dom.find('<table id="verdict"')
        verdict = dom[start:dom.find("</table>", start)] if start >= 0 else ""
        check(verdict.count("<tr") - 1 == kept * len(DEPLOYMENTS), f"{name}: verdict rows {verdict.count('<tr') - 1}")
        check("tcp_loopback" not in verdict, f"{name}: loopback in the verdict")
        if "tcp_loopback_4streams" in links:
            dep = dom[dom.find('id="deployment"'):dom.find("</section>", dom.find('id="deployment"'))]
            check("left out of the verdicts: tcp_loopback_4streams (loopback, not a network path" in dep,
                  f"{name}: loopback not said to be left out")
        check(dom.count("data:image/png;base64,") >= 4, f"{name}: plots not embedded")
        check('id="toc"' in dom and all(f'href="#dep-{m}' in dom for m, _ in DEPLOYMENTS), f"{name}: no contents")
        fs = first_screen(html, tmp)
        check(fs is not None, f"{name}: first-screen layout not measured")
        if fs:
            screen = min(FIRST_SCREEN[1], fs["viewport"][1])  # what the window shows, without any browser bar
            h = fs["headlines"]
            check(len(h) == len(DEPLOYMENTS), f"{name}: {len(h)} headline sentences, want one per deployment")
            check(h and max(b[3] for b in h) <= screen, f"{name}: headlines run past the first screen {h}")
            rows = fs["rows"]
            check(fs["deployment"] and len(rows) == 1 + len(DEPLOYMENTS) and rows[-1][0][3] <= screen,
                  f"{name}: the deployment table is not all on the first screen")
            check(all(any(m in r[1] for r in rows) for m, _ in DEPLOYMENTS), f"{name}: a model missing from the deployment")
        check("DOES NOT FIT" in dom, f"{name}: llama-3-70b at TP 1 on 80 GB not flagged")
        prof = json.load(open(os.path.join(DATA, name)))
        for r in prof["results"]:
            check(r["probe"] in dom, f"{name}: probe {r['probe']} not listed")
        if failed_probe:
            rows = re.findall(r'<tr class="failed">(.*?)</tr>', dom)
            check(any(f"<td>{failed_probe}</td>" in r for r in rows), f"{name}: {failed_probe} not shown failed")
        if prof.get("example"):
            check("hand-written EXAMPLE" in dom, f"{name}: example profile not labelled")
        if cache:
            check("Prefix cache: tiers, hit rates, load or recompute" in dom and 'id="cache-configs"' in dom,
                  f"{name}: no prefix-cache section")
            check('alt="hit rate vs tier size"' in dom and 'alt="TTFT vs DRAM size"' in dom, f"{name}: cache plots")
            check(os.path.exists(os.path.join(d, "cache-curves.csv")), f"{name}: no cache-curves.csv")
        else:
            check("Prefix cache" not in dom, f"{name}: a cache section without cache.json")


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


def test_overlap_check_can_fail():
    """two labels drawn at the same place, and an axis without its unit, are caught"""
    sys.path.insert(0, ROOT)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from reports.layout import axes_labels, boxes
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2])
    ax.annotate("ib-ndr", (1.5, 1.5))
    ax.annotate("roce-400", (1.5, 1.5))
    ax.set_xlabel("context length")
    ax.set_ylabel("time (s)")
    fig_doc = {"texts": [{"kind": k, "text": t, "box": b} for k, t, b in boxes(fig)], "axes": axes_labels(fig)}
    check(("ib-ndr", "roce-400") in overlaps(fig_doc), "two labels on top of each other went unnoticed")
    check(unlabelled(fig_doc) == ["x: 'context length'"], f"an axis without a unit went unnoticed: {unlabelled(fig_doc)}")
    plt.close(fig)


def test_plan_section():
    """kvwall plan --json alone makes a report with its plan section: the
    winner in words, the four plan plots, the engines' settings, plan.csv"""
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "plan")
        os.makedirs(d)
        kv(KVWALL, "plan", "--model", "llama-3-8b", "--hw", "h100-sxm", "--synthetic", "400", "--rate", "4", "--gpus", "4",
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
    for name, links, kept, failed_probe in FIXTURES:
        test_fixture(name, links, kept, failed_probe)
    test_validation()
    test_overlap_check_can_fail()
    test_plan_section()
    test_console_check_can_fail()
    test_bad_input()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
