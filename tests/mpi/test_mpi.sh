#!/usr/bin/env bash
# test_mpi.sh KVWALL — a 2-rank mpirun on localhost: each rank runs the
# CPU probes, the tcp probe runs from rank 0 to rank 1's server, and rank 0
# alone writes one merged cluster profile.  Skips (77) without mpirun or an
# MPI build.
set -uo pipefail
kvwall=$(readlink -f "$1")
command -v mpirun >/dev/null || { echo "SKIPPED: mpirun not installed"; exit 77; }
"$kvwall" --version | grep -q " MPI " || { echo "SKIPPED: kvwall built without MPI"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Open MPI refuses root unless told; CI runs as root.  Loopback TCP for MPI itself.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$work"
timeout 300 mpirun --oversubscribe --mca btl self,tcp --mca btl_tcp_if_include lo -np 2 \
  "$kvwall" probe host_memcpy tcp nccl --quick --no-kv --out "$work/cluster" >"$work/out.txt" 2>"$work/err.txt"
rc=$?
python3 - "$work/cluster/profile.json" "$rc" <<'PY'
import json, sys
passed = failed = 0
def check(c, what):
    global passed, failed
    if c: passed += 1
    else:
        failed += 1; print("FAIL:", what, file=sys.stderr)
check(sys.argv[2] == "0", f"mpirun exit {sys.argv[2]}")
try:
    p = json.load(open(sys.argv[1]))
except OSError as e:
    p = {}; check(False, f"no merged profile: {e}")
check(len(p.get("ranks", [])) == 2, "two ranks in the merged profile")
tcp = [r for r in p.get("results", []) if r["probe"] == "tcp" and r["status"] == "ok"]
check(tcp and all(r["rank"] == 0 and r["verify"]["wrong"] == 0 for r in tcp), "tcp measured by rank 0, verified")
check({r["rank"] for r in p.get("results", []) if r["probe"] == "host_memcpy"} == {0, 1}, "host_memcpy on both ranks")
check(any(l["name"] == "tcp_rank0_to_rank1_4streams" for l in p.get("links", [])), "rank 0 -> 1 link fitted")
nccl = [r for r in p.get("results", []) if r["probe"] == "nccl"]
gpus = any(rk["host"].get("gpus") for rk in p.get("ranks", []))
check(len(nccl) >= 2 and (gpus or all(r["status"] == "skipped" and r["reason"] for r in nccl)),
      f"nccl without GPUs is skipped with the reason on every rank: {nccl}")
print(f"test_mpi: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
rc=$?
[ $rc -ne 0 ] && cat "$work/err.txt" >&2
exit $rc
