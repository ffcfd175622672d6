"""A results directory as run_all.sh writes it, made with the real kvwall
binary from a fixture profile: hw.json, deployments in run.json, for each
deployment and link the two crossover documents (the handoff after a
prefill, layer-wise, and the stored prefix fetched), and a sweep per
deployment.  Shared by test_report.py and test_headline.py."""
import json
import os
import shutil
import subprocess


def kv(kvwall, *args, cwd=None):
    p = subprocess.run([kvwall, *args], capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError(f"kvwall {' '.join(args)}: {p.stderr}")
    return p.stdout


def make_results(kvwall, tmp, profile, links, deployments, hw="h100-sxm", include_loopback=False):
    """deployments: [(model, tp)]; tp "auto" or a number"""
    d = os.path.join(tmp, "results")
    os.makedirs(d)
    shutil.copy(profile, os.path.join(d, "profile.json"))
    kv(kvwall, "hw", "--json", "--output", os.path.join(d, "hw.json"))
    deps = []
    for model, tp in deployments:
        info = json.loads(kv(kvwall, "kv", "--model", model, "--hw", hw, "--tp", str(tp), "--json"))
        slug = f"{model}-tp{info['tp']}"
        deps.append({"slug": slug, "model": info["model"], "tp": info["tp"], "tp_choice": info["tp_choice"],
                     "kv_dtype": info["kv_dtype"], "block_tokens": 0, "layerwise": True, "fits": info.get("fits")})
        common = ["--model", model, "--tp", str(info["tp"]), "--hw", hw, "--profile", "profile.json"]
        for l in links:
            kv(kvwall, "crossover", *common, "--link", l, "--scenario", "prefix-fetch", "--json",
               "--output", f"crossover-{slug}-{l}-prefix.json", cwd=d)
            # as run_all.sh: a storage link gets no handoff scenario
            with open(os.path.join(d, f"crossover-{slug}-{l}-prefix.json")) as f:
                if json.load(f).get("link_kind") == "storage":
                    continue
            kv(kvwall, "crossover", *common, "--link", l, "--scenario", "handoff", "--layerwise", "--json",
               "--output", f"crossover-{slug}-{l}-handoff.json", cwd=d)
        kv(kvwall, "sweep", "--model", model, "--tp", str(info["tp"]), "--hw", hw, "--ctx-steps", "6", "--bw-steps", "6",
           "--csv", "--output", f"sweep-{slug}.csv", cwd=d)
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump({"hw": hw, "mode": "test fixture", "command": "tests/report fixture",
                   "include_loopback": include_loopback, "deployments": deps}, f)
    return d
