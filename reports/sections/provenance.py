"""Provenance: host, GPUs and driver, tool version, the commands and times
the profile and the run came from."""
from ..common import table

POSITION = 100
TOC = [("sec-provenance", "Provenance")]  # its entries in the contents


def html(res):
    prof = res["profile"] or {}
    run = res["run"] or {}
    host = prof.get("host", {})
    facts = [("host", host.get("hostname")), ("cpu", host.get("cpu")),
             ("gpus", ", ".join(f"{g.get('name')} (driver CUDA {g.get('driver_cuda', '?')})"
                                for g in host.get("gpus", [])) or "none"),
             ("kvwall", (prof.get("tool") or {}).get("version") or run.get("version")),
             ("profile command", prof.get("command")), ("profile time", prof.get("created_utc")),
             ("run command", run.get("command")), ("run started", run.get("started_utc")),
             ("spec sheet for compute", run.get("hw"))]
    return ["<h2 id=sec-provenance>Provenance</h2>", table([{"k": k, "v": v} for k, v in facts], [("k", "what"), ("v", "value")],
                                         "provenance")]
