#!/usr/bin/env python3
"""aiconfigurator_compare.py — benchmark, not a test: kvwall plan side by
side with NVIDIA's aiconfigurator (`pip install aiconfigurator`), the
planner people use today, on the cases both support (dense models on
H100/H200, fixed ISL/OSL).  For each case it runs

    aiconfigurator cli default --model-path M --system S --total-gpus N
        --isl I --osl O --ttft T --tpot P
    kvwall plan --config <same architecture> --hw <same GPU> --gpus N
        --synthetic 2000 --rate 10 --isl I --osl O --ttft-ms T --tpot-ms P

and prints both wall times and their ratio (kvwall's full search, with
queues and the KV transfer, against aiconfigurator's steady-state sweep),
the kind of deployment each picks (aggregated / disaggregated), the best
disaggregated P:D of each and its tokens/s/GPU.  Where they differ the
reasons are the transfer term (aiconfigurator has none), queueing (kvwall
replays Poisson arrivals, aiconfigurator assumes a steady batch), and the
operator database (aiconfigurator's measured TRT-LLM kernels and
all-reduces) against kvwall's profile or spec sheet.

It skips (exit 0, saying so) where aiconfigurator is not installed; it is
never a CI dependency.  usage: aiconfigurator_compare.py KVWALL [AICONFIGURATOR]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data", "plan")

CASES = [
    # (name, aiconfigurator model path, system, kvwall --config/--model, kvwall --hw, GPUs, ISL, OSL, TTFT ms, TPOT ms)
    ("Qwen3-32B bf16, 8 x H200, 4000/500, TTFT 300 ms, TPOT 10 ms", "Qwen/Qwen3-32B", "h200_sxm",
     ["--config", os.path.join(DATA, "qwen3-32b.json")], "h200", 8, 4000, 500, 300, 10),
    ("Llama-3.1-70B bf16, 16 x H100, 2000/200, TTFT 1000 ms, TPOT 40 ms", "meta-llama/Meta-Llama-3.1-70B", "h100_sxm",
     ["--model", "llama-3-70b"], "h100-sxm", 16, 2000, 200, 1000, 40),
]


def run_aic(aic, case):
    _, path, system, _, _, gpus, isl, osl, ttft, tpot = case
    t0 = time.monotonic()
    p = subprocess.run([aic, "cli", "default", "--model-path", path, "--system", system, "--total-gpus", str(gpus),
                        "--isl", str(isl), "--osl", str(osl), "--ttft", str(ttft), "--tpot", str(tpot), "--no-color"],
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    text = p.stdout + p.stderr
    m = re.search(r"Best Experiment Chosen: (\w+) at ([\d,.]+) tokens/s/gpu", text)
    out = {"wall": wall, "ok": p.returncode == 0 and m is not None, "kind": m.group(1) if m else None,
           "best_tok": float(m.group(2).replace(",", "")) if m else None, "disagg": None, "agg": None}
    for kind in ("agg", "disagg"):
        block = re.search(kind + r" Top Configurations:.*?\n(\+[-+]+\n\|.*?\n\+[-+]+\n)(\|.*?\n)", text, re.S)
        if not block:
            continue
        head = [h.strip() for h in block.group(1).split("\n")[1].strip("|").split("|")]
        row = [c.strip() for c in block.group(2).strip().strip("|").split("|")]
        out[kind] = dict(zip(head, row))
    return out


def run_kvwall(kvwall, case):
    _, _, _, model, hw, gpus, isl, osl, ttft, tpot = case
    args = [kvwall, "plan", *model, "--hw", hw, "--gpus", str(gpus), "--synthetic", "2000", "--rate", "10",
            "--isl", str(isl), "--osl", str(osl), "--ttft-ms", str(ttft), "--tpot-ms", str(tpot), "--json"]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        return {"wall": wall, "ok": False, "err": p.stderr.strip()}
    doc = json.loads(p.stdout)
    rows = [r for r in doc["configurations"] if r["goodput_per_gpu"] is not None]
    dis = [r for r in rows if r["kind"] == "disaggregated"]
    agg = [r for r in rows if r["kind"] == "aggregated"]
    best = lambda rs: max(rs, key=lambda r: r["goodput_per_gpu"]) if rs else None  # noqa: E731
    return {"wall": wall, "ok": True, "kind": doc["winner_kind"], "winner": doc["winner"],
            "disagg": best(dis), "agg": best(agg), "osl": osl}


def main():
    kvwall = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "kvwall")
    aic = sys.argv[2] if len(sys.argv) > 2 else shutil.which("aiconfigurator")
    if not aic:
        print("aiconfigurator_compare: skipped: aiconfigurator is not installed (pip install aiconfigurator)")
        return 0
    for case in CASES:
        a, k = run_aic(aic, case), run_kvwall(kvwall, case)
        print(f"== {case[0]}")
        if not a["ok"] or not k["ok"]:
            print(f"   aiconfigurator ok={a['ok']}  kvwall ok={k['ok']} {k.get('err', '')}")
            continue
        ad, kd = a["disagg"] or {}, k["disagg"] or {}
        kd_tok = kd.get("goodput_per_gpu", 0) * k["osl"]
        ka_tok = (k["agg"] or {}).get("goodput_per_gpu", 0) * k["osl"]
        print(f"   wall: kvwall {k['wall']:.1f} s, aiconfigurator {a['wall']:.1f} s, ratio {k['wall'] / a['wall']:.2f}")
        print(f"   winner: kvwall {k['kind']} ({k['winner']}); aiconfigurator {a['kind']} "
              f"({a['best_tok']:.1f} tokens/s/GPU)  {'same kind' if k['kind'][:3] == a['kind'][:3] else 'DIFFERENT kind'}")
        print(f"   best disaggregated: kvwall {kd.get('p_instances')}P(tp{kd.get('p_tp')}) + {kd.get('d_instances')}D"
              f"(tp{kd.get('d_tp')}) {kd_tok:.1f} tokens/s/GPU; aiconfigurator {ad.get('(p)workers')}P"
              f"({ad.get('(p)parallel')}) + {ad.get('(d)workers')}D({ad.get('(d)parallel')}) "
              f"{ad.get('tokens/s/gpu')} tokens/s/GPU")
        aa = a["agg"] or {}
        print(f"   best aggregated: kvwall {(k['agg'] or {}).get('config')} {ka_tok:.1f} tokens/s/GPU; "
              f"aiconfigurator {aa.get('parallel')} {aa.get('tokens/s/gpu')} tokens/s/GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
