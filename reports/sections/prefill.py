"""Prefill efficiency: the measured GEMM (bf16, fp8) and attention curves
of the profile against the GPU's spec-sheet peak."""
import matplotlib.pyplot as plt

from ..common import img, png, spec_gpu
from ..style import WIDTH

POSITION = 70
TOC = [("sec-prefill", "Prefill efficiency")]  # its entries in the contents


def plot_prefill(res):
    prof = res["profile"] or {}
    sec = prof.get("prefill") or prof.get("prefill_gemm")
    if not sec or not sec.get("gemm"):
        return None
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 4.2))
    g = sec["gemm"]
    ax.plot([p["tokens"] for p in g], [p["tflops"] for p in g], "o-", label="GEMM (measured)")
    if sec.get("gemm_fp8"):
        g8 = sec["gemm_fp8"]
        ax.plot([p["tokens"] for p in g8], [p["tflops"] for p in g8], "^-", label="GEMM fp8 (measured)")
    if sec.get("attention"):
        a = sec["attention"]
        ax.plot([p["tokens"] for p in a], [p["tflops"] for p in a], "s-", label="attention (measured)")
    gpu = spec_gpu(res)
    if gpu and gpu.get("bf16_tflops"):
        ax.axhline(gpu["bf16_tflops"], color="gray", ls="--", label=f"{gpu['name']} bf16 dense peak (spec)")
    ax.set_xscale("log")
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("achieved rate (TFLOP/s)")
    ax.set_title(f"Prefill efficiency, {sec.get('model', '?')} layer shapes"
                 + (" (hand-written EXAMPLE)" if prof.get("example") else ""))
    ax.legend(fontsize=8)
    return png(fig, res["dir"], "prefill.png")


def html(res):
    prof = res["profile"] or {}
    parts = ["<h2 id=sec-prefill>Prefill efficiency</h2>", img(plot_prefill(res), "prefill curve")]
    sec = prof.get("prefill") or prof.get("prefill_gemm")
    if sec and not prof.get("prefill"):
        parts.append("<p class=note>Only the GEMM half of the prefill curve was measured; verdicts use the spec "
                     "sheet's compute rate.</p>")
    return parts
