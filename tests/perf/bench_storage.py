#!/usr/bin/env python3
"""bench_storage.py — benchmark, not a test: kvwall's storage probe against
fio on the same file, block size and queue depth, in the same run.

  1. kvwall probe storage --storage-file F makes F (the probe's pattern)
     and keeps it;
  2. fio reads F with the same shapes: random 4 KiB at queue depth 1, 16
     and 64, random 64 KiB (a KV block of one layer) at queue depth 16, and
     sequential 1 MiB reads at queue depth 16 (kvwall's seq_qd16_16MiB: 16
     contiguous 1 MiB reads in flight); O_DIRECT, io_uring when kvwall used
     io_uring, else psync with one thread per queue slot, as kvwall's
     fallback engine does;
  3. steps 1-2 alternate --rounds times (default 3: the machines this runs
     on are shared, and a disk's speed wanders; alternating keeps drifts
     out of the ratio);
  4. prints, per shape, the median of kvwall's GB/s and of fio's over the
     rounds and their ratio (the goal is >= 0.95).  F is removed.
On tmpfs (memory, not a disk) both run buffered if the kernel refuses
O_DIRECT there, and the output says so.  Nothing here fails on speed; a
missing fio is reported and the script exits 0.

usage: bench_storage.py KVWALL [DIR] [--size 1GiB] [--rounds 3] [--fio-seconds 3]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

KVWALL = sys.argv[1]
def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


args = [a for i, a in enumerate(sys.argv[2:], 2) if not a.startswith("--") and not sys.argv[i - 1].startswith("--")]
DIR = args[0] if args else "/var/tmp"
SIZE = opt("--size", "1GiB")
ROUNDS = int(opt("--rounds", "3"))
FIO_S = opt("--fio-seconds", "3")
# kvwall variant (after the storage_<fs>_<mode>_ prefix), fio rw, bs, iodepth
SHAPES = [
    ("rand_qd1_4KiB", "randread", "4k", 1),
    ("rand_qd16_4KiB", "randread", "4k", 16),
    ("rand_qd64_4KiB", "randread", "4k", 64),
    ("rand_qd16_llama-3-8b_kvblock_64KiB", "randread", "64k", 16),
    ("seq_qd16_16MiB", "read", "1M", 16),
]


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else None


def kvwall_run(path, out):
    p = subprocess.run([KVWALL, "probe", "storage", "--storage-file", path, "--storage-size", SIZE,
                        "--model", "llama-3-8b", "--out", out], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_storage: kvwall probe storage failed ({p.returncode}): {p.stderr.strip().splitlines()[-1]}")
    prof = json.load(open(os.path.join(out, "profile.json")))
    st = prof.get("storage", {})
    res = {}
    for r in prof["results"]:
        if r["probe"] == "storage" and r["status"] == "ok":
            res[r["variant"].split("_", 3)[3]] = r["gbps"]
    return st, res


def fio_run(path, rw, bs, qd, direct, engine):
    cmd = ["fio", "--name=kvw", f"--filename={path}", f"--rw={rw}", f"--bs={bs}", f"--direct={1 if direct else 0}",
           f"--runtime={FIO_S}", "--time_based", "--output-format=json"]
    if engine == "io_uring":
        cmd += ["--ioengine=io_uring", f"--iodepth={qd}"]
    else:
        cmd += ["--ioengine=psync", "--thread", f"--numjobs={qd}", "--group_reporting"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)["jobs"][0]["read"]["bw_bytes"] / 1e9


def main():
    if not shutil.which("fio"):
        print("bench_storage: fio is not installed (apt-get install fio); skipped")
        return 0
    path = os.path.join(DIR, "kvwall-bench-storage.dat")
    out = tempfile.mkdtemp()
    kv, fio = {k: [] for k, *_ in SHAPES}, {k: [] for k, *_ in SHAPES}
    try:
        for _ in range(ROUNDS):
            st, res = kvwall_run(path, out)
            direct, engine = st.get("o_direct", True), st.get("engine", "io_uring")
            for k, rw, bs, qd in SHAPES:
                if k in res:
                    kv[k].append(res[k])
                f = fio_run(path, rw, bs, qd, direct, engine)
                if f:
                    fio[k].append(f)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        shutil.rmtree(out, ignore_errors=True)
    print(f"storage: {DIR} ({st.get('filesystem')}), file {SIZE}, kvwall engine {engine}, "
          f"{'O_DIRECT' if direct else 'buffered: ' + str(st.get('fallback'))}; fio the same")
    if st.get("fallback"):
        print(f"  note: {st['fallback']}")
    print(f"  {'shape':40} {'kvwall GB/s':>12} {'fio GB/s':>9} {'kvwall/fio':>11}   (medians of {ROUNDS} alternating rounds)")
    for k, rw, bs, qd in SHAPES:
        a, f = median(kv[k]), median(fio[k])
        ratio = f"{a / f:.2f}x" if a and f else "-"
        print(f"  {k:40} {a or float('nan'):12.3f} {f or float('nan'):9.3f} {ratio:>11}"
              f"   (goal >= 0.95x; fio {rw} bs={bs} depth={qd} {engine})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
