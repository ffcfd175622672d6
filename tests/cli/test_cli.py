#!/usr/bin/env python3
"""CLI tests of the real kvwall binary.

- golden: each command's output compared with tests/golden/<name>.txt
  (JSON compared without the host facts and argv, which vary by machine;
  the catalog path is replaced by <catalog>).  `--update` rewrites them.
- facts: the values the issue names, checked directly (crossover root,
  JSON keys, exit codes).
- bad input: every case exits with its documented code, prints exactly
  one line on stderr naming the problem, nothing on stdout, and leaves no
  file behind when --output was given.

usage: test_cli.py KVWALL [--update]
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(ROOT, "tests", "golden")
PROFILE = os.path.join(ROOT, "tests", "data", "example-profile.json")
CPU_PROFILE = os.path.join(ROOT, "tests", "data", "cpu-profile.json")
KVWALL = sys.argv[1]
UPDATE = "--update" in sys.argv
CATALOG = os.environ.get("KVWALL_CATALOG", os.path.join(ROOT, "model", "catalog"))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from checks import Checks  # noqa: E402

check = Checks("test_cli")
HAVE_HWLOC = "built without hwloc" not in subprocess.run([KVWALL, "probe", "--list", "--csv"], capture_output=True,
                                                         text=True).stdout




def run(*args):
    p = subprocess.run([KVWALL, *args], capture_output=True, text=True, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def normalize(text, is_json):
    text = text.replace(CATALOG, "<catalog>").replace(ROOT + "/", "")
    if not is_json:
        return text
    doc = json.loads(text)
    doc.pop("host", None)
    doc.pop("argv", None)
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


GOLDENS = {
    "kv_llama3_70b": ["kv", "--model", "llama-3-70b", "--ctx", "131072"],
    "kv_deepseek_tp8": ["kv", "--model", "deepseek-v3", "--ctx", "32768", "--tp", "8", "--json"],
    "kv_gemma2_int4": ["kv", "--model", "gemma-2-9b", "--ctx", "8192", "--kv-dtype", "int4", "--csv"],
    "crossover_analytic": ["crossover", "--model", "llama-3-8b", "--tflops", "1000", "--gbps", "1", "--json"],
    "crossover_h100_ndr": ["crossover", "--model", "llama-3-70b", "--hw", "h100-sxm", "--link", "ib-ndr"],
    "crossover_profile_layerwise": ["crossover", "--model", "llama-2-7b", "--profile", PROFILE,
                                    "--link", "tcp_loopback", "--layerwise", "--json"],
    "split_roce": ["split", "--model", "llama-3-70b", "--ctx", "32768", "--hw", "h100-sxm",
                   "--link", "roce-100", "--json"],
    "sweep_mistral": ["sweep", "--model", "mistral-7b", "--hw", "h100-sxm", "--link", "eth-100",
                      "--csv", "--ctx-steps", "3", "--bw-steps", "3"],
    # issue 13's goldens: L* searched only within the model's window (Llama-2-7B over 100 GbE would
    # cross at 51,648 tokens, past its 4,096), a crossover under one KV block reported as
    # latency-bound, loopback TCP labelled, a TP that does not fit flagged (and a TP list), the TP
    # chosen automatically with its all-reduces over NVLink; link efficiency in every catalog-link one
    "crossover_window_clamp": ["crossover", "--model", "llama-2-7b", "--hw", "h100-sxm", "--link", "eth-100"],
    "crossover_latency_bound": ["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr",
                                "--layerwise", "--json"],
    "crossover_loopback": ["crossover", "--model", "llama-2-7b", "--hw", "h100-sxm", "--profile", CPU_PROFILE,
                           "--link", "tcp_loopback_4streams"],
    "kv_fit_tp_list": ["kv", "--model", "llama-3-70b", "--tp", "1,2,4,8", "--hw", "h100-sxm"],
    "crossover_tp_auto": ["crossover", "--model", "llama-3-70b", "--hw", "h100-sxm", "--link", "roce-200",
                          "--tp", "auto", "--json"],
    "models": ["models", "--csv"],
    "hw": ["hw", "--csv"],
}
# the model's outputs for every catalog model, exact: a change to the
# arithmetic or to a config shows up here
for _m in sorted(os.listdir(os.path.join(ROOT, "model", "catalog", "models"))):
    _m = _m[:-5]
    GOLDENS["catalog_" + _m] = ["crossover", "--model", _m, "--hw", "h100-sxm", "--link", "ib-ndr",
                                "--layerwise", "--ctx", "32768", "--json"]


def test_goldens():
    os.makedirs(GOLDEN, exist_ok=True)
    for name, args in GOLDENS.items():
        rc, out, err = run(*args)
        check(rc == 0 and err == "", f"{name}: rc {rc}, stderr {err!r}")
        if rc != 0:
            continue
        got = normalize(out, "--json" in args)
        path = os.path.join(GOLDEN, name + ".txt")
        if UPDATE:
            with open(path, "w") as f:
                f.write(got)
            continue
        want = open(path).read() if os.path.exists(path) else None
        check(got == want, f"{name}: output differs from {path} (rerun with --update if intended)")


def test_facts():
    rc, out, _ = run("crossover", "--model", "llama-3-8b", "--tflops", "1000", "--gbps", "1", "--max-ctx", "1M",
                     "--json")
    d = json.loads(out)
    # hand-derived in tests/unit/test_model.c: L + 1 = 500,000 - 53,248
    check(d["crossover_tokens"] == 446751, f"crossover_tokens {d['crossover_tokens']}")
    check(d["regime"] == "recompute_below_crossover", d["regime"])
    # ... which is past the model's 8,192-token window: searched only there, recompute wins throughout
    rc, out, _ = run("crossover", "--model", "llama-3-8b", "--tflops", "1000", "--gbps", "1", "--json")
    d = json.loads(out)
    check(d["crossover_tokens"] is None and d["regime"] == "recompute_always_wins" and d["search_max_ctx"] == 8192
          and d["context_window"] == 8192 and d["ctx"] == 8192, f"L* within the window: {d['regime']}")
    test_issue13_facts()
    check(d["schema"] == "kvwall.crossover/1" and "version" in d and "host" in d and "argv" in d, "envelope")
    for row in d["rows"]:
        check(set(row) >= {"ctx", "recompute_s", "transfer_s"}, "row keys")
    rc, out, _ = run("crossover", "--model", "llama-3-8b", "--tflops", "400", "--gbps", "50", "--json")
    d = json.loads(out)
    check(d["crossover_tokens"] is None and d["regime"] == "transfer_always_wins", "no crossover at 50 GB/s")
    # the profile's measured extra cost per message (median of the positive ones: 4 us) prices a
    # 16-token-block send: 30 us alpha + 2047 x 4 us + 128 MiB / 2 GB/s
    rc, out, err = run("crossover", "--model", "llama-3-8b", "--profile", PROFILE, "--link", "tcp_loopback",
                       "--message-tokens", "16", "--ctx", "1024", "--json")
    d = json.loads(out)
    check(rc == 0 and d["messages"] == 2048 and abs(d["transfer_s"] - (30e-6 + 2047 * 4e-6 + 134217728 / 2e9)) < 1e-12
          and "4 us per further message" in d["link_source"], f"measured message cost: {err} {d.get('transfer_s')}")
    rc, out, _ = run("kv", "--model", "llama-3-70b", "--ctx", "1000", "--json")
    d = json.loads(out)
    check(d["kv_bytes_per_token"] == 327680 and d["kv_bytes_total"] == 327680000
          and d["kv_bytes_per_layer_per_token"] == 4096, "kv fields")
    rc, out, _ = run("split", "--model", "llama-3-8b", "--ctx", "1000", "--tflops", "1000", "--gbps", "1", "--json")
    d = json.loads(out)
    check(903 <= d["best_prefix_tokens"] <= 904, f"best prefix {d['best_prefix_tokens']}")
    check(d["split_s"] < min(d["recompute_s"], d["transfer_s"]), "split beats both")
    rc, out, _ = run("--version")
    check(rc == 0 and out.startswith("kvwall "), "--version")
    for cmd in ("kv", "crossover", "split", "sweep", "models", "hw", "probe", "compare", "baseline", "serve"):
        rc, out, _ = run("help", cmd)
        check(rc == 0 and "usage: kvwall " + cmd in out, f"help {cmd}")
    topo = os.path.join(ROOT, "tests", "data", "topology")
    rc, out, err = run("probe", "topology", "--topology-xml", os.path.join(topo, "two-socket-4gpu-2nic.xml"), "--json")
    if "built without hwloc" not in out:
        t = json.loads(out)["topology"]
        rel = {(p["gpu"], p["nic"]): p["relation"] for p in t["pairs"]}
        check(rc == 0 and t["packages"] == 2 and t["numa_nodes"] == 2 and len(t["gpus"]) == 4 and len(t["nics"]) == 2,
              f"topology counts: {rc} {err}")
        check(rel == {("0000:01:00.0", "mlx5_0"): "same_switch", ("0000:01:00.0", "mlx5_1"): "cross_socket",
                      ("0000:21:00.0", "mlx5_0"): "same_numa", ("0000:21:00.0", "mlx5_1"): "cross_socket",
                      ("0000:81:00.0", "mlx5_0"): "cross_socket", ("0000:81:00.0", "mlx5_1"): "same_host_bridge",
                      ("0000:a1:00.0", "mlx5_0"): "cross_socket", ("0000:a1:00.0", "mlx5_1"): "same_numa"},
              f"topology relations {rel}")
        check(t["closest_nic"] == {"0000:01:00.0": "mlx5_0", "0000:21:00.0": "mlx5_0",
                                   "0000:81:00.0": "mlx5_1", "0000:a1:00.0": "mlx5_1"}, f"closest {t['closest_nic']}")
        rc, out, err = run("probe", "topology", "--topology-xml", os.path.join(topo, "one-gpu-no-nic.xml"), "--json")
        t = json.loads(out)["topology"]
        check(rc == 0 and t["closest_nic"] == {"0000:01:00.0": None} and t["pairs"] == [], "one GPU, no NIC")
    rc, out, _ = run("probe", "rdma", "--json")
    rd = json.loads(out)["results"][0]
    check(rc == 0 and rd["status"] == "skipped" and rd["reason"].startswith(("no RDMA device", "built without libibverbs")),
          f"rdma without a NIC: {rd}")
    rc, out, _ = run("probe", "--list")
    check(rc == 0 and "null" in out and "host_memcpy" in out, "probe --list")
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run("probe", "null", "host_memcpy", "--quick", "--out", tmp)
        check(rc == 0, f"probe null host_memcpy: {rc} {err}")
        prof = json.load(open(os.path.join(tmp, "profile.json")))
        check(prof["schema"] == "kvwall.profile/1" and prof["example"] is False, "probe profile schema")
        probes = {r["probe"]: r for r in prof["results"]}
        check(set(probes) == {"null", "host_memcpy"}, f"probe records {set(probes)}")
        mc = probes["host_memcpy"]
        check(mc["status"] == "ok" and mc["gbps"] > 0 and mc["verify"]["wrong"] == 0
              and mc["verify"]["checked"] == mc["bytes"], "host_memcpy verified")
        t = mc["time_s"]
        check(t["min"] <= t["median"] <= t["p90"] <= t["max"], "time statistics ordered")
        # the profile the probes wrote is what --profile reads
        rc, out, err = run("crossover", "--model", "llama-3-8b", "--profile", os.path.join(tmp, "profile.json"),
                           "--hw", "h100-sxm", "--link", "ib-ndr", "--json")
        check(rc == 0, f"--profile of a probe run: {err}")
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run("probe", "tcp", "--quick", "--streams", "2", "--out", tmp)
        prof = json.load(open(os.path.join(tmp, "profile.json")))
        tcp = [r for r in prof["results"] if r["probe"] == "tcp"]
        check(rc == 0 and tcp and all(r["status"] == "ok" and r["verify"]["wrong"] == 0 and r["gbps"] > 0
                                      for r in tcp), f"tcp loopback: {rc} {err}")
        check(prof["links"][0]["name"] == "tcp_loopback_2streams" and prof["links"][0]["bandwidth_GBps"] > 0,
              "tcp link fit")
        modes = [m["mode"] for m in prof["kv_messages"][0]["modes"]]
        check(modes == ["packed", "per_layer", "per_layer_block256", "per_layer_block64", "per_layer_block16"],
              f"kv-shaped modes {modes}")
        # the fitted link drives the model
        rc, out, err = run("crossover", "--model", "llama-2-7b", "--profile", os.path.join(tmp, "profile.json"),
                           "--hw", "h100-sxm", "--json")
        check(rc == 0 and json.loads(out)["link"] == "tcp_loopback_2streams", f"crossover on a measured link: {err}")
        # a dead peer: nothing listens there; exit 2 quickly, the failure recorded
        rc, out, err = run("probe", "tcp", "--quick", "--peer", "127.0.0.1:1", "--out", tmp + "/dead")
        dead = json.load(open(os.path.join(tmp, "dead", "profile.json")))["results"][-1]
        check(rc == 2 and dead["status"] == "failed" and "cannot connect to 127.0.0.1:1" in dead["reason"],
              f"dead peer: {rc} {dead}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.csv")
        rc, out, _ = run("sweep", "--model", "llama-3-8b", "--tflops", "500", "--csv", "--output", path)
        check(rc == 0 and out == "" and open(path).read().startswith("ctx,bandwidth_gbps"), "--output")
        check(os.listdir(tmp) == ["x.csv"], "no temporary files left")


def winner_from_regime(d, L):
    """who the regime and its crossings say wins at L (L >= one block)"""
    first = {"transfer_always_wins": "transfer", "recompute_always_wins": "recompute",
             "recompute_below_crossover": "recompute", "transfer_below_crossover": "transfer"}[d["regime"]]
    flips = sum(1 for x in d["crossings"] if x <= L)
    return first if flips % 2 == 0 else ("transfer" if first == "recompute" else "recompute")


def test_issue13_facts():
    # link efficiency: a catalog link at its cited achieved fraction, labelled; --link-efficiency 1 is line rate
    rc, out, _ = run("crossover", "--model", "llama-3-70b", "--hw", "h100-sxm", "--link", "ib-ndr", "--tp", "4", "--json")
    d = json.loads(out)
    kv = 327680 / 4 * 8192
    check(d["link_efficiency"] == 0.966 and d["link_line_rate_gbps"] == 50 and "achieved 0.966" in d["link_source"]
          and "ib_write_bw" in d["link_efficiency_source"], f"link efficiency labelled: {d['link_source']}")
    check(abs(d["transfer_s"] - (2e-6 + kv / (50e9 * 0.966))) < 1e-12, f"efficiency applied: {d['transfer_s']}")
    # TP 4 pays 2 ring all-reduces per layer of 8192 x 8192 x 2 B over NVLink 4 at 0.8 x 450 GB/s, alpha 3 us
    ar = 80 * 2 * (6 * 3e-6 + 1.5 * 8192 * 8192 * 2 / 360e9)
    check(abs(d["tp_allreduce_s"] - ar) < 1e-9 and d["tp_link"] == "nvlink4", f"TP all-reduce {d.get('tp_allreduce_s')} vs {ar}")
    rc, out, _ = run("crossover", "--model", "llama-3-70b", "--hw", "h100-sxm", "--link", "ib-ndr", "--tp", "4",
                     "--link-efficiency", "1", "--json")
    check(abs(json.loads(out)["transfer_s"] - (2e-6 + kv / 50e9)) < 1e-12, "--link-efficiency 1: line rate")
    # a TP that does not fit is flagged, with the smallest that does; auto picks it
    rc, out, _ = run("crossover", "--model", "llama-3-70b", "--hw", "h100-sxm", "--link", "ib-ndr")
    check(rc == 0 and "DOES NOT FIT H100-SXM at TP 1" in out.splitlines()[0] and "smallest TP that fits is 4" in out,
          "llama-3-70b TP1 on 80 GB flagged")
    for model, tp in (("llama-3-70b", 4), ("deepseek-v3", 16), ("mixtral-8x7b", 2), ("llama-3-8b", 1)):
        rc, out, err = run("kv", "--model", model, "--hw", "h100-sxm", "--tp", "auto", "--json")
        d = json.loads(out) if rc == 0 else {}
        check(d.get("tp") == tp and d.get("fits") is True, f"{model}: --tp auto on H100 = {d.get('tp')}, want {tp} {err}")
    rc, out, _ = run("kv", "--model", "deepseek-v3", "--hw", "h200", "--tp", "auto", "--json")
    check(json.loads(out)["tp"] == 8, "deepseek-v3 fp8 fits 8 x H200")
    # latency-bound: a flip under one 16-token block is not L*
    rc, out, _ = run("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--layerwise", "--json")
    d = json.loads(out)
    check(d["latency_bound_below_tokens"] == 2 and d["crossover_tokens"] is None and d["block_tokens"] == 16
          and d["regime"] == "transfer_always_wins" and "latency-bound" in d["answer"], f"latency-bound: {d['regime']}")
    rc, out, _ = run("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--layerwise",
                     "--message-tokens", "1", "--json")
    d = json.loads(out)
    check(d["block_tokens"] == 1 and d["latency_bound_below_tokens"] is None, "a 1-token block: no latency-bound range")
    # scenarios: named, each saying what it optimises, the winner computed in each
    for args, scen in (([], "prefix_fetch"), (["--layerwise"], "handoff"), (["--scenario", "handoff"], "handoff")):
        rc, out, _ = run("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "eth-25", *args, "--json")
        d = json.loads(out)
        check(d["scenario"] == scen and d["scenario_optimises"] and d["winner"] in ("transfer", "recompute"),
              f"scenario {scen}")
    # loopback is labelled as such
    rc, out, _ = run("crossover", "--model", "llama-2-7b", "--hw", "h100-sxm", "--profile", CPU_PROFILE,
                     "--link", "tcp_loopback_4streams", "--json")
    d = json.loads(out)
    check(d["link_kind"] == "loopback" and "loopback, not a network path" in d["link_source"], "loopback labelled")
    # the winner column never contradicts the regime, in every crossover golden
    for name, args in GOLDENS.items():
        if args[0] != "crossover" or "--json" not in args:
            continue
        d = json.load(open(os.path.join(GOLDEN, name + ".txt")))
        bad = [r["ctx"] for r in d["rows"] if r["ctx"] >= d["block_tokens"] and winner_from_regime(d, r["ctx"]) != r["winner"]]
        check(not bad and winner_from_regime(d, d["ctx"]) == d["winner"], f"{name}: winner contradicts regime at {bad}")
    # token counts take k/M/Ki; an ambiguous K is refused; vLLM's KV dtype names are aliases
    rc, out, _ = run("kv", "--model", "llama-3-8b", "--ctx", "128k", "--json")
    check(json.loads(out)["ctx"] == 128000, "--ctx 128k")
    rc, out, _ = run("kv", "--model", "llama-3-8b", "--ctx", "8Ki", "--json")
    check(json.loads(out)["ctx"] == 8192, "--ctx 8Ki")
    for alias, dt, per in (("fp8_e5m2", "fp8", 65536), ("fp8_e4m3", "fp8", 65536), ("fp8", "fp8", 65536),
                           ("auto", "bf16", 131072)):
        rc, out, _ = run("kv", "--model", "llama-3-8b", "--kv-dtype", alias, "--json")
        d = json.loads(out)
        check(d["kv_dtype"] == dt and d["kv_bytes_per_token"] == per, f"--kv-dtype {alias}")
    # bytes print as exact integers, not 2.68435e+09
    rc, out, _ = run("crossover", "--model", "llama-3-70b", "--hw", "h100-sxm", "--link", "ib-ndr", "--tp", "4")
    check("671088640 B" in out and "e+0" not in out.split("\n\n")[0], "bytes as integers")
    # --tflops/--gbps titles, and a config.json named after its directory
    rc, out, _ = run("crossover", "--model", "llama-3-8b", "--tflops", "400", "--gbps", "5")
    check(out.splitlines()[0] == "Transfer or recompute: llama-3-8b over a given 5 GB/s link", out.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = json.load(open(os.path.join(ROOT, "model", "catalog", "models", "llama-3-8b.json")))
        del cfg["_name_or_path"]
        os.makedirs(os.path.join(tmp, "My-Llama"))
        with open(os.path.join(tmp, "My-Llama", "config.json"), "w") as f:
            json.dump(cfg, f)
        rc, out, _ = run("kv", "--config", os.path.join(tmp, "My-Llama", "config.json"), "--json")
        check(json.loads(out)["model"] == "My-Llama", "--config named after its directory")
    rc, out, _ = run("--version")
    built = out.splitlines()[1] if rc == 0 and len(out.splitlines()) > 1 else ""
    check(built.startswith("built with: ") and "jansson" in built and ("hwloc" in built) == HAVE_HWLOC,
          f"--version lists the libraries: {built}")


BAD_CONFIG = '{"num_hidden_layers": 4, "hidden_size": 512'
MISSING_FIELD = '{"hidden_size": 512, "num_attention_heads": 8, "vocab_size": 10, "intermediate_size": 64}'
BAD_PROFILE = '{"schema": "kvwall.profile/1", "results": [{"probe": "x", "status": "sideways"}]}'

# (args, exit code, text the one-line message must contain)
BAD = [
    (["nosuchcmd"], 1, "unknown command"),
    (["kv"], 1, "no model"),
    (["kv", "--model", "nope"], 1, "unknown model 'nope'"),
    (["kv", "--model", "llama-3-8b", "--bogus"], 1, "unknown option '--bogus'"),
    (["kv", "--model", "llama-3-8b", "--ctx"], 1, "--ctx needs a value"),
    (["kv", "--model", "llama-3-8b", "--ctx", "0"], 1, "--ctx"),
    (["kv", "--model", "llama-3-8b", "--ctx", "-5"], 1, "--ctx"),
    (["kv", "--model", "llama-3-8b", "--ctx", "nan"], 1, "--ctx"),
    (["kv", "--model", "llama-3-8b", "--ctx", "1e99"], 1, "--ctx"),
    (["kv", "--model", "llama-3-8b", "--ctx", "99999999999999999999"], 1, "--ctx"),
    (["kv", "--model", "llama-3-8b", "--ctx", "12abc"], 1, "--ctx"),
    (["kv", "--model", "llama-3-8b", "--ctx", "5", "--ctx", "6"], 1, "given twice"),
    (["kv", "--model", "llama-3-70b", "--tp", "3"], 1, "--tp 3"),
    (["kv", "--model", "llama-3-8b", "--tp", "0"], 1, "--tp"),
    (["kv", "--model", "llama-3-8b", "--kv-dtype", "fp32"], 1, "fp32"),
    (["kv", "--model", "llama-3-8b", "--kv-dtype", "int3"], 1, "int3"),
    (["kv", "--model", "llama-3-8b", "--config", "x.json"], 1, "not both"),
    (["kv", "--config", "/nonexistent/config.json"], 1, "cannot open /nonexistent/config.json"),
    (["kv", "--config", "@BAD_CONFIG"], 1, "malformed JSON"),
    (["kv", "--config", "@MISSING_FIELD"], 1, "num_hidden_layers"),
    (["kv", "--model", "llama-3-8b", "--json", "--csv"], 1, "--json and --csv"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "500"], 1, "no link"),
    (["crossover", "--model", "llama-3-8b", "--gbps", "50"], 1, "no compute rate"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "0", "--gbps", "5"], 1, "--tflops"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "inf", "--gbps", "5"], 1, "--tflops"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "-1", "--gbps", "5"], 1, "--tflops"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "500", "--gbps", "1e7"], 1, "--gbps"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "500", "--gbps", "5", "--efficiency", "1.5"], 1, "--efficiency"),
    (["crossover", "--model", "llama-3-8b", "--hw", "nope", "--link", "ib-ndr"], 1, "unknown GPU 'nope'"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "nope"], 1, "unknown link 'nope'"),
    (["crossover", "--model", "llama-3-8b", "--hw", "a100-sxm", "--dtype", "fp8", "--link", "ib-ndr"], 1, "no fp8 peak"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--tflops", "5", "--link", "ib-ndr"], 1, "not both"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "5", "--link", "ib-ndr", "--gbps", "3"], 1, "not both"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "5", "--alpha-us", "3", "--link", "ib-ndr"], 1, "--alpha-us"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "5", "--gbps", "3", "--min-ctx", "10", "--max-ctx", "5"], 1, "--min-ctx"),
    (["crossover", "--model", "llama-3-8b", "--profile", "/nonexistent.json"], 1, "cannot open /nonexistent.json"),
    (["crossover", "--model", "llama-3-8b", "--profile", "@BAD_CONFIG"], 1, "malformed JSON"),
    (["crossover", "--model", "llama-3-8b", "--profile", "@MISSING_FIELD"], 1, "not a kvwall profile"),
    (["crossover", "--model", "llama-3-8b", "--profile", "@BAD_PROFILE"], 1, "results[0]"),
    (["crossover", "--model", "llama-3-8b", "--profile", PROFILE], 1, "no link"),
    (["crossover", "--model", "llama-3-8b", "--profile", PROFILE, "--link", "tcp_loopback",
      "--efficiency", "0.5"], 1, "--efficiency"),
    (["split", "--model", "llama-3-8b", "--tflops", "5", "--gbps", "3"], 1, "--ctx"),
    (["sweep", "--model", "llama-3-8b", "--tflops", "5", "--ctx-steps", "4096", "--bw-steps", "4096"], 1, "grid"),
    (["sweep", "--model", "llama-3-8b", "--tflops", "5", "--gbps", "3"], 1, "--gbps"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--tp", "1,2"], 1, "one value"),
    (["crossover", "--model", "llama-3-8b", "--tflops", "5", "--gbps", "3", "--tp", "auto"], 1, "--tp auto needs --hw"),
    (["kv", "--model", "llama-3-8b", "--tp", "1,1"], 1, "given twice"),
    (["kv", "--model", "llama-3-8b", "--tp", "1,3"], 1, "--tp 3"),
    (["kv", "--model", "llama-3-8b", "--ctx", "12K"], 1, "ambiguous"),
    (["kv", "--model", "llama-3-8b", "--ctx", "1.5"], 1, "not a whole number"),
    (["kv", "--model", "llama-3-8b", "--ctx", "0x10"], 1, "not a whole number"),
    (["kv", "--model", "llama-3-8b", "--kv-dtype", "fp8_e3m4"], 1, "fp8_e3m4"),
    (["kv", "--model", "llama-3-8b", "--weight-dtype", "fp7", "--hw", "h100-sxm"], 1, "--weight-dtype"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--scenario", "nope"], 1,
     "unknown scenario 'nope'"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--scenario", "prefix-fetch",
      "--layerwise"], 1, "--layerwise applies to --scenario handoff"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--link-efficiency", "0"], 1,
     "--link-efficiency"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--tp", "2", "--tp-link", "nope"],
     1, "unknown link 'nope'"),
    (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--min-ctx", "9000"], 1,
     "--min-ctx 9000"),
    (["help", "nope"], 1, "unknown command"),
    (["probe", "nope"], 1, "unknown probe 'nope'"),
    (["probe", "tcp", "--peer", "10.0.0.1"], 1, "--peer '10.0.0.1' is not ADDR:PORT"),
    (["probe", "tcp", "--peer", "host:99999"], 1, "is not ADDR:PORT"),
    (["probe", "tcp", "--peer", "not-an-ip:80"], 1, "not an IPv4 address"),
    (["probe", "tcp", "--streams", "0"], 1, "--streams"),
    (["probe", "topology", "--topology-xml", "/nonexistent.xml"], 1, "cannot open /nonexistent.xml"),
    (["serve", "--port", "0"], 1, "--port"),
    (["probe", "--quick", "--bogus"], 1, "unknown option '--bogus'"),
]


def test_bad_input():
    bad = BAD + ([(["probe", "topology", "--topology-xml", "@BAD_CONFIG"], 1, "hwloc cannot")] if HAVE_HWLOC else [])
    with tempfile.TemporaryDirectory() as tmp:
        files = {"@BAD_CONFIG": BAD_CONFIG, "@MISSING_FIELD": MISSING_FIELD, "@BAD_PROFILE": BAD_PROFILE}
        paths = {}
        for key, text in files.items():
            paths[key] = os.path.join(tmp, key[1:] + ".json")
            with open(paths[key], "w") as f:
                f.write(text)
        outdir = os.path.join(tmp, "out")
        os.mkdir(outdir)
        for args, code, needle in bad:
            args = [paths.get(a, a) for a in args]
            target = os.path.join(outdir, "result.json")
            rc, out, err = run(*args, "--output", target) if args[0] not in ("nosuchcmd", "help") else run(*args)
            lines = err.strip("\n").split("\n")
            check(rc == code, f"{args}: exit {rc}, want {code}")
            check(len(lines) == 1 and needle in err, f"{args}: stderr {err!r} should be one line with {needle!r}")
            check(out == "", f"{args}: wrote to stdout on error")
            check(os.listdir(outdir) == [], f"{args}: left {os.listdir(outdir)} behind")
        # a write that fails is a system error (exit 2), with nothing left behind
        rc, out, err = run("kv", "--model", "llama-3-8b", "--output", "/nonexistent-dir/x.json")
        check(rc == 2 and "cannot write /nonexistent-dir/x.json:" in err and ".tmp" not in err
              and err.count("\n") == 1, f"unwritable output: {rc} {err!r}")


def main():
    test_goldens()
    test_facts()
    test_bad_input()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
