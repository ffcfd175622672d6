#!/usr/bin/env python3
"""kvwall cache against an independent computation and against Mooncake's
published figures, and its refusals of bad input.

- reference: the token- and block-level prefix hit rate of an unbounded
  cache, computed here from the bundled trace file itself (gzip + json,
  nothing of kvwall's): a request's full 512-token blocks, in order, count
  as hits while their hash was seen in an earlier request (vLLM caches full
  blocks only); the same with the blocks re-chunked to 256 and 128 tokens
  (a sub-block j of trace block h is the pair (h, j); a partial last trace
  block of t tokens has t // b sub-blocks).  kvwall's replay must agree to
  1e-9.
- Mooncake (Qin et al., "Mooncake: Trading More Storage for Less
  Computation", FAST 2025, PDF in kvcache-ai/Mooncake FAST25-release/):
  Table 2 (section 5.2.1) gives per workload the average input and output
  lengths, the request count and the "cache ratio": conversation 12035 /
  343 tokens, 12031 requests, 40%; synthetic 15325 / 149, 3993, 66%.
  Figure 9 (section 5.3.1) replays the traces through one cache of growing
  capacity: at 3M tokens (1 TB of DRAM for LLaMA3-70B) the hit rate is 41%
  of the attainable one for conversation and 46% for synthetic, and 50M
  tokens "nearly reaches the theoretical maximum".  kvwall must land within
  5 points of the cache ratios and 10 points of the Figure 9 fractions
  (the paper's policy and the definition of its ratio are not stated:
  kvwall's token-weighted LRU hit rate is 37.3% on conversation and 65.0%
  on synthetic; the per-request mean of the hit fraction, computed here too,
  is 40.9% and 43.2%: the paper's 40% matches the first reading on
  conversation, its 66% the token-weighted one on synthetic).
- bad input: one line on stderr naming the problem, the documented exit
  code, nothing on stdout, no --output file.

usage: test_cache.py KVWALL
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from checks import Checks  # noqa: E402

KVWALL = sys.argv[1]
TRACES = os.path.join(ROOT, "model", "catalog", "traces")
check = Checks("test_cache")
BASE = ["--model", "llama-3-8b", "--tflops", "400", "--route", "single", "--points", "0", "--policy", "lru"]
BYTES_PER_TOKEN = 131072  # Llama-3-8B, bf16, TP 1: 32 layers x 2 x 8 heads x 128 x 2 B


def trace(name):
    with gzip.open(os.path.join(TRACES, name + ".jsonl.gz"), "rt") as f:
        return [json.loads(line) for line in f]


def reference(reqs, b=512):
    """prefix hits of an unbounded cache of b-token blocks (b divides 512)"""
    seen, hit_tok, tot_tok, hit_blk, tot_blk = set(), 0, 0, 0, 0
    for r in reqs:
        L, keys = r["input_length"], []
        for i, h in enumerate(r["hash_ids"]):
            t = min(512, L - 512 * i)
            if t <= 0:
                break
            keys += [(h, j) for j in range(t // b)]
            if t < 512:
                break
        k = 0
        while k < len(keys) and keys[k] in seen:
            k += 1
        hit_tok += k * b
        tot_tok += L
        hit_blk += k
        tot_blk += len(keys)
        seen.update(keys)
    return hit_tok / tot_tok, hit_blk / tot_blk


def run(*args):
    p = subprocess.run([KVWALL, "cache", *args], capture_output=True, text=True, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


REPLAYS = {}


def replay(trace_name, hbm="unbounded", extra=()):
    key = (trace_name, hbm, tuple(extra))
    if key in REPLAYS:
        return REPLAYS[key]
    rc, out, err = run("--trace", trace_name, *BASE, "--hbm", hbm, "--json", *extra)
    check(rc == 0, f"cache {trace_name} --hbm {hbm} {' '.join(extra)}: exit {rc}: {err.strip()}")
    if rc:
        return None
    doc = json.loads(out)
    REPLAYS[key] = [r for r in doc["rows"] if r["kind"] == "config" and r["config"] == "hbm"][0]
    return REPLAYS[key]


def test_reference():
    conv = trace("mooncake-conversation")
    for b in (512, 256):
        tok, blk = reference(conv, b)
        row = replay("mooncake-conversation", extra=("--block-tokens", str(b)) if b != 512 else ())
        if row:
            check(abs(row["token_hit"] - tok) < 1e-9, f"block {b}: token hit {row['token_hit']} != Python {tok}")
            check(abs(row["block_hit"] - blk) < 1e-9, f"block {b}: block hit {row['block_hit']} != Python {blk}")
    tok, _ = reference(trace("mooncake-synthetic"))
    row = replay("mooncake-synthetic")
    check(row is not None and abs(row["token_hit"] - tok) < 1e-9, f"synthetic: {row and row['token_hit']} vs {tok}")


# Mooncake FAST'25, Table 2 and Figure 9 (see the module docstring)
MOONCAKE = {
    "mooncake-conversation": {"input": 12035, "output": 343, "requests": 12031, "cache_ratio": 0.40, "at_3m": 0.41},
    "mooncake-synthetic": {"input": 15325, "output": 149, "requests": 3993, "cache_ratio": 0.66, "at_3m": 0.46},
}


def test_mooncake():
    for name, pub in MOONCAKE.items():
        reqs = trace(name)
        n = len(reqs)
        check(n == pub["requests"], f"{name}: {n} requests, the paper says {pub['requests']}")
        avg_in = sum(r["input_length"] for r in reqs) / n
        avg_out = sum(r["output_length"] for r in reqs) / n
        check(abs(avg_in - pub["input"]) < 1 and abs(avg_out - pub["output"]) < 1,
                 f"{name}: average lengths {avg_in:.0f}/{avg_out:.0f}, the paper {pub['input']}/{pub['output']}")
        full = replay(name)
        at3m = replay(name, hbm=f"{3e6 * BYTES_PER_TOKEN:.0f}B")
        at50m = replay(name, hbm=f"{50e6 * BYTES_PER_TOKEN:.0f}B")
        if not (full and at3m and at50m):
            continue
        top = full["token_hit"]
        seen, fr = set(), []
        for r in reqs:
            k = 0
            while k < len(r["hash_ids"]) and r["hash_ids"][k] in seen:
                k += 1
            fr.append(min(512 * k, r["input_length"]) / r["input_length"])
            seen.update(r["hash_ids"])
        print(f"{name}: per-request mean hit fraction {sum(fr) / n:.3f}")
        print(f"{name}: unbounded token hit {top:.3f} (paper's cache ratio {pub['cache_ratio']:.2f}); at 3M tokens "
              f"{at3m['token_hit'] / top:.2f} of it (paper {pub['at_3m']:.2f}); at 50M {at50m['token_hit'] / top:.3f}")
        check(abs(top - pub["cache_ratio"]) <= 0.05, f"{name}: hit {top:.3f} vs the paper's {pub['cache_ratio']}")
        check(abs(at3m["token_hit"] / top - pub["at_3m"]) <= 0.10, f"{name}: 3M-token fraction off the paper's")
        check(at50m["token_hit"] / top >= 0.95, f"{name}: 50M tokens should nearly reach the maximum")


def test_properties():
    """LRU never loses hits as HBM grows; capacity 0 of every lower tier is refused, an absent one gives none"""
    last = -1
    for cap in ("1GB", "10GB", "100GB", "1TB", "10TB"):
        row = replay("mooncake-conversation", hbm=cap, extra=("--max-requests", "3000"))
        if row:
            check(row["token_hit"] >= last, f"LRU hit fell at {cap}: {row['token_hit']} < {last}")
            last = row["token_hit"]


def bad(args, code, words):
    out = tempfile.mktemp(suffix=".json")
    rc, stdout, err = run(*args, "--output", out)
    lines = err.strip().splitlines()
    check(rc == code, f"{args}: exit {rc}, want {code}")
    check(len(lines) == 1 and all(w in err for w in words), f"{args}: stderr {err!r} should name {words}")
    check(stdout == "" and not os.path.exists(out), f"{args}: output written")


def test_bad_input():
    m = ["--model", "llama-3-8b", "--tflops", "400", "--points", "0"]
    bad(["--trace", "azure-llm-2023-code", *m, "--hbm", "20GB"], 1, ["no hash_ids", "--unique-without-hashes"])
    bad([*m, "--hbm", "20GB", "--dram", "0"], 1, ["--dram 0", "at least one block"])
    bad([*m, "--hbm", "20GB", "--dram", "1KB"], 1, ["dram tier", "hold no block"])
    bad([*m, "--hbm", "0"], 1, ["--hbm 0"])
    bad([*m, "--hbm", "-5GB"], 1, ["--hbm", "size"])
    bad([*m, "--hbm", "20XB"], 1, ["--hbm", "not a size"])
    bad([*m, "--hbm", "20GB", "--policy", "random"], 1, ["--policy", "random"])
    bad([*m, "--hbm", "20GB", "--route", "nearest"], 1, ["--route", "nearest"])
    bad([*m, "--hbm", "20GB", "--block-tokens", "300"], 1, ["300", "divide"])
    bad([*m, "--hbm", "20GB", "--route", "single", "--instances", "4"], 1, ["single", "--instances"])
    bad([*m, "--hbm", "20GB", "--trace", "/nonexistent.jsonl"], 1, ["nonexistent"])
    bad(["--model", "llama-3-8b", "--points", "0", "--hbm", "20GB"], 1, ["compute"])
    bad(["--model", "llama-3-8b", "--tflops", "400"], 1, ["--hbm"])
    # --unique-without-hashes: the Azure trace replays, and never hits
    rc, out, err = run("--trace", "azure-llm-2023-code", *m, "--hbm", "20GB", "--unique-without-hashes", "--json",
                       "--max-requests", "500")
    check(rc == 0, f"--unique-without-hashes: exit {rc}: {err.strip()}")
    if rc == 0:
        rows = json.loads(out)["rows"]
        check(all(r["token_hit"] == 0 for r in rows), "a trace without shared hashes must give no hits")


def test_output():
    """the human table, CSV and JSON carry the answers the issue asks for"""
    args = ["--model", "llama-3-8b", "--hw", "h100-sxm", "--dram", "256GB", "--ssd", "2TB", "--points", "3",
            "--max-requests", "3000", "--instances", "4"]
    rc, out, err = run(*args, "--json")
    check(rc == 0, f"cache --json: exit {rc}: {err.strip()}")
    if rc:
        return
    doc = json.loads(out)
    check(doc["schema"] == "kvwall.cache/1", "schema")
    kinds = {r["kind"] for r in doc["rows"]}
    check(kinds == {"config", "curve"}, f"row kinds {kinds}")
    curves = [r for r in doc["rows"] if r["kind"] == "curve"]
    check(len(curves) == 3 * 3 * 2, f"{len(curves)} curve points, want 3 tiers x 3 points x 2 policies")
    check(all(k in doc for k in ("winner", "dram_decision", "ssd_decision", "vllm_settings", "lmcache_settings",
                                    "llmd_settings", "engine_settings", "size90", "decisions")), "answer fields")
    check({d["tier"] for d in doc["decisions"]} == {"dram", "ssd"}, "a decision per lower tier")
    es = doc["engine_settings"]
    check(es["vllm"]["enable_prefix_caching"] is True and es["llm_d"]["blockSizeTokens"] >= 1, "engine settings")
    none = [r for r in doc["rows"] if r["config"] == "none"][0]
    check(none["token_hit"] == 0 and none["gpu_s_saved"] == 0, "the no-cache row hits nothing and saves nothing")
    rc, out, err = run(*args, "--csv")
    check(rc == 0 and out.splitlines()[0].startswith("kind,config,policy,capacity_bytes,token_hit"), "CSV header")
    rc, out, err = run(*args)
    check(rc == 0 and "best configuration" in out and "TTFT p90" in out, "human output")


def main():
    test_reference()
    test_mooncake()
    test_properties()
    test_bad_input()
    test_output()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
