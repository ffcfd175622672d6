#!/usr/bin/env bash
# cpu_gate.sh KVWALL BASELINE WORKDIR — kvwall's own CI gate: measure the
# CPU-side probes now and compare them with the committed baseline of this
# machine class (c-kernels: 2-core VMs).  The tolerance is wide because
# these VMs share hosts; it still catches a probe that got 2x slower.
# Another host of the same class may report another CPU string, so the
# hardware key is shown but not enforced (--allow-hardware-change).
set -euo pipefail
kvwall=$1 baseline=$2 work=$3
rm -rf "$work"
"$kvwall" probe host_memcpy --out "$work" >/dev/null
"$kvwall" compare "$baseline" "$work/profile.json" --tolerance 50% --metric 'host_memcpy/*' \
  --allow-hardware-change --junit "$work/junit.xml"
