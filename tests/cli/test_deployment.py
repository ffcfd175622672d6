#!/usr/bin/env python3
"""scripts/deployment.py, the deployments run_all.sh models, with the real
kvwall binary: a deployment file's entries expand to models x TP x KV dtype
x block size, "auto" picks the smallest TP that fits the GPU, each one is
checked for fit, a config.json is found relative to the file; the flags
(--models, --config, --tp MODEL=N) give the same; every bad file or flag
is one line on stderr, exit 1, and no output file.

usage: test_deployment.py KVWALL
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KVWALL = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(HERE))
from checks import Checks  # noqa: E402

check = Checks("test_deployment")
SCRIPT = os.path.join(ROOT, "scripts", "deployment.py")


def run(tmp, *args):
    out = os.path.join(tmp, "deployments.json")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run([sys.executable, SCRIPT, "--kvwall", KVWALL, "--hw", "h100-sxm", "--out", out, *args],
                       capture_output=True, text=True)
    deps = json.load(open(out)) if p.returncode == 0 else None
    return p.returncode, p.stdout, p.stderr, deps, os.path.exists(out)


def write(tmp, name, doc):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_file():
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "ckpt", "My-Llama"))
        cfg = json.load(open(os.path.join(ROOT, "model", "catalog", "models", "llama-3-8b.json")))
        del cfg["_name_or_path"]
        write(tmp, "ckpt/My-Llama/config.json", cfg)
        f = write(tmp, "deploy.json", {"deployments": [
            {"model": "llama-3-70b", "tp": [1, 4, 8], "kv_dtype": ["bf16", "fp8_e4m3"], "block_tokens": 16},
            {"config": "ckpt/My-Llama/config.json", "layerwise": False},
            {"model": "deepseek-v3"}]})
        rc, out, err, deps, _ = run(tmp, "--file", f)
        check(rc == 0 and err == "", f"deployment file: {rc} {err}")
        if rc:
            return
        check(len(deps) == 3 * 2 + 1 + 1, f"3 x 2 + 1 + 1 deployments, got {len(deps)}")
        l70 = {(d["tp"], d["kv_dtype"]): d for d in deps if d["model"] == "llama-3-70b"}
        check(l70[(1, "bf16")]["fits"] is False and l70[(1, "bf16")]["smallest_tp_that_fits"] == 4
              and l70[(4, "fp8")]["fits"] is True, "llama-3-70b: TP 1 does not fit 80 GB, TP 4 does")
        check(l70[(8, "fp8")]["slug"] == "llama-3-70b-tp8-fp8-b16" and l70[(8, "fp8")]["block_tokens"] == 16,
              f"slug {l70[(8, 'fp8')]['slug']}")
        mine = next(d for d in deps if d["model"] == "My-Llama")
        check(mine["tp"] == 1 and mine["tp_choice"].startswith("auto") and mine["layerwise"] is False
              and mine["slug"] == "My-Llama-tp1-bulk" and mine["model_args"][0] == "--config"
              and os.path.isabs(mine["model_args"][1]), f"config entry: {mine}")
        ds = next(d for d in deps if d["model"] == "deepseek-v3")
        check(ds["tp"] == 16 and ds["fits"] is True, f"deepseek-v3 fp8 weights: auto TP 16 on H100, got {ds['tp']}")
        lines = out.strip().split("\n")
        check(len(lines) == len(deps) and all(len(l.split("\t")) == 7 for l in lines), "one shell line each")


def test_flags():
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(ROOT, "model", "catalog", "models", "mistral-7b.json")
        rc, out, err, deps, _ = run(tmp, "--models", "llama-3-8b,mixtral-8x7b", "--config", cfg,
                                    "--tp", "mixtral-8x7b=4", "--kv-dtype", "fp8", "--message-tokens", "16")
        check(rc == 0, f"flags: {err}")
        if rc:
            return
        tps = {d["model"]: d["tp"] for d in deps}
        check(tps == {"llama-3-8b": 1, "mixtral-8x7b": 4, "Mistral-7B-v0.1": 1}, f"TPs {tps}")
        check(all(d["kv_dtype"] == "fp8" and d["block_tokens"] == 16 for d in deps), "--kv-dtype, --message-tokens")
        check(next(d for d in deps if d["model"] == "mixtral-8x7b")["tp_choice"] == "given", "a given TP says so")


BAD = [  # (deployment file text, text the one-line message must contain)
    ("{bad json", "deploy.json"),
    ('{"deployments": []}', "at least one entry"),
    ('{"deployments": [{"model": "llama-3-8b", "tpp": 2}]}', "unknown key 'tpp'"),
    ('{"deployments": [{"model": "llama-3-8b", "config": "x.json"}]}', "one of 'model'"),
    ('{"deployments": [{"model": "llama-3-8b", "tp": "2"}]}', "'tp' must be 'auto' or a whole number"),
    ('{"deployments": [{"model": "llama-3-8b", "tp": 0}]}', "'tp' must be"),
    ('{"deployments": [{"model": "llama-3-8b", "layerwise": "no"}]}', "'layerwise' must be true or false"),
    ('{"deployments": [{"model": "llama-3-8b", "block_tokens": -1}]}', "'block_tokens'"),
    ('{"deployments": [{"model": "nope"}]}', "unknown model 'nope'"),
    ('{"deployments": [{"model": "llama-3-70b", "tp": 3}]}', "--tp 3"),
    ('{"deployments": [{"model": "llama-3-8b", "kv_dtype": "fp9"}]}', "fp9"),
    ('{"deployments": [{"model": "llama-3-8b"}, {"model": "llama-3-8b", "tp": 1}]}', "listed twice"),
    ('{"deployments": [{"config": "missing/config.json"}]}', "missing/config.json"),
]


def test_bad():
    with tempfile.TemporaryDirectory() as tmp:
        for text, needle in BAD:
            f = write(tmp, "deploy.json", text)
            rc, out, err, _, written = run(tmp, "--file", f)
            check(rc == 1 and needle in err and err.count("\n") == 1 and not written,
                  f"{text!r}: exit {rc}, {err!r} should be one line with {needle!r}, no file")
        rc, _, err, _, written = run(tmp, "--models", "llama-3-8b", "--tp", "nope=2")
        check(rc == 1 and "nope is not one of the models" in err and not written, f"--tp nope=2: {err!r}")


def main():
    test_file()
    test_flags()
    test_bad()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
