#!/usr/bin/env python3
"""The CPU side of tests/perf/gpu_targets.py: its arguments, its layer shape
tables against the catalog's config.json files (through kvwall's own
parameter count), and that it skips cleanly without a GPU.

usage: test_gpu_targets.py KVWALL
"""
import contextlib
import io
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import gpu_targets as gt  # noqa: E402
from checks import Checks  # noqa: E402

check = Checks("test_gpu_targets")
KVWALL = sys.argv[1]


def parses(argv):
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return gt.parse_args(argv)
    except SystemExit:
        return None


def test_args():
    a = parses([])
    check(a and a.reps == 10 and not a.quick and a.model == "llama-3-8b", f"defaults: {a}")
    a = parses(["--quick"])
    check(a and a.reps == 5 and a.quick, "--quick: 5 timings per reference")
    check(parses(["--reps", "3"]) is None, "--reps under 5 refused")
    check(parses(["--model", "no-such-model"]) is None, "unknown --model refused")


def test_shapes():
    cfg = gt.load_config("llama-3-8b")
    check(gt.layer_shapes(cfg) == [("qkv", 6144, 4096, 1), ("o", 4096, 4096, 1), ("up", 28672, 4096, 1),
                                   ("down", 4096, 14336, 1)], f"llama-3-8b: {gt.layer_shapes(cfg)}")
    mix = gt.layer_shapes(gt.load_config("mixtral-8x7b"))
    check(mix[2] == ("up", 2 * 14336, 4096, 2) and mix[3] == ("down", 4096, 14336, 2),
          f"mixtral: one expert's width on top-2 tokens: {mix}")
    opt = gt.layer_shapes(gt.load_config("opt-66b"))
    ffn = gt.load_config("opt-66b")["ffn_dim"]
    check(opt[2] == ("up", ffn, 9216, 1) and opt[3] == ("down", 9216, ffn, 1), f"opt-66b: plain FFN {opt}")
    check(gt.layer_shapes(gt.load_config("deepseek-v3")) is None, "MLA: no GEMM shapes (the probe skips it)")
    # every catalog model: the shapes' weights x layers = kvwall's active parameters
    out = subprocess.run([KVWALL, "models", "--json"], capture_output=True, text=True, check=True).stdout
    for m in json.loads(out)["models"]:
        shapes = gt.layer_shapes(gt.load_config(m["name"]))
        if shapes is None:
            continue
        per_token = gt.layer_params(shapes) * m["layers"]
        rel = abs(per_token - m["active_params_b"] * 1e9) / (m["active_params_b"] * 1e9)
        check(rel < 2e-3, f"{m['name']}: shapes give {per_token / 1e9:.4f} B active params, kvwall "
                          f"{m['active_params_b']:.4f} B")


def test_stats():
    m, s = gt.median_spread([1.0, 2.0, 3.0, 4.0, 5.0])
    check(m == 3.0 and abs(s - 1.5811 / 3) < 1e-3, f"median and spread: {m} {s}")
    v, sp = gt.ratio(2.0, 0.03, 1.0, 0.04)
    check(v == 2.0 and abs(sp - 0.05) < 1e-12, "ratio spreads combine in quadrature")


def test_no_gpu():
    if subprocess.run(["sh", "-c", "nvidia-smi -L"], capture_output=True).returncode == 0:
        print("test_gpu_targets: a GPU is here; the no-GPU path is not exercised")
        return
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = gt.main(["--quick", "--kvwall", KVWALL])
    check(rc == 0 and "skipped: no GPU here" in buf.getvalue(), f"no GPU: exit {rc}, {buf.getvalue()!r}")


test_args()
test_shapes()
test_stats()
test_no_gpu()
sys.exit(check.done())
