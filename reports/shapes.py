"""What each file of a results directory must look like before the report
uses it, with the rules kvwall itself applies: numbers are JSON numbers
(never strings or booleans), rates and times are finite and positive,
records and links have the fields kvwall writes.  load() checks every
file here, so the sections can index without guarding, and a file of
another shape is one ReportError naming the file and the field.

Optional fields kvwall may leave out are filled with what it would have
written (a result's variant "", its verify counts 0), as kvwall's own
reader treats them.
"""
import math

from .common import ReportError


class Shape:
    """Checks on one file; errors read "PATH: where: problem"."""

    def __init__(self, path):
        self.path = path

    def fail(self, where, problem):
        raise ReportError(f"{self.path}: {where}: {problem}" if where else f"{self.path}: {problem}")

    @staticmethod
    def kind(v):
        return ("null" if v is None else "a boolean" if isinstance(v, bool) else "a string" if isinstance(v, str)
                else "a list" if isinstance(v, list) else "an object" if isinstance(v, dict) else "a number")

    def obj(self, v, where):
        if not isinstance(v, dict):
            self.fail(where, f"must be an object, not {self.kind(v)}")
        return v

    def lst(self, v, where):
        if not isinstance(v, list):
            self.fail(where, f"must be a list, not {self.kind(v)}")
        return v

    def string(self, o, key, where, optional=False):
        v = o.get(key)
        if v is None and optional:
            return None
        if not isinstance(v, str):
            self.fail(f"{where}.{key}" if where else key, f"must be a string, not {self.kind(v)}")
        return v

    def num(self, o, key, where, optional=False, positive=False, nonneg=False, integer=False):
        v = o.get(key)
        name = f"{where}.{key}" if where else key
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(name, f"must be a number, not {self.kind(v)}")
        if not math.isfinite(v):
            self.fail(name, "must be finite")
        if positive and not v > 0:
            self.fail(name, f"must be positive (got {v})")
        if nonneg and v < 0:
            self.fail(name, f"must not be negative (got {v})")
        if integer and v != int(v):
            self.fail(name, f"must be a whole number (got {v})")
        return v


def profile(doc, path):
    s = Shape(path)
    s.obj(doc, "")
    if doc.get("schema") != "kvwall.profile/1":
        s.fail("", "not a kvwall.profile/1 file")
    for i, r in enumerate(s.lst(doc.get("results", []), "results")):
        w = f"results[{i}]"
        s.obj(r, w)
        s.string(r, "probe", w)
        r["variant"] = s.string(r, "variant", w, optional=True) or ""
        if r.get("status") not in ("ok", "skipped", "failed"):
            s.fail(f"{w}.status", f"must be ok, skipped or failed (got {r.get('status')!r})")
        s.string(r, "reason", w, optional=True)
        if r["status"] != "ok" and not r.get("reason"):
            s.fail(w, f"is {r['status']} without a reason")
        r.setdefault("reason", None)
        for k in ("gbps", "tflops"):
            r[k] = s.num(r, k, w, optional=True, positive=True)
        s.num(r, "bytes", w, optional=True, nonneg=True)
        t = r.get("time_s")
        if t is not None:
            s.obj(t, f"{w}.time_s")
            for k in ("min", "median", "p90", "max", "stddev"):
                s.num(t, k, f"{w}.time_s", optional=True, nonneg=True)
        if r["status"] == "ok" and not (t or {}).get("median"):
            s.fail(w, "is ok without a positive time_s.median")
        r["time_s"] = t
        v = r.get("verify")
        v = {} if v is None else s.obj(v, f"{w}.verify")
        r["verify"] = {k: s.num(v, k, f"{w}.verify", optional=True, nonneg=True, integer=True) or 0
                       for k in ("checked", "wrong")}
    for i, l in enumerate(s.lst(doc.get("links", []), "links")):
        w = f"links[{i}]"
        s.obj(l, w)
        s.string(l, "name", w)
        s.string(l, "class", w, optional=True)
        s.num(l, "bandwidth_GBps", w, positive=True)
        s.num(l, "alpha_us", w, optional=True, nonneg=True)
        s.num(l, "fit_r2", w, optional=True)
        s.string(l, "spec", w, optional=True)
    hbm = doc.get("hbm")
    if hbm is not None:
        s.obj(hbm, "hbm")
        for k in hbm:
            if k.endswith("_GBps"):
                s.num(hbm, k, "hbm", optional=True, positive=True)
    for sec in ("prefill", "prefill_gemm"):
        pf = doc.get(sec)
        if pf is None:
            continue
        s.obj(pf, sec)
        s.string(pf, "model", sec, optional=True)
        for curve in ("gemm", "gemm_fp8", "attention"):
            for i, p in enumerate(s.lst(pf.get(curve, []), f"{sec}.{curve}")):
                s.obj(p, f"{sec}.{curve}[{i}]")
                s.num(p, "tokens", f"{sec}.{curve}[{i}]", positive=True)
                s.num(p, "tflops", f"{sec}.{curve}[{i}]", positive=True)
    host = doc.get("host")
    if host is not None:
        s.obj(host, "host")
        for k in ("hostname", "cpu"):
            s.string(host, k, "host", optional=True)
        for i, g in enumerate(s.lst(host.get("gpus", []), "host.gpus")):
            s.obj(g, f"host.gpus[{i}]")
    for k in ("tool",):
        if doc.get(k) is not None:
            s.obj(doc[k], k)
    for k in ("label", "command", "created_utc"):
        s.string(doc, k, "", optional=True)
    if "example" in doc and not isinstance(doc["example"], bool):
        s.fail("example", f"must be true or false, not {s.kind(doc['example'])}")
    return doc


def crossover(doc, path):
    s = Shape(path)
    s.obj(doc, "")
    if doc.get("schema") != "kvwall.crossover/1":
        s.fail("", "not a kvwall.crossover/1 document")
    for k in ("model", "link", "winner", "regime"):
        s.string(doc, k, "")
    for k in ("compute_source", "link_source", "transfer_mode"):
        s.string(doc, k, "", optional=True)
    s.num(doc, "ctx", "", positive=True, integer=True)
    s.num(doc, "recompute_s", "", positive=True)
    s.num(doc, "transfer_s", "", positive=True)
    s.num(doc, "crossover_tokens", "", optional=True, positive=True, integer=True)
    s.num(doc, "bandwidth_threshold_gbps", "", optional=True, positive=True)
    s.num(doc, "link_gbps", "", optional=True, positive=True)
    rows = s.lst(doc.get("rows"), "rows")
    if not rows:
        s.fail("rows", "must not be empty")
    for i, r in enumerate(rows):
        s.obj(r, f"rows[{i}]")
        s.num(r, "ctx", f"rows[{i}]", positive=True, integer=True)
        s.num(r, "recompute_s", f"rows[{i}]", positive=True)
        s.num(r, "transfer_s", f"rows[{i}]", positive=True)
    pl = doc.get("pipeline")
    if pl is not None:
        for i, e in enumerate(s.lst(pl, "pipeline")):
            s.obj(e, f"pipeline[{i}]")
            for k in ("compute_start_s", "compute_end_s", "send_start_s", "send_end_s"):
                s.num(e, k, f"pipeline[{i}]", nonneg=True)
    return doc


def hardware(doc, path):
    s = Shape(path)
    s.obj(doc, "")
    sheets = s.lst(doc.get("hardware", []), "hardware")
    for i, h in enumerate(sheets):
        w = f"hardware[{i}]"
        s.obj(h, w)
        s.string(h, "name", w)
        s.string(h, "class", w, optional=True)
        for k in ("bandwidth_GBps", "bf16_tflops"):
            s.num(h, k, w, optional=True, positive=True)
        for k in ("host_link", "peer_link"):
            s.string(h, k, w, optional=True)
    return sheets


def run(doc, path):
    s = Shape(path)
    s.obj(doc, "")
    for k in ("mode", "hw", "command", "started_utc", "version"):
        s.string(doc, k, "", optional=True)
    return doc


def sweep(rows, path):
    """kvwall sweep --csv rows: numbers as kvwall prints them."""
    s = Shape(path)
    need = ("ctx", "bandwidth_gbps", "recompute_s", "transfer_s")
    if rows and not set(need) <= set(rows[0]):
        s.fail("", "not a kvwall sweep CSV (needs ctx, bandwidth_gbps, recompute_s, transfer_s)")
    for i, r in enumerate(rows, start=2):
        for k in need:
            text = r.get(k)
            try:
                v = int(text) if k == "ctx" else float(text)
            except (TypeError, ValueError):
                s.fail(f"line {i}", f"{k} {text!r} is not a number")
            if not (math.isfinite(v) and v > 0):
                s.fail(f"line {i}", f"{k} {text!r} must be a positive number")
    return rows


def validation(doc, path):
    s = Shape(path)
    s.obj(doc, "")
    if doc.get("schema") != "kvwall.validation/1" or "analysis" not in doc:
        s.fail("", "not an analysed kvwall.validation/1 document (kvwall validate --out)")
    an = s.obj(doc["analysis"], "analysis")
    s.num(an, "tolerance", "analysis", nonneg=True)
    s.num(an, "gated_from_tokens", "analysis", nonneg=True)
    s.num(an, "pairs_with_crossover", "analysis", nonneg=True, integer=True)
    for i, p in enumerate(s.lst(an.get("pairs"), "analysis.pairs")):
        w = f"analysis.pairs[{i}]"
        s.obj(p, w)
        for k in ("model", "path", "profile_link"):
            s.string(p, k, w)
        s.string(p, "why", w, optional=True)
        if not isinstance(p.get("pass"), bool):
            s.fail(f"{w}.pass", "must be true or false")
        for k in ("crossover_error", "max_time_error"):
            s.num(p, k, w, optional=True)
        for side in ("measured", "predicted"):
            m = s.obj(p.get(side), f"{w}.{side}")
            s.string(m, "regime", f"{w}.{side}")
            for j, _ in enumerate(s.lst(m.get("crossovers"), f"{w}.{side}.crossovers")):
                s.num({"x": m["crossovers"][j]}, "x", f"{w}.{side}.crossovers[{j}]", positive=True)
        pts = s.lst(p.get("points"), f"{w}.points")
        for j, pt in enumerate(pts):
            s.obj(pt, f"{w}.points[{j}]")
            s.num(pt, "tokens", f"{w}.points[{j}]", positive=True)
            for k in ("recompute_predicted_s", "recompute_measured_s", "transfer_predicted_s",
                      "transfer_measured_s"):
                s.num(pt, k, f"{w}.points[{j}]", optional=True, positive=True)
        for j, sp in enumerate(s.lst(p.get("splits", []), f"{w}.splits")):
            s.obj(sp, f"{w}.splits[{j}]")
            s.num(sp, "error", f"{w}.splits[{j}]", optional=True)
        for k in ("recompute_fit", "transfer_fit"):
            f = p.get(k)
            if f is not None:
                s.obj(f, f"{w}.{k}")
                s.num(f, "overhead_s", f"{w}.{k}", optional=True)
                s.num(f, "scale", f"{w}.{k}", optional=True)
    if doc.get("profile") is not None:
        profile(doc["profile"], f"{path} (its profile)")
    return doc


def plan(doc, path):
    """kvwall plan --json: what the plan section reads"""
    s = Shape(path)
    s.obj(doc, "")
    if doc.get("schema") != "kvwall.plan/1":
        s.fail("", "not a kvwall.plan/1 document (kvwall plan --json)")
    for k in ("answer", "model", "gpu", "workload", "slo"):
        s.string(doc, k, "", optional=True)
    for i, c in enumerate(s.lst(doc.get("configurations"), "configurations")):
        w = f"configurations[{i}]"
        s.obj(c, w)
        s.string(c, "config", w)
        s.string(c, "kind", w)
        for k in ("goodput_per_gpu", "goodput_rps", "ttft_p90_s", "tpot_p90_s"):
            s.num(c, k, w, optional=True, nonneg=True)
    for i, c in enumerate(s.lst(doc.get("curves", []), "curves")):
        s.obj(c, f"curves[{i}]")
        s.string(c, "config", f"curves[{i}]")
        for j, p in enumerate(s.lst(c.get("points"), f"curves[{i}].points")):
            s.obj(p, f"curves[{i}].points[{j}]")
            s.num(p, "rate_rps", f"curves[{i}].points[{j}]", nonneg=True)
            s.num(p, "attainment", f"curves[{i}].points[{j}]", nonneg=True)
    sw = doc.get("link_sweep")
    if sw is not None:
        s.obj(sw, "link_sweep")
        s.string(sw, "config", "link_sweep")
        s.string(sw, "link_class", "link_sweep")
        s.num(sw, "link_gbps", "link_sweep", positive=True)
        s.num(sw, "min_gbps_keeping_goodput", "link_sweep", optional=True, positive=True)
        s.num(sw, "keep_fraction", "link_sweep", optional=True, positive=True)
        for i, p in enumerate(s.lst(sw.get("points"), "link_sweep.points")):
            s.obj(p, f"link_sweep.points[{i}]")
            s.num(p, "gbps", f"link_sweep.points[{i}]", positive=True)
            s.num(p, "goodput_rps", f"link_sweep.points[{i}]", optional=True, nonneg=True)
    for i, e in enumerate(s.lst(doc.get("engines", []), "engines")):
        s.obj(e, f"engines[{i}]")
        s.string(e, "engine", f"engines[{i}]")
    for i, p in enumerate(s.lst(doc.get("pareto", []), "pareto")):
        s.obj(p, f"pareto[{i}]")
        s.string(p, "config", f"pareto[{i}]")
    return doc


def cache(doc, path):
    """kvwall cache --json: what the prefix-cache section reads"""
    s = Shape(path)
    s.obj(doc, "")
    if doc.get("schema") != "kvwall.cache/1":
        s.fail("", "not a kvwall.cache/1 document (kvwall cache --json)")
    for i, r in enumerate(s.lst(doc.get("rows"), "rows")):
        w = f"rows[{i}]"
        s.obj(r, w)
        kind = s.string(r, "kind", w)
        s.string(r, "config", w)
        if kind == "curve":
            s.string(r, "policy", w)
            s.num(r, "capacity_bytes", w, nonneg=True)
            for k in ("token_hit", "ttft_p50_s", "ttft_p90_s"):
                s.num(r, k, w, optional=True, nonneg=True)
        elif kind == "config":
            s.num(r, "ttft_p90_s", w, optional=True, nonneg=True)
    for i, x in enumerate(s.lst(doc.get("decisions", []), "decisions")):
        s.obj(x, f"decisions[{i}]")
    for i, x in enumerate(s.lst(doc.get("size90", []), "size90")):
        s.obj(x, f"size90[{i}]")
        s.num(x, "size90_bytes", f"size90[{i}]", optional=True, nonneg=True)
    s.lst(doc.get("notes", []), "notes")
    return doc
