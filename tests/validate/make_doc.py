#!/usr/bin/env python3
"""A SYNTHETIC kvwall.validation/1 document for the tests of `kvwall validate
--from`: "measured" times computed here, independently of kvwall, from the
physics conventions of DESIGN.md (dense Llama layers, bf16 KV, causal
attention, element-wise kernels at a per-token rate, one message per layer) on a made-up profile, then multiplied by
chosen factors.  The numbers are not measurements; the document says so.

    python3 make_doc.py CATALOG_DIR OUT.json [--recompute-factor F] [--transfer-factor F]
"""
import argparse
import json
import math
import os

GEMM_TFLOPS = 600.0
ATTN_TFLOPS = 400.0
ELEMENTWISE_US = (0.08, 0.05)  # per token per layer at 128 and 131072 tokens (log-interpolated)
LINKS = {  # name: (alpha_us, GB/s)
    "pcie_h2d_pinned": (10.0, 50.0),
    "tcp_loopback_gpu_staged_4streams": (60.0, 3.0),
}
PATHS = {"pinned_h2d": "pcie_h2d_pinned", "tcp_gpu_staged": "tcp_loopback_gpu_staged_4streams"}
SLOWDOWN = {"compute_slowdown": 1.05, "copy_slowdown": 1.10}
TOKENS = [128 << i for i in range(11)]  # 128 .. 131072
MODELS = ["llama-2-7b", "llama-3-8b"]


def elementwise_rate(L):
    """token-layers per second, linear in log L between the two points"""
    lo, hi = 1e6 / ELEMENTWISE_US[0], 1e6 / ELEMENTWISE_US[1]
    L = min(max(L, 128), 131072)
    t = math.log(L / 128) / math.log(131072 / 128)
    return lo + t * (hi - lo)


class Dense:
    """A dense, SiLU-gated, full-attention decoder from its config.json."""

    def __init__(self, catalog, name):
        with open(os.path.join(catalog, "models", name + ".json")) as f:
            c = json.load(f)
        self.layers = c["num_hidden_layers"]
        h, H = c["hidden_size"], c["num_attention_heads"]
        kv = c.get("num_key_value_heads", H)
        d = c.get("head_dim") or h // H
        inter = c["intermediate_size"]
        self.heads, self.d = H, d
        attn = h * H * d + 2 * h * kv * d + H * d * h
        self.params = self.layers * (attn + 3 * h * inter)
        self.kv_per_token = self.layers * 2 * kv * d * 2

    def recompute(self, L):
        linear = 2 * self.params * L
        attn = self.layers * 2 * self.heads * (2 * self.d) * L * (L + 1) / 2
        return linear / (GEMM_TFLOPS * 1e12) + attn / (ATTN_TFLOPS * 1e12) + self.layers * L / elementwise_rate(L)

    def transfer(self, link, L):
        alpha_us, gbps = LINKS[link]
        return self.layers * alpha_us * 1e-6 + self.kv_per_token * L / (gbps * 1e9)

    def split(self, link, L, k):
        return max(self.recompute(k) * SLOWDOWN["compute_slowdown"],
                   self.transfer(link, L - k) * SLOWDOWN["copy_slowdown"])


def profile():
    return {
        "schema": "kvwall.profile/1",
        "tool": {"name": "kvwall", "version": "test"},
        "label": "SYNTHETIC profile for kvwall validate tests: made-up numbers",
        "example": True,
        "created_utc": "2026-11-25T00:00:00Z",
        "command": "tests/validate/make_doc.py",
        "host": {"hostname": "synthetic", "gpus": []},
        "results": [],
        "links": [{"name": n, "class": "test", "alpha_us": a, "bandwidth_GBps": b, "points": 8, "fit_r2": 0.999}
                  for n, (a, b) in LINKS.items()],
        "host_link": {"path": "pcie"},
        "interference": dict(SLOWDOWN),
    }


def document(catalog, recompute_factor=1.0, transfer_factor=1.0):
    models = []
    for name in MODELS:
        m = Dense(catalog, name)
        prefill = {"model": name, "dtype": "bf16", "overhead_us": 0,
                   "gemm": [{"tokens": 128, "tflops": GEMM_TFLOPS}, {"tokens": 131072, "tflops": GEMM_TFLOPS}],
                   "attention": [{"tokens": 128, "tflops": ATTN_TFLOPS}, {"tokens": 131072, "tflops": ATTN_TFLOPS}],
                   "elementwise": [{"tokens": 128, "us_per_token": ELEMENTWISE_US[0]},
                                   {"tokens": 131072, "us_per_token": ELEMENTWISE_US[1]}]}
        models.append({
            "model": name, "status": "ok", "layers": m.layers, "distinct_layers": m.layers, "prefill": prefill,
            "recompute": [{"tokens": L, "seconds": m.recompute(L) * recompute_factor} for L in TOKENS],
            "transfers": [{"path": p, "profile_link": link,
                           "points": [{"tokens": L, "seconds": m.transfer(link, L) * transfer_factor}
                                      for L in TOKENS]} for p, link in PATHS.items()],
            "splits": [{"path": p, "tokens": 8192, "prefix": 4096,
                        "seconds": m.split(link, 8192, 4096) * transfer_factor} for p, link in PATHS.items()],
        })
    models.append({"model": "deepseek-v3", "status": "skipped", "reason": "MLA layer not built (synthetic entry)"})
    return {"schema": "kvwall.validation/1", "tool": {"name": "kvwall", "version": "test"},
            "label": "SYNTHETIC: made up by tests/validate/make_doc.py, not measured", "synthetic": True,
            "created_utc": "2026-11-25T00:00:00Z", "command": "tests/validate/make_doc.py",
            "host": {"hostname": "synthetic"}, "profile": profile(), "models": models}


def root(f, lo, hi):
    """bisection of a sign change of f in [lo, hi]"""
    flo = f(lo) < 0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (f(mid) < 0) == flo:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("out")
    ap.add_argument("--recompute-factor", type=float, default=1.0)
    ap.add_argument("--transfer-factor", type=float, default=1.0)
    a = ap.parse_args()
    with open(a.out, "w") as f:
        json.dump(document(a.catalog, a.recompute_factor, a.transfer_factor), f, indent=1)


if __name__ == "__main__":
    main()
