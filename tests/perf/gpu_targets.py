#!/usr/bin/env python3
"""GPU probe targets, printed as ratios against references measured in the
same run (a benchmark, not a test).  For the device machine: one call.

  python3 tests/perf/gpu_targets.py [--kvwall build/kvwall] [--quick] [--save]

Runs `kvwall probe hbm host_link prefill` twice, then measures the
references with PyTorch on the same GPU (cudaMemcpyAsync through
tensor.copy_ from pinned memory, bare cuBLAS GEMMs through torch.matmul on
the same layer shapes, scaled_dot_product_attention), and prints:

  HBM copy / cudaMemcpy D2D (same size)          target >= 1.00
  HBM read GB/s (H100)                            target >= 3050
  host link / plain cudaMemcpyAsync (same size)   target >= 0.98
  layer GEMMs / bare cuBLAS GEMMs (same shapes)   target >= 0.95
  attention / PyTorch SDPA (causal, >= 8k tokens) target >= 0.90
  run 1 vs run 2, every record                    within 2%

--save writes results/reference/<card>.json: run 1's profile plus card,
driver, CUDA version, date and command.  Without a GPU or PyTorch it says
so and exits 0.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def probe(kvwall, out, quick):
    cmd = [kvwall, "probe", "hbm", "host_link", "prefill", "--out", out] + (["--quick"] if quick else [])
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "profile.json")) as f:
        return json.load(f), " ".join(cmd)


def ok(profile, probe_name):
    return [r for r in profile["results"] if r["probe"] == probe_name and r["status"] == "ok"]


def torch_timer(torch):
    def timed(fn, reps=20):
        fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b) / 1e3)
        times.sort()
        return times[len(times) // 2]
    return timed


def hbm_ratios(p):
    rows = {r["variant"]: r for r in ok(p, "hbm")}
    out = []
    for v, r in rows.items():
        if v.startswith("copy_"):
            ref = rows.get("cudaMemcpy_d2d_" + v[5:])
            if ref:
                out.append((f"HBM copy {v[5:]} / cudaMemcpy D2D", r["gbps"] / ref["gbps"], 1.00))
        if v.startswith("read_"):
            out.append((f"HBM read {v[5:]} GB/s (H100 target)", r["gbps"], 3050))
    return out


def host_link_ratios(p, torch, timed):
    out = []
    for r in ok(p, "host_link"):
        v = r["variant"]
        if "_h2d_pinned_" not in v or "_kv_" in v or r["bytes"] < (1 << 24):
            continue
        n = int(r["bytes"])
        src = torch.empty(n, dtype=torch.uint8, pin_memory=True)
        dst = torch.empty(n, dtype=torch.uint8, device="cuda")
        t = timed(lambda: dst.copy_(src, non_blocking=True))
        out.append((f"host link {v} / cudaMemcpyAsync", (n / r["time_s"]["median"]) / (n / t), 0.98))
    return out


def gemm_ratios(p, torch, timed):
    sec = p.get("prefill_gemm") or p.get("prefill") or {}
    model = sec.get("model")
    if not model:
        return []
    cfg = json.load(open(os.path.join(ROOT, "model", "catalog", "models", model + ".json")))
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kvh = cfg.get("num_key_value_heads", heads)
    d = cfg.get("head_dim") or h // heads
    inter = cfg.get("moe_intermediate_size") or cfg["intermediate_size"]
    shapes = [((heads + 2 * kvh) * d, h), (h, heads * d), (2 * inter, h), (h, inter)]
    out = []
    for pt in sec.get("gemm", []):
        t = int(pt["tokens"])
        if t < 2048:
            continue
        ws = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") for n, k in shapes]
        xs = [torch.randn(t, k, dtype=torch.bfloat16, device="cuda") for _, k in shapes]
        ref = sum(timed(lambda w=w, x=x: torch.matmul(x, w.t())) for w, x in zip(ws, xs))
        flops = sum(2.0 * t * n * k for n, k in shapes)
        out.append((f"layer GEMMs {model} {t} tok / bare cuBLAS", pt["tflops"] / (flops / ref / 1e12), 0.95))
    return out


def attention_ratios(p, torch, timed):
    sec = p.get("prefill") or {}
    model = sec.get("model")
    if not model or not sec.get("attention"):
        return []
    cfg = json.load(open(os.path.join(ROOT, "model", "catalog", "models", model + ".json")))
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kvh = cfg.get("num_key_value_heads", heads)
    d = cfg.get("head_dim") or h // heads
    F = torch.nn.functional
    out = []
    for pt in sec["attention"]:
        t = int(pt["tokens"])
        if t < 8192:
            continue
        q = torch.randn(1, heads, t, d, dtype=torch.bfloat16, device="cuda")
        k = torch.randn(1, kvh, t, d, dtype=torch.bfloat16, device="cuda").repeat_interleave(heads // kvh, dim=1)
        v = torch.randn(1, kvh, t, d, dtype=torch.bfloat16, device="cuda").repeat_interleave(heads // kvh, dim=1)
        ref = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), reps=5)
        flops = 2.0 * heads * 2 * d * t * (t + 1) / 2
        out.append((f"attention {model} {t} tok / PyTorch SDPA", pt["tflops"] / (flops / ref / 1e12), 0.90))
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvwall", default=os.path.join(ROOT, "build", "kvwall"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args()
    if not shutil.which("nvidia-smi") or subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode:
        print("gpu_targets: skipped: no GPU here")
        return 0
    try:
        import torch
    except ImportError:
        torch = None
    tmp = tempfile.mkdtemp()
    p1, cmd = probe(args.kvwall, os.path.join(tmp, "run1"), args.quick)
    p2, _ = probe(args.kvwall, os.path.join(tmp, "run2"), args.quick)
    rows = hbm_ratios(p1)
    if torch is not None and torch.cuda.is_available():
        timed = torch_timer(torch)
        rows += host_link_ratios(p1, torch, timed) + gemm_ratios(p1, torch, timed) + attention_ratios(p1, torch, timed)
    else:
        print("gpu_targets: PyTorch not available: host-link and GEMM references skipped")
    print(f"{'ratio':<60} {'value':>8} {'target':>7}  met")
    for name, value, target in rows:
        print(f"{name:<60} {value:8.3f} {target:7.2f}  {'yes' if value >= target else 'NO'}")
    worst = stability(p1, p2)
    print(f"{'run 1 vs run 2, worst relative difference':<60} {worst:8.3%} {'2%':>7}  {'yes' if worst <= 0.02 else 'NO'}")
    if args.save:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.splitlines()[0].split(", ")
        card = gpu[0].replace(" ", "-")
        p1["provenance"] = {"card": gpu[0], "driver": gpu[1], "cuda_runtime": (p1["host"]["gpus"] or [{}])[0].get("runtime"),
                            "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "command": cmd,
                            "ratios": [{"name": n, "value": v, "target": t} for n, v, t in rows],
                            "run_to_run_worst": worst}
        path = os.path.join(ROOT, "results", "reference", card + ".json")
        with open(path, "w") as f:
            json.dump(p1, f, indent=2)
        print("saved", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
