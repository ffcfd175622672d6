#!/usr/bin/env python3
"""GPU probe targets as ratios against references measured in the same run
on the same card (a benchmark, not a test).  For a GPU node: one call.

  python3 tests/perf/gpu_targets.py [--kvwall build/kvwall] [--quick] [--model M]
                                    [--reps N] [--profile FILE] [--save] [--json FILE]

Runs `kvwall probe hbm host_link prefill decode` (twice without --quick, for
the run-to-run spread), then measures the references with PyTorch on the
same GPU, each repeated (--reps, at least 5: median and spread):

  HBM copy kernel / cudaMemcpy D2D (both from the probe, same size)   >= 1.00
  host link H2D pinned / tensor.copy_ from pinned memory               >= 0.98
  layer GEMMs / bare cuBLAS (torch.matmul; fp8: torch._scaled_mm with
    fast accumulation) on the probe's own layer shapes                 >= 0.95
  attention (causal, GQA, >= 8k tokens) / PyTorch SDPA pinned to the
    flash backend (the backend that ran is printed)                    >= 0.90
  decode step bound / time at batch <= 64 (the HBM bound from the hbm
    probe's read figure of the same run; where it misses, the fixed time
    per layer says where the rest goes)                                >= 0.80
  run 1 vs run 2, every record (without --quick)                       within 2%

Each ratio comes with its spread (the two medians' relative spreads
combined).  The targets are ratios, so they hold on whatever card runs
it (H100, H200, GH200, B200...): the card is printed, never assumed.
--save writes results/reference/<card>.json: run 1's profile plus card,
driver, CUDA version, date, command and the ratios.  Without a GPU (or
without PyTorch for the references) it says so and exits 0.
"""
import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CATALOG = os.path.join(ROOT, "model", "catalog", "models")
# model_type values whose FFN is two plain matrices, not SiLU-gated
# (model/readers/config.c, plain_ffn_types)
PLAIN_FFN = {"opt", "gpt2", "gpt_neox", "gptj", "bloom", "falcon", "phi"}
PROBES = ["hbm", "host_link", "prefill", "decode"]


# ---- shape tables (CPU side, unit-tested against config.json) --------------

def load_config(model):
    with open(os.path.join(CATALOG, model + ".json")) as f:
        return json.load(f)


def arch(cfg):
    """the fields the layer shapes need, read as model/readers/config.c reads them"""
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    experts = cfg.get("num_local_experts") or cfg.get("n_routed_experts") or cfg.get("num_experts") or 0
    inter = cfg.get("intermediate_size") or cfg.get("ffn_dim")
    return {
        "hidden": h, "heads": heads, "kv_heads": cfg.get("num_key_value_heads") or heads,
        "head_dim": cfg.get("head_dim") or h // heads,
        "mla": "kv_lora_rank" in cfg and cfg.get("kv_lora_rank") is not None,
        "gated": cfg.get("model_type") not in PLAIN_FFN,
        "experts": experts, "top_k": cfg.get("num_experts_per_tok") or 0,
        "shared": cfg.get("n_shared_experts") or 0,
        "width": (cfg.get("moe_intermediate_size") or inter) if experts else inter,
        "layers": cfg["num_hidden_layers"],
    }


def layer_shapes(cfg):
    """The prefill probe's four GEMMs of one layer (bench/probes/probe_prefill.c,
    layer_shapes): [(name, N, K, tokens per token)], or None for MLA.
    QKV [h -> (H + 2 Hkv) d], O [H d -> h], gate+up [h -> 2 I] (plain FFN:
    I), down [I -> h]; MoE: one expert's width I on T x (top-k + shared)
    tokens (the routed FLOPs without the grouping)."""
    a = arch(cfg)
    if a["mla"]:
        return None
    qd, kvd, h, w = a["heads"] * a["head_dim"], a["kv_heads"] * a["head_dim"], a["hidden"], a["width"]
    ffn_tokens = (a["top_k"] + a["shared"]) if a["experts"] else 1
    return [("qkv", qd + 2 * kvd, h, 1), ("o", h, qd, 1),
            ("up", (2 if a["gated"] else 1) * w, h, ffn_tokens), ("down", h, w, ffn_tokens)]


def layer_params(shapes):
    """weights a token multiplies per layer (MoE: the active experts)"""
    return sum(n * k * tok for _, n, k, tok in shapes)


# ---- statistics ----------------------------------------------------------------

def median_spread(samples):
    """median and relative spread (stddev / median) of >= 2 samples"""
    m = statistics.median(samples)
    sd = statistics.stdev(samples) if len(samples) > 1 else 0.0
    return m, (sd / m if m else 0.0)


def ratio(value, value_spread, ref, ref_spread):
    return value / ref, math.hypot(value_spread, ref_spread)


def record_spread(r):
    t = r.get("time_s") or {}
    return (t.get("stddev") or 0.0) / t["median"] if t.get("median") else 0.0


# ---- the probe ---------------------------------------------------------------------

def probe(kvwall, out, quick, model):
    cmd = [kvwall, "probe", *PROBES, "--model", model, "--out", out] + (["--quick"] if quick else [])
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    path = os.path.join(out, "profile.json")
    if not os.path.exists(path):
        sys.exit(f"gpu_targets: kvwall probe wrote no profile (exit {p.returncode}): {p.stderr[-400:]}")
    with open(path) as f:
        return json.load(f), " ".join(cmd), p.returncode


def ok(profile, name):
    return [r for r in profile.get("results", []) if r["probe"] == name and r["status"] == "ok"]


def hbm_rows(p):
    rows = {r["variant"]: r for r in ok(p, "hbm")}
    out = []
    for v, r in rows.items():
        ref = rows.get("cudaMemcpy_d2d_" + v[5:]) if v.startswith("copy_") else None
        if ref:
            val, sp = ratio(r["gbps"], record_spread(r), ref["gbps"], record_spread(ref))
            out.append((f"HBM copy {v[5:]} / cudaMemcpy D2D", val, sp, 1.00, ""))
    return out


# ---- references through PyTorch ----------------------------------------------------

class Torch:
    def __init__(self, torch, reps):
        self.torch, self.reps = torch, reps

    def time(self, fn, inner=1):
        """median and relative spread of reps timings, each of inner calls
        between one pair of events, after a warm-up"""
        t = self.torch
        fn()
        t.cuda.synchronize()
        samples = []
        for _ in range(self.reps):
            a, b = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(inner):
                fn()
            b.record()
            b.synchronize()
            samples.append(a.elapsed_time(b) / 1e3 / inner)
        return median_spread(samples)


def host_link_rows(p, T):
    torch, out = T.torch, []
    for r in ok(p, "host_link"):
        v = r["variant"]
        if "_h2d_pinned_" not in v or "_kv_" in v or (r["bytes"] or 0) < (1 << 24):
            continue
        n = int(r["bytes"])
        src = torch.empty(n, dtype=torch.uint8, pin_memory=True)
        dst = torch.empty(n, dtype=torch.uint8, device="cuda")
        t, sp = T.time(lambda: dst.copy_(src, non_blocking=True), inner=5)
        val, s = ratio(n / r["time_s"]["median"], record_spread(r), n / t, sp)
        out.append((f"host link {v} / cudaMemcpyAsync", val, s, 0.98, ""))
    return out


def gemm_rows(p, T, model, min_tokens):
    torch, out = T.torch, []
    shapes = layer_shapes(load_config(model))
    sec = p.get("prefill_gemm") or {}
    recs = {r["variant"]: r for r in ok(p, "prefill")}
    for dtype, key in (("bf16", "gemm"), ("fp8", "gemm_fp8")):
        for pt in sec.get(key, []):
            tok = int(pt["tokens"])
            if tok < min_tokens or not shapes:
                continue
            rec = recs.get(f"gemm_{dtype}_{model}_layer_{tok}tok")
            ws = [torch.randn(n, k, device="cuda").to(torch.bfloat16) for _, n, k, _ in shapes]
            xs = [torch.randn(tok * t, k, device="cuda").to(torch.bfloat16) for _, _, k, t in shapes]
            if dtype == "fp8":
                if not hasattr(torch, "_scaled_mm"):
                    continue
                f8 = torch.float8_e4m3fn
                one = torch.ones((), device="cuda")
                ws = [w.to(f8) for w in ws]
                xs = [x.to(f8) for x in xs]
                def run():
                    for w, x in zip(ws, xs):
                        torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16,
                                         use_fast_accum=True)
            else:
                def run():
                    for w, x in zip(ws, xs):
                        torch.matmul(x, w.t())
            t, sp = T.time(run, inner=3)
            flops = sum(2.0 * tok * tt * n * k for _, n, k, tt in shapes)
            val, s = ratio(pt["tflops"], record_spread(rec) if rec else 0.0, flops / t / 1e12, sp)
            out.append((f"layer GEMMs {dtype} {model} {tok} tok / bare cuBLAS", val, s, 0.95, ""))
    return out


def sdpa_flash(torch):
    """SDPA pinned to the flash backend, and which backend ran"""
    F = torch.nn.functional
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return None, "torch without torch.nn.attention (SDPA backend cannot be pinned)"
    def call(q, k, v, backend):
        with sdpa_kernel([backend]):
            try:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            except TypeError:  # torch < 2.5: no enable_gqa
                g = q.shape[1] // k.shape[1]
                return F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1),
                                                      is_causal=True)
    return call, SDPBackend


def attention_rows(p, T, model):
    torch, out = T.torch, []
    sec = p.get("prefill") or {}
    if sec.get("model") != model or not sec.get("attention"):
        return out
    a = arch(load_config(model))
    call, backends = sdpa_flash(torch)
    if call is None:
        return [("attention / SDPA flash", float("nan"), 0.0, 0.90, backends)]
    recs = {r["variant"]: r for r in ok(p, "prefill")}
    for pt in sec["attention"]:
        tok = int(pt["tokens"])
        if tok < 8192:
            continue
        q = torch.randn(1, a["heads"], tok, a["head_dim"], device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, a["kv_heads"], tok, a["head_dim"], device="cuda", dtype=torch.bfloat16)
        v = torch.randn_like(k)
        ran = "flash"
        try:
            call(q, k, v, backends.FLASH_ATTENTION)
            fn = lambda: call(q, k, v, backends.FLASH_ATTENTION)  # noqa: E731
        except RuntimeError as e:  # flash refused this shape: say so, compare with cuDNN's instead
            ran = f"cudnn (flash refused: {str(e).splitlines()[0][:60]})"
            fn = lambda: call(q, k, v, backends.CUDNN_ATTENTION)  # noqa: E731
        t, sp = T.time(fn)
        flops = 2.0 * a["heads"] * 2 * a["head_dim"] * tok * (tok + 1) / 2
        backend = pt.get("backend", "own")
        rec = next((r for n, r in recs.items() if n.startswith("attention_causal_bf16_") and n.endswith(f"_{tok}tok")),
                   None)
        val, s = ratio(pt["tflops"], record_spread(rec) if rec else 0.0, flops / t / 1e12, sp)
        out.append((f"attention ({backend}) {model} {tok} tok / SDPA {ran.split()[0]}", val, s, 0.90, ran))
    return out


def decode_rows(p):
    out = []
    sec = p.get("decode") or {}
    for pt in sec.get("points", []):
        if pt["batch"] > 64:
            continue
        note = f"fixed {pt['fixed_s'] * 1e6:.1f} us/layer not explained by bytes ({sec.get('backend')})"
        out.append((f"decode b{pt['batch']} ctx {pt['ctx']}: HBM bound / layer time", pt["bound_s"] / pt["layer_s"],
                    pt.get("stddev_s", 0.0) / pt["layer_s"], 0.80, note))
    return out


def stability(p1, p2):
    a = {(r["probe"], r["variant"]): r for r in p1["results"] if r["status"] == "ok"}
    worst = 0.0
    for r in p2["results"]:
        k = (r["probe"], r["variant"])
        if r["status"] == "ok" and k in a:
            x, y = (a[k]["gbps"] or a[k]["tflops"]), (r["gbps"] or r["tflops"])
            if x and y:
                worst = max(worst, abs(x - y) / x)
    return worst


def card():
    q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                       capture_output=True, text=True).stdout.splitlines()
    return q[0].split(", ") if q else ["unknown", "unknown"]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="GPU probe targets as same-run ratios")
    ap.add_argument("--kvwall", default=os.path.join(ROOT, "build", "kvwall"))
    ap.add_argument("--quick", action="store_true", help="kvwall probe --quick, one probe run, fewer sizes")
    ap.add_argument("--model", default="llama-3-8b", help="layer shapes of this catalog model")
    ap.add_argument("--reps", type=int, default=None, help="timings per reference (>= 5; default 5, 10 without --quick)")
    ap.add_argument("--save", action="store_true", help="write results/reference/<card>.json")
    ap.add_argument("--json", help="write the ratios to this file")
    ap.add_argument("--profile", help="a profile.json of kvwall probe hbm host_link prefill decode measured "
                    "just before on this GPU, instead of probing again (one run: no run-to-run line)")
    a = ap.parse_args(argv)
    if a.reps is None:
        a.reps = 5 if a.quick else 10
    if a.reps < 5:
        ap.error("--reps must be at least 5")
    if not os.path.exists(os.path.join(CATALOG, a.model + ".json")):
        ap.error(f"--model: no {a.model}.json in {CATALOG}")
    return a


def main(argv=None):
    args = parse_args(argv)
    if not shutil.which("nvidia-smi") or subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode:
        print("gpu_targets: skipped: no GPU here")
        return 0
    name, driver = card()
    print(f"gpu_targets: card {name}, driver {driver}, model {args.model}, {args.reps} timings per reference")
    try:
        import torch
        T = Torch(torch, args.reps) if torch.cuda.is_available() else None
    except ImportError:
        T = None
    tmp = tempfile.mkdtemp()
    if args.profile:
        with open(args.profile) as f:
            p1, cmd, rc = json.load(f), f"(profile {args.profile})", 0
        cmd = p1.get("command", cmd)
    else:
        p1, cmd, rc = probe(args.kvwall, os.path.join(tmp, "run1"), args.quick, args.model)
    if rc not in (0,):
        print(f"gpu_targets: kvwall probe exited {rc}; ratios of what it recorded follow")
    rows = hbm_rows(p1) + decode_rows(p1)
    if T:
        rows += host_link_rows(p1, T) + gemm_rows(p1, T, args.model, 2048) + attention_rows(p1, T, args.model)
    else:
        print("gpu_targets: PyTorch with CUDA not available: host-link, GEMM and SDPA references skipped")
    print(f"{'ratio':<64} {'value':>7} {'spread':>7} {'target':>6}  met  note")
    for n, v, s, target, note in rows:
        met = "yes" if v >= target else "NO"
        print(f"{n:<64} {v:7.3f} {s:7.1%} {target:6.2f}  {met:<4} {note}")
    worst = None
    if not args.quick and not args.profile:
        p2, _, _ = probe(args.kvwall, os.path.join(tmp, "run2"), False, args.model)
        worst = stability(p1, p2)
        print(f"{'run 1 vs run 2, worst relative difference':<64} {worst:7.3%} {'':>7} {'2%':>6}  "
              f"{'yes' if worst <= 0.02 else 'NO'}")
    doc = {"card": name, "driver": driver, "model": args.model, "command": cmd, "quick": args.quick,
           "ratios": [{"name": n, "value": v, "spread": s, "target": t, "note": note} for n, v, s, t, note in rows],
           "run_to_run_worst": worst,
           "prefill_attention": p1.get("prefill_attention"),
           "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    if args.save:
        p1["provenance"] = {**doc, "cuda_runtime": ((p1.get("host") or {}).get("gpus") or [{}])[0].get("runtime")}
        path = os.path.join(ROOT, "results", "reference", name.replace(" ", "-") + ".json")
        with open(path, "w") as f:
            json.dump(p1, f, indent=2)
        print("saved", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
