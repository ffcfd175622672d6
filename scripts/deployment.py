#!/usr/bin/env python3
"""deployment.py — the deployments run_all.sh models: models x TP x KV dtype x block size.

run_all.sh takes the deployment on its command line (--models, --config,
--tp, --kv-dtype, --message-tokens, --layerwise/--no-layerwise) or from a
JSON file (--deployment FILE):

  {"deployments": [
     {"model": "llama-3-70b", "tp": [4, 8], "kv_dtype": ["bf16", "fp8"], "block_tokens": 16},
     {"config": "ckpt/My-Model/config.json", "tp": "auto", "layerwise": false}
  ]}

Each entry names one model (a catalog "model" or a Hugging Face "config",
relative to the file) and may list several TPs, KV dtypes and block sizes:
the entry stands for every combination.  tp "auto" (the default) is the
smallest TP that fits the GPU (kvwall kv --tp auto --hw GPU), and every
deployment is checked for fit the same way, so the report can flag one
that does not.  Writes the resolved list as JSON (one object per
deployment: slug, model, model_args, tp, tp_choice, kv_dtype,
block_tokens, layerwise, fits, ...) and prints one tab-separated line per
deployment for the shell: slug, model flag, model value, tp, kv dtype,
block tokens, layerwise (1/0).

usage: deployment.py --kvwall BIN --hw GPU --out FILE [--ctx N]
                     (--file DEPLOY.json | [--models a,b] [--config PATH]... [--tp SPEC]
                      [--kv-dtype D] [--message-tokens N] [--layerwise 1|0])
  --tp SPEC: N, auto, or MODEL=N,MODEL=auto,... (models not named: auto)
Exit 0 ok, 1 bad input (one line on stderr naming it), 2 kvwall failed.
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys

KEYS = {"model", "config", "tp", "kv_dtype", "block_tokens", "layerwise"}


class Bad(Exception):
    """bad input: exit 1"""


def as_list(v):
    return v if isinstance(v, list) else [v]


def check_entry(e, where):
    if not isinstance(e, dict):
        raise Bad(f"{where}: a deployment must be an object")
    unknown = set(e) - KEYS
    if unknown:
        raise Bad(f"{where}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(KEYS))})")
    if ("model" in e) == ("config" in e):
        raise Bad(f"{where}: give one of 'model' (a catalog name) or 'config' (a config.json path)")
    name = e.get("model", e.get("config"))
    if not isinstance(name, str) or not name:
        raise Bad(f"{where}: 'model'/'config' must be a non-empty string")
    for tp in as_list(e.get("tp", "auto")):
        if tp != "auto" and not (isinstance(tp, int) and not isinstance(tp, bool) and 1 <= tp <= 1024):
            raise Bad(f"{where}: 'tp' must be 'auto' or a whole number in [1, 1024], got {tp!r}")
    for kv in as_list(e.get("kv_dtype", "bf16")):
        if not isinstance(kv, str) or not kv:
            raise Bad(f"{where}: 'kv_dtype' must be a string such as bf16, fp8, fp8_e4m3")
    for b in as_list(e.get("block_tokens", 0)):
        if not (isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 1 << 24):
            raise Bad(f"{where}: 'block_tokens' must be a whole number in [0, 16777216], got {b!r}")
    if not isinstance(e.get("layerwise", True), bool):
        raise Bad(f"{where}: 'layerwise' must be true or false")


def from_file(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise Bad(f"{path}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("deployments"), list) or not doc["deployments"]:
        raise Bad(f"{path}: expected {{\"deployments\": [...]}} with at least one entry")
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for i, e in enumerate(doc["deployments"]):
        check_entry(e, f"{path}: deployments[{i}]")
        if "config" in e:
            e = dict(e, config=os.path.join(base, e["config"]))
        out.append(e)
    return out


def tp_spec(spec, models):
    """--tp N | auto | MODEL=N,...: the TP of each model"""
    if not spec:
        return {}, "auto"
    if "=" not in spec:
        return {}, spec
    per = {}
    for part in spec.split(","):
        m, _, v = part.partition("=")
        if not m or not v:
            raise Bad(f"--tp: '{part}' is not MODEL=N")
        if m not in models:
            raise Bad(f"--tp: {m} is not one of the models ({', '.join(models)})")
        per[m] = v
    return per, "auto"


def from_flags(a):
    models = [m for m in (a.models or "").split(",") if m]
    per, default = tp_spec(a.tp, models + [os.path.abspath(c) for c in a.config] + a.config)
    out = []
    for m in models:
        out.append({"model": m})
    for c in a.config:
        out.append({"config": os.path.abspath(c), "_flag": c})
    if not out:
        raise Bad("no model: give --models, --config or --deployment")
    for e in out:
        key = e.get("model") or e.get("_flag")
        tp = per.get(key, default)
        e["tp"] = tp if tp == "auto" else int(tp) if tp.isdigit() else tp
        e["kv_dtype"] = a.kv_dtype
        e["block_tokens"] = a.message_tokens
        e["layerwise"] = a.layerwise == "1"
        e.pop("_flag", None)
        check_entry(e, "command line")
    return out


def kvwall_kv(a, model_args, tp, kv, block):
    cmd = [a.kvwall, "kv", *model_args, "--hw", a.hw, "--tp", str(tp), "--kv-dtype", kv, "--json"]
    if a.ctx:
        cmd += ["--ctx", a.ctx]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise Bad(p.stderr.strip().replace("kvwall: ", "", 1) or f"kvwall kv exit {p.returncode}") if p.returncode == 1 \
            else RuntimeError(p.stderr.strip())
    return json.loads(p.stdout)


def slug_of(name, tp, kv, block, layerwise):
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name) + f"-tp{tp}"
    s += "" if kv == "bf16" else f"-{kv}"
    s += f"-b{block}" if block else ""
    return s + ("" if layerwise else "-bulk")


def expand(a, entries):
    out, seen = [], {}
    for e in entries:
        model_args = ["--model", e["model"]] if "model" in e else ["--config", e["config"]]
        for tp, kv, block in itertools.product(as_list(e.get("tp", "auto")), as_list(e.get("kv_dtype", "bf16")),
                                               as_list(e.get("block_tokens", 0))):
            d = kvwall_kv(a, model_args, tp, kv, block)
            key = (d["model"], d["tp"], d["kv_dtype"], block)
            if key in seen:
                raise Bad(f"{d['model']} at TP {d['tp']}, {d['kv_dtype']} KV, block {block} is listed twice")
            seen[key] = True
            lw = e.get("layerwise", True)
            out.append({"slug": slug_of(d["model"], d["tp"], d["kv_dtype"], block, lw), "model": d["model"],
                        "model_args": model_args, "model_source": d["model_source"], "tp": d["tp"],
                        "tp_choice": d.get("tp_choice") or "given", "kv_dtype": d["kv_dtype"],
                        "block_tokens": block, "layerwise": lw, "fits": d.get("fits"),
                        "weights_per_gpu_bytes": d.get("weights_per_gpu_bytes"),
                        "smallest_tp_that_fits": d.get("smallest_tp_that_fits"),
                        "context_window": d.get("context_window"), "ctx": d["ctx"]})
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="deployment.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kvwall", required=True)
    ap.add_argument("--hw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ctx", default="")
    ap.add_argument("--file")
    ap.add_argument("--models", default="")
    ap.add_argument("--config", action="append", default=[])
    ap.add_argument("--tp", default="")
    ap.add_argument("--kv-dtype", default="bf16")
    ap.add_argument("--message-tokens", type=int, default=0)
    ap.add_argument("--layerwise", default="1", choices=["0", "1"])
    a = ap.parse_args(argv[1:])
    try:
        deps = expand(a, from_file(a.file) if a.file else from_flags(a))
    except Bad as e:
        print(f"run_all.sh: deployment: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:
        print(f"run_all.sh: deployment: {e}", file=sys.stderr)
        return 2
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(deps, f, indent=2)
    os.replace(tmp, a.out)
    for d in deps:
        print("\t".join([d["slug"], d["model_args"][0], d["model_args"][1], str(d["tp"]), d["kv_dtype"],
                         str(d["block_tokens"]), "1" if d["layerwise"] else "0"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
