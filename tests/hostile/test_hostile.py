#!/usr/bin/env python3
"""Hostile input: one case per defect of issue 13 ("No input can hurt a
user's files, hang, or pass as data"), each failing without its fix.

The cases make what they need: FIFOs, device nodes (mknod, as root), symlinks,
a full filesystem (a small tmpfs, else a node of /dev/full), a read-only
filesystem (a read-only tmpfs), memory limits (RLIMIT_AS, as `ulimit -v`),
umasks and long paths.  Mounts are made inside a private mount namespace
(unshare -m) so nothing outlives the test.  A case that needs a capability
the machine lacks says which and is skipped (exit 77 when every case asked
for skipped); CI runs as root, where every case runs.

usage: test_hostile.py KVWALL [CASE...] [--sanitized]
  CASE: a case number or name (default: all); --sanitized: the binary is
  built with AddressSanitizer (memory limits then mean nothing: skipped)
"""
import errno
import json
import os
import resource
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")
CATALOG = os.environ.get("KVWALL_CATALOG", os.path.join(ROOT, "model", "catalog"))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "validate"))
from checks import Checks  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
KVWALL = os.path.abspath(ARGS[0]) if ARGS else "kvwall"
SANITIZED = "--sanitized" in sys.argv
ENV = dict(os.environ, KVWALL_CATALOG=CATALOG, KVWALL_FIFO_WAIT_S="1")
check = Checks("test_hostile")


class Skip(Exception):
    pass


def kvwall(*args, timeout=60, cwd=None, env=None, preexec=None, umask=None):
    """(rc, stdout, stderr) of the real binary; a hang is a failure, not a wait"""
    def pre():
        if umask is not None:
            os.umask(umask)
        if preexec:
            preexec()
    try:
        p = subprocess.run([KVWALL, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                           env=env or ENV, preexec_fn=pre)
    except subprocess.TimeoutExpired:
        return "hang", "", f"kvwall {' '.join(args)} did not finish in {timeout} s"
    return p.returncode, p.stdout, p.stderr


def report(directory, timeout=120):
    try:
        p = subprocess.run([sys.executable, "-m", "reports", directory], capture_output=True, text=True,
                           timeout=timeout, cwd=ROOT, env=ENV)
    except subprocess.TimeoutExpired:
        return "hang", "", "python3 -m reports did not finish"
    return p.returncode, p.stdout, p.stderr


def one_line(err):
    return err.count("\n") == 1 and err.endswith("\n")


def no_temp_named(err):
    return ".tmp" not in err and ".kvwall-" not in err


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root (mknod, mount, chown)")


def can_mount():
    """mount(2) inside a private mount namespace?"""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"],
                       capture_output=True)
    return p.returncode == 0


def in_mount(opts, script, *argv):
    """runs `sh -c script` with $M a fresh tmpfs (mount options opts) in a
    private mount namespace; argv become $1..; (rc, out, err)"""
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        f'M=$(mktemp -d) && mount -t tmpfs -o {opts} tmpfs "$M" && {script}', "sh", *argv],
                       capture_output=True, text=True, timeout=120, env=ENV)
    return p.returncode, p.stdout, p.stderr


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


KV = ["kv", "--model", "llama-3-8b"]


# ---- 1 ------------------------------------------------------------------------

def case_01_output_special_files(tmp):
    """--output onto a device, a FIFO or a symlink never replaces it; a full
    device or filesystem is an error; the temporary name is never shown"""
    need_root()
    null = os.path.join(tmp, "null")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    rc, out, err = kvwall(*KV, "--output", null)
    check(rc == 0 and stat.S_ISCHR(os.lstat(null).st_mode), f"01 onto a /dev/null node: {rc} {err!r}")
    # (never the machine's own /dev/null: a kvwall without the fix would
    # replace it for every process on the machine; the node above is the same
    # kind of file)
    full = os.path.join(tmp, "full")
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    rc, out, err = kvwall(*KV, "--output", full)
    check(rc == 2 and "No space left" in err and one_line(err) and out == "" and no_temp_named(err)
          and stat.S_ISCHR(os.lstat(full).st_mode), f"01 a copy of /dev/full: {rc} {err!r}")
    blk = os.path.join(tmp, "blk")
    os.mknod(blk, 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    rc, _, err = kvwall(*KV, "--output", blk)
    check(rc == 2 and "block device" in err and stat.S_ISBLK(os.lstat(blk).st_mode), f"01 a block device: {rc} {err!r}")
    rc, _, err = kvwall(*KV, "--output", tmp)
    check(rc == 2 and "directory" in err and os.path.isdir(tmp), f"01 a directory: {rc} {err!r}")
    # a FIFO with a reader gets the text; without one, an error, not a hang
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    rc, out, err = kvwall(*KV, "--output", fifo)
    reader.join(10)
    check(rc == 0 and got and "KV cache of llama-3-8b" in got[0] and stat.S_ISFIFO(os.lstat(fifo).st_mode),
          f"01 a FIFO with a reader: {rc} {err!r}")
    t0 = time.time()
    rc, out, err = kvwall(*KV, "--output", fifo, timeout=30)
    check(rc == 2 and "no process reads" in err and time.time() - t0 < 10 and stat.S_ISFIFO(os.lstat(fifo).st_mode),
          f"01 a FIFO nobody reads: {rc} {err!r}")
    # symlinks: followed to an existing file (the link stays), a dangling one refused
    target, link = os.path.join(tmp, "target.txt"), os.path.join(tmp, "link.txt")
    with open(target, "w") as f:
        f.write("old\n")
    os.symlink("target.txt", link)
    rc, _, err = kvwall(*KV, "--output", link)
    check(rc == 0 and os.path.islink(link) and "KV cache" in open(target).read(), f"01 a symlink: {rc} {err!r}")
    dangling = os.path.join(tmp, "dangling.txt")
    os.symlink("nowhere.txt", dangling)
    rc, _, err = kvwall(*KV, "--output", dangling)
    check(rc == 2 and "symlink" in err and os.path.islink(dangling) and not os.path.exists(os.path.join(tmp, "nowhere.txt")),
          f"01 a dangling symlink: {rc} {err!r}")
    check(not [n for n in os.listdir(tmp) if n.startswith(".kvwall-")], "01 no temporary file left behind")
    if not can_mount():
        print("01: full and read-only filesystems skipped: cannot mount a tmpfs here")
        return
    # a full filesystem: the old file stays whole, no temporary file, the user's name in the message
    script = ('printf old > "$M/x.txt" && (head -c 1000000 /dev/zero > "$M/fill" 2>/dev/null; true) && '
              '"$1" kv --model llama-3-8b --output "$M/x.txt"; echo "rc=$?"; cat "$M/x.txt"; echo; ls -a "$M"')
    rc, out, err = in_mount("size=16k", script, KVWALL)
    check("rc=2" in out and "\nold\n" in out and ".kvwall-" not in out and "x.txt: No space left" in err
          and no_temp_named(err), f"01 a full filesystem: {out!r} {err!r}")
    rc, out, err = in_mount("size=64k", 'mount -o remount,ro "$M" && "$1" kv --model llama-3-8b --output "$M/x.txt"; '
                            'echo "rc=$?"; ls -a "$M"', KVWALL)
    check("rc=2" in out and "x.txt: Read-only file system" in err and no_temp_named(err),
          f"01 a read-only filesystem: {out!r} {err!r}")


# ---- 2 ------------------------------------------------------------------------

def case_02_umask_and_mode(tmp):
    """a new file honours the umask; a file that exists keeps its mode and owner"""
    new = os.path.join(tmp, "new.txt")
    rc, _, err = kvwall(*KV, "--output", new, umask=0o027)
    check(rc == 0 and mode_of(new) == 0o640, f"02 new file under umask 027: {oct(mode_of(new))} {err!r}")
    shared = os.path.join(tmp, "shared.txt")
    with open(shared, "w") as f:
        f.write("old\n")
    os.chmod(shared, 0o644)
    rc, _, err = kvwall(*KV, "--output", shared, umask=0o077)
    check(rc == 0 and mode_of(shared) == 0o644 and "KV cache" in open(shared).read(),
          f"02 an existing 0644 file under umask 077 stays 0644: {oct(mode_of(shared))}")
    private = os.path.join(tmp, "private.txt")
    with open(private, "w") as f:
        f.write("old\n")
    os.chmod(private, 0o600)
    kvwall(*KV, "--output", private, umask=0o022)
    check(mode_of(private) == 0o600, f"02 an existing 0600 file stays 0600: {oct(mode_of(private))}")
    if os.geteuid() == 0:
        os.chown(shared, 4321, 4321)
        kvwall(*KV, "--output", shared)
        st = os.stat(shared)
        check((st.st_uid, st.st_gid) == (4321, 4321), f"02 the owner is kept: {st.st_uid}:{st.st_gid}")
    # the same for a file under --out and a compare --junit
    d = os.path.join(tmp, "base")
    rc, _, err = kvwall("baseline", "save", d, "--from", os.path.join(ROOT, "tests/baseline/c-kernels/baseline.json"),
                        umask=0o002)
    check(rc == 0 and mode_of(os.path.join(d, "baseline.json")) == 0o664, f"02 baseline.json under umask 002: {err!r}")


# ---- 3 ------------------------------------------------------------------------

def vm_floor():
    """the smallest address-space limit (KiB) a tiny kvwall run starts under"""
    for kib in range(100 << 10, 8 << 20, 50 << 10):
        rc, _, _ = kvwall("sweep", "--model", "llama-3-8b", "--hw", "h100-sxm", "--csv", preexec=limit_as(kib))
        if rc == 0:
            return kib
    raise Skip("kvwall does not start under any memory limit tried")


def limit_as(kib):
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (kib << 10, kib << 10))


def case_03_sweep_out_of_memory(tmp):
    """sweep out of memory is exit 2 with nothing written, to stdout or a file;
    what fits is written whole"""
    if SANITIZED:
        raise Skip("AddressSanitizer reserves its shadow memory: address-space limits mean nothing")
    floor = vm_floor()
    lim = limit_as(floor + (300 << 10))  # about 300 MB more than a tiny run needs
    grid = ["sweep", "--model", "llama-3-8b", "--hw", "h100-sxm", "--ctx-steps", "1000", "--bw-steps", "1000"]
    for fmt, to_file in (("--json", False), ("--csv", True)):
        path = os.path.join(tmp, f"grid{fmt[1:]}")
        rc, out, err = kvwall(*grid, fmt, *(["--output", path] if to_file else []), preexec=lim, timeout=120)
        check(rc == 2 and "out of memory" in err and out == "" and one_line(err) and not os.path.exists(path),
              f"03 {fmt} {'to a file' if to_file else 'to stdout'} under {floor + (300 << 10)} KiB: {rc} "
              f"{len(out)} bytes {err!r}")
    rc, out, err = kvwall(*grid[:5], "--ctx-steps", "200", "--bw-steps", "200", "--json", preexec=lim, timeout=120)
    check(rc == 0 and len(json.loads(out)["rows"]) == 40000, f"03 a grid that fits is whole: {rc} {err!r}")


# ---- 4 ------------------------------------------------------------------------

def case_04_fifo_inputs(tmp):
    """a FIFO (or a device) as an input is refused in one line, never waited on"""
    fifo = os.path.join(tmp, "in.fifo")
    os.mkfifo(fifo)
    prof = os.path.join(DATA, "cpu-profile.json")
    doc_dir = os.path.join(tmp, "validation")
    cases = [
        (["kv", "--config", fifo], "--config"),
        (["crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--profile", fifo], "--profile"),
        (["compare", fifo, prof], "compare BASELINE"),
        (["compare", prof, fifo], "compare CURRENT"),
        (["validate", "--from", fifo], "validate --from"),
        (["baseline", "save", os.path.join(tmp, "b"), "--from", fifo], "baseline save --from"),
        (["probe", "topology", "--topology-xml", fifo], "--topology-xml"),
    ]
    for args, what in cases:
        t0 = time.time()
        rc, out, err = kvwall(*args, timeout=10)
        check(rc == 1 and "FIFO" in err and one_line(err) and time.time() - t0 < 5, f"04 {what}: {rc} {err!r}")
    if os.geteuid() == 0:
        dev = os.path.join(tmp, "tty-like")
        os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: endless
        rc, _, err = kvwall("kv", "--config", dev, timeout=10)
        check(rc == 1 and "character device" in err, f"04 a character device as --config: {rc} {err!r}")
    # a catalog whose model and link entries are FIFOs
    cat = os.path.join(tmp, "catalog")
    shutil.copytree(CATALOG, cat, ignore=shutil.ignore_patterns("traces"))
    os.mkfifo(os.path.join(cat, "models", "evil.json"))
    os.mkfifo(os.path.join(cat, "hardware", "link", "evil-link.json"))
    rc, _, err = kvwall("kv", "--model", "evil", "--catalog", cat, timeout=10)
    check(rc == 1 and "FIFO" in err, f"04 a catalog model that is a FIFO: {rc} {err!r}")
    rc, _, err = kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "evil-link",
                        "--catalog", cat, timeout=10)
    check(rc == 1 and "FIFO" in err, f"04 a catalog link that is a FIFO: {rc} {err!r}")
    # the report's profile.json
    os.makedirs(doc_dir)
    os.mkfifo(os.path.join(doc_dir, "profile.json"))
    rc, _, err = report(doc_dir, timeout=20)
    check(rc == 1 and "not a regular file" in err and one_line(err), f"04 the report's profile.json: {rc} {err!r}")


# ---- 5 ------------------------------------------------------------------------

def gate_files(tmp):
    base = write_json(os.path.join(tmp, "base.json"), profile_doc([rec("hbm", "copy", 3000, 1e-3, 1e-6)]))
    drop = write_json(os.path.join(tmp, "drop.json"), profile_doc([rec("hbm", "copy", 2000, 1.5e-3, 1e-6)]))
    return base, drop


def rec(probe, variant, gbps, median, stddev, status="ok"):
    return {"probe": probe, "variant": variant, "bytes": 1e9, "iterations": 10, "repetitions": 5,
            "time_s": {"min": median, "median": median, "p90": median, "max": median, "stddev": stddev},
            "gbps": gbps, "tflops": None, "verify": {"checked": 1, "wrong": 0}, "status": status,
            "reason": None if status == "ok" else "test"}


def profile_doc(results, links=()):
    return {"schema": "kvwall.profile/1", "label": "made by test_hostile.py", "example": False,
            "host": {"cpu": "Test CPU", "logical_cpus": 2, "gpus": []}, "results": results, "links": list(links)}


def case_05_compare_outputs_whole(tmp):
    """compare writes the table, --output and --junit whole, or none of them"""
    base, drop = gate_files(tmp)
    out_path = os.path.join(tmp, "table.txt")
    rc, out, err = kvwall("compare", base, drop, "--junit", os.path.join(tmp, "missing", "j.xml"), "--output", out_path)
    check(rc == 2 and out == "" and not os.path.exists(out_path) and one_line(err) and "j.xml" in err,
          f"05 --junit into a missing directory: {rc} {out!r} {err!r}")
    rc, out, err = kvwall("compare", base, drop, "--junit", os.path.join(tmp, "missing", "j.xml"))
    check(rc == 2 and out == "", f"05 ... and nothing on stdout either: {rc} {out!r}")
    junit = os.path.join(tmp, "j.xml")
    if os.geteuid() == 0:
        full = os.path.join(tmp, "full")
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        rc, out, err = kvwall("compare", base, drop, "--junit", junit, "--output", full)
        check(rc == 2 and not os.path.exists(junit), f"05 --output full: no --junit either: {rc} {err!r}")
    rc, out, err = kvwall("compare", base, drop, "--junit", junit, "--output", out_path)
    check(rc == 4 and os.path.getsize(junit) > 0 and "regression" in open(out_path).read() and out == "",
          f"05 a regression with both outputs writable: exit 4, both written ({rc} {err!r})")


# ---- 6 ------------------------------------------------------------------------

def gbench(real_time, unit="ns", bps=None, agg="median"):
    b = {"name": "BM_x", "run_name": "BM_x", "run_type": "aggregate", "aggregate_name": agg,
         "real_time": real_time, "time_unit": unit}
    if unit is None:
        del b["time_unit"]
    if bps is not None:
        b["bytes_per_second"] = bps
    return {"context": {"num_cpus": 2}, "benchmarks": [b]}


def case_06_compare_refuses_nonsense(tmp):
    """non-positive or non-finite numbers and unknown time units are refused (exit 1)"""
    good_gb = write_json(os.path.join(tmp, "good_gb.json"), gbench(100))
    good = write_json(os.path.join(tmp, "good.json"), profile_doc([rec("hbm", "copy", 3000, 1e-3, 1e-6)]))
    bad_profiles = {
        "negative GB/s": profile_doc([rec("hbm", "copy", -5, 1e-3, 1e-6)]),
        "zero GB/s": profile_doc([rec("hbm", "copy", 0, 1e-3, 1e-6)]),
        "zero median": profile_doc([rec("hbm", "copy", 3000, 0, 0)]),
        "negative stddev": profile_doc([rec("hbm", "copy", 3000, 1e-3, -1e-6)]),
        "negative link": profile_doc([rec("hbm", "copy", 3000, 1e-3, 1e-6)], [{"name": "l", "bandwidth_GBps": -1}]),
    }
    for what, doc in bad_profiles.items():
        path = write_json(os.path.join(tmp, "bad.json"), doc)
        for args in ((good, path), (path, good)):
            rc, out, err = kvwall("compare", *args)
            check(rc == 1 and one_line(err) and out == "", f"06 profile with {what}: {rc} {err!r}")
    bad_gb = {"real_time 0": gbench(0), "real_time < 0": gbench(-3), "time_unit fortnights": gbench(100, "fortnights"),
              "no time_unit": gbench(100, None), "bytes_per_second < 0": gbench(100, "ns", -1)}
    for what, doc in bad_gb.items():
        path = write_json(os.path.join(tmp, "bad_gb.json"), doc)
        rc, out, err = kvwall("compare", good_gb, path)
        check(rc == 1 and one_line(err) and out == "", f"06 gbench {what}: {rc} {err!r}")
    path = write_json(os.path.join(tmp, "units.json"), gbench(100, "fortnights"))
    _, _, err = kvwall("compare", good_gb, path)
    check("fortnights" in err, f"06 the unknown unit is named: {err!r}")
    # NaN and Infinity are not JSON
    with open(os.path.join(tmp, "nan.json"), "w") as f:
        f.write(json.dumps(profile_doc([rec("hbm", "copy", 3000, 1e-3, 1e-6)])).replace("3000", "NaN"))
    rc, _, err = kvwall("compare", good, os.path.join(tmp, "nan.json"))
    check(rc == 1, f"06 NaN: {rc} {err!r}")


# ---- 7 ------------------------------------------------------------------------

class WrongSums:
    """a kvwall serve look-alike whose checksums are all wrong"""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def serve(c):
        buf = bytearray(1 << 22)

        def take(n):
            view, got = memoryview(buf), 0
            while got < n:
                k = c.recv_into(view[:min(n - got, len(buf))])
                if k == 0:
                    raise EOFError
                got += k
        try:
            while True:
                hdr = bytearray()
                while len(hdr) < 24:
                    chunk = c.recv(24 - len(hdr))
                    if not chunk:
                        return
                    hdr += chunk
                magic, flags, size, _ = struct.unpack("<IIQQ", hdr)
                take(size)
                if flags & 1:
                    c.sendall(struct.pack("<Q", 0xdeadbeef))
        except (EOFError, OSError):
            pass
        finally:
            c.close()


def case_07_failed_records_fit_nothing(tmp):
    """a link measured with wrong checksums is fitted from nothing, and such a
    profile is no baseline"""
    srv = WrongSums()
    out = os.path.join(tmp, "run")
    rc, _, err = kvwall("probe", "tcp", "--peer", f"127.0.0.1:{srv.port}", "--quick", "--no-kv", "--streams", "1",
                        "--out", out, timeout=120)
    prof = json.load(open(os.path.join(out, "profile.json"))) if os.path.exists(os.path.join(out, "profile.json")) else {}
    failed = [r for r in prof.get("results", []) if r["status"] == "failed"]
    check(rc == 3 and failed and "checksum" in failed[0]["reason"], f"07 wrong checksums: exit 3 ({rc} {err[-200:]!r})")
    check(prof.get("links", []) == [], f"07 no link fitted from failed records: {prof.get('links')}")
    rc, _, err = kvwall("baseline", "save", os.path.join(tmp, "b"), "--from", os.path.join(out, "profile.json"))
    check(rc == 1 and "failed" in err and not os.path.exists(os.path.join(tmp, "b")), f"07 refused as a baseline: {rc} {err!r}")
    # a profile from an older kvwall: the fit is there, next to the failed records
    old = dict(prof, links=[{"name": f"tcp_127_0_0_1_{srv.port}_1streams", "class": "network", "alpha_us": 10,
                             "bandwidth_GBps": 5, "points": 4, "fit_r2": 0.99}])
    path = write_json(os.path.join(tmp, "old.json"), old)
    rc, _, err = kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--profile", path, "--link",
                        old["links"][0]["name"])
    check(rc == 1 and "failed measurement" in err, f"07 a fit from failed records is not used: {rc} {err!r}")


# ---- 8 ------------------------------------------------------------------------

def case_08_baseline_save_outputs(tmp):
    """baseline save honours --json and --output"""
    src = os.path.join(ROOT, "tests", "baseline", "c-kernels", "baseline.json")
    d, out_path = os.path.join(tmp, "b"), os.path.join(tmp, "saved.json")
    rc, out, err = kvwall("baseline", "save", d, "--from", src, "--json", "--output", out_path)
    doc = json.load(open(out_path)) if os.path.exists(out_path) else {}
    check(rc == 0 and out == "" and doc.get("schema") == "kvwall.baseline/1"
          and doc.get("baseline") == os.path.join(d, "baseline.json"), f"08 --json --output: {rc} {err!r} {doc}")
    check(json.load(open(os.path.join(d, "baseline.json"))) == json.load(open(src)), "08 baseline.json kept")
    rc, out, err = kvwall("baseline", "save", d, "--from", src, "--json")
    check(rc == 0 and json.loads(out)["n_metrics"] >= 1, f"08 --json to stdout: {rc} {err!r}")
    rc, out, err = kvwall("baseline", "save", os.path.join(tmp, "b2"), "--from", src, "--output",
                          os.path.join(tmp, "missing", "x.json"))
    check(rc == 2 and not os.path.exists(os.path.join(tmp, "b2")), f"08 a bad --output saves nothing: {rc} {err!r}")


# ---- 9 ------------------------------------------------------------------------

def long_dir(tmp, total, letter="d"):
    """a directory whose path is `total` characters long"""
    path = tmp
    while len(path) < total - 1:
        step = letter * min(200, total - len(path) - 1)
        path = os.path.join(path, step)
        os.mkdir(path)
    return path


def case_09_long_paths(tmp):
    """no truncated file names: 'file name too long' (exit 2) before anything
    is written; a long path keeps the message's reason"""
    import make_doc
    doc = write_json(os.path.join(tmp, "doc.json"), make_doc.document(CATALOG))
    deep = long_dir(tmp, 4083)
    out = os.path.join(deep, "o")  # 4085 characters: room for the directory, not for DIR/profile.json
    rc, _, err = kvwall("validate", "--from", doc, "--out", out)
    check(rc == 2 and "file name too long" in err and one_line(err) and not os.path.exists(out),
          f"09 validate --out: {rc} {err!r}")
    rc, _, err = kvwall("probe", "null", "--out", out)
    check(rc == 2 and "file name too long" in err and "running" not in err and not os.path.exists(out),
          f"09 probe --out, before probing: {rc} {err!r}")
    rc, _, err = kvwall("baseline", "save", out, "--from", os.path.join(ROOT, "tests/baseline/c-kernels/baseline.json"))
    check(rc == 2 and "file name too long" in err and not os.path.exists(out), f"09 baseline save: {rc} {err!r}")
    rc, _, err = kvwall(*KV, "--output", os.path.join(long_dir(tmp, 1500, "e"), "missing", "x" * 40))
    check(rc == 2 and "No such file or directory" in err and len(err) < 512, f"09 the reason survives: {err!r}")
    rc, _, err = kvwall(*KV, "--output", os.path.join(tmp, "n" * 300))
    check(rc == 2 and "File name too long" in err and no_temp_named(err), f"09 a name over NAME_MAX: {err!r}")
    name = os.path.join(tmp, "m" * 250)  # fits NAME_MAX; the temporary name must too
    rc, _, err = kvwall(*KV, "--output", name)
    check(rc == 0 and os.path.exists(name), f"09 a 250-character name: {rc} {err!r}")


# ---- 10 -----------------------------------------------------------------------

def case_10_serve_idle_with_silent_client(tmp):
    """serve --idle-timeout stops although a client is connected and silent"""
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    p = subprocess.Popen([KVWALL, "serve", "--port", str(port), "--idle-timeout", "2"], stderr=subprocess.PIPE,
                         text=True, env=ENV)
    client = None
    for _ in range(50):
        try:
            client = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    check(client is not None, "10 connected to kvwall serve")
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hang"
    err = p.stderr.read()
    check(rc == 0 and "silent" in err, f"10 serve stopped: {rc} {err!r}")
    if client:
        client.settimeout(2)
        try:
            closed = client.recv(1) == b""
        except OSError:
            closed = True
        check(closed, "10 the silent client was disconnected")
        client.close()


# ---- 11 -----------------------------------------------------------------------

_TEMPLATE = {}


def results_dir(tmp, name):
    """a small results directory as run_all.sh writes it (made once, copied)"""
    d = os.path.join(tmp, name)
    if tmp not in _TEMPLATE:
        _TEMPLATE[tmp] = make_results(os.path.join(tmp, "template"))
    shutil.copytree(_TEMPLATE[tmp], d)
    return d


def make_results(d):
    os.makedirs(d)
    shutil.copy(os.path.join(DATA, "cpu-profile.json"), os.path.join(d, "profile.json"))
    kvwall("hw", "--json", "--output", os.path.join(d, "hw.json"))
    for lw in ([], ["--layerwise"]):
        kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", *lw, "--json", "--output",
               os.path.join(d, f"crossover-llama-3-8b-ib-ndr{'-layerwise' if lw else ''}.json"))
    kvwall("sweep", "--model", "llama-3-8b", "--hw", "h100-sxm", "--ctx-steps", "4", "--bw-steps", "4", "--csv",
           "--output", os.path.join(d, "sweep-llama-3-8b.csv"))
    return d


def edit_json(path, fn):
    """fn changes the document in place, or returns a list to replace it"""
    doc = json.load(open(path))
    new = fn(doc)
    write_json(path, new if isinstance(new, (list, dict)) else doc)


def report_refuses(d, what, needle=None):
    before = sorted(os.listdir(d))
    rc, out, err = report(d)
    after = sorted(os.listdir(d))
    check(rc == 1 and one_line(err) and err.startswith("reports: ") and "Traceback" not in err
          and (needle is None or needle in err), f"11 {what}: {rc} {err[-300:]!r}")
    check(before == after, f"11 {what}: wrote {set(after) - set(before)}")


def case_11_report_unexpected_shapes(tmp):
    """python3 -m reports: one line 'reports: PATH: problem', exit 1, nothing
    written, for every unexpected shape"""
    good = results_dir(tmp, "good")
    rc, _, err = report(good)
    check(rc == 0, f"11 the untouched directory makes a report: {rc} {err!r}")
    xo = "crossover-llama-3-8b-ib-ndr.json"
    mutations = [
        ("a crossover without model", xo, lambda d: d.pop("model")),
        ("rows: null", xo, lambda d: d.update(rows=None)),
        ("a list-valued profile.json", "profile.json", lambda d: [d]),
        ("a list-valued hw.json", "hw.json", lambda d: [d]),
        ("a link without bandwidth", "profile.json", lambda d: d["links"][0].pop("bandwidth_GBps")),
        ("a result that is a string", "profile.json", lambda d: d["results"].append("x")),
    ]
    for i, (what, name, fn) in enumerate(mutations):
        d = results_dir(tmp, f"m{i}")
        edit_json(os.path.join(d, name), fn)
        report_refuses(d, what, name)
    raw = [
        ("a binary sweep CSV", "sweep-llama-3-8b.csv", b"\x00\xff\xfe binary \x00\x01" * 100),
        ("a non-numeric sweep CSV", "sweep-llama-3-8b.csv",
         b"ctx,bandwidth_gbps,recompute_s,transfer_s,winner\n128,1,abc,0.1,transfer\n"),
        ("100k-deep JSON", "profile.json", b"[" * 100000 + b"]" * 100000),
        ("a profile.json that is not UTF-8", "profile.json", b'{"schema": "\xff"}'),
    ]
    for i, (what, name, data) in enumerate(raw):
        d = results_dir(tmp, f"r{i}")
        for stale in os.listdir(d):  # earlier outputs would hide a partial write
            if stale.endswith((".png", ".html")) or stale in ("verdict.csv", "probes.csv", "links.csv"):
                os.remove(os.path.join(d, stale))
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        report_refuses(d, what, name)
    # a result without a variant is valid for kvwall, so for the report too
    d = results_dir(tmp, "novariant")
    edit_json(os.path.join(d, "profile.json"), lambda doc: doc["results"][0].pop("variant"))
    rc, _, err = report(d)
    check(rc == 0, f"11 a result without variant is accepted, as kvwall does: {rc} {err!r}")
    if not can_mount():
        print("11: read-only directory skipped: cannot mount a read-only tmpfs here")
        return
    src = results_dir(tmp, "ro")
    rc, out, err = in_mount("size=8m", f'cp -a "$1"/. "$M"/ && mount -o remount,ro "$M" && cd "$2" && '
                            f'"$3" -m reports "$M"; echo "rc=$?"; ls "$M"', src, ROOT, sys.executable)
    check("rc=1" in out and "report.html" not in out and one_line(err) and "Read-only file system" in err
          and "Traceback" not in err, f"11 a read-only directory: {out!r} {err!r}")


# ---- 12 -----------------------------------------------------------------------

def stringify(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return [stringify(x) for x in v]
    if isinstance(v, dict):
        return {k: v2 if k == "schema" else stringify(v2) for k, v2 in v.items()}
    return v


def case_12_numbers_as_strings(tmp):
    """a profile or crossover whose numbers are strings: refused by kvwall and
    by the report alike"""
    d = results_dir(tmp, "strings")
    path = os.path.join(d, "profile.json")
    edit_json(path, stringify)
    rc, _, err_k = kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--profile", path)
    check(rc == 1, f"12 kvwall refuses the all-strings profile: {rc} {err_k!r}")
    report_refuses(d, "an all-strings profile", "profile.json")
    d = results_dir(tmp, "strings-xo")
    edit_json(os.path.join(d, "crossover-llama-3-8b-ib-ndr.json"), stringify)
    report_refuses(d, "an all-strings crossover", "crossover-llama-3-8b-ib-ndr.json")
    d = results_dir(tmp, "one-string")
    edit_json(os.path.join(d, "profile.json"), lambda doc: doc["links"][0].update(bandwidth_GBps="5"))
    rc, _, err_k = kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--link", "ib-ndr", "--profile",
                          os.path.join(d, "profile.json"))
    check(rc == 1, f"12 kvwall refuses a bandwidth given as a string: {rc} {err_k!r}")
    report_refuses(d, "a bandwidth given as a string", "bandwidth_GBps")


# ---- 13 -----------------------------------------------------------------------

def case_13_unknown_link_names_profile_links(tmp):
    """an unknown --link lists the profile's links and the nearest name;
    validate's missing-link message is reachable"""
    prof = os.path.join(DATA, "cpu-profile.json")
    links = [l["name"] for l in json.load(open(prof))["links"]]
    typo = links[0][:-1]
    rc, _, err = kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--profile", prof, "--link", typo)
    check(rc == 1 and all(l in err for l in links) and f"did you mean '{links[0]}'" in err and "ib-ndr" in err,
          f"13 a typo of a profile link: {err!r}")
    import make_doc
    doc = make_doc.document(CATALOG)
    doc["models"][0]["transfers"][0]["profile_link"] = "no_such_link"
    rc, _, err = kvwall("validate", "--from", write_json(os.path.join(tmp, "doc.json"), doc))
    check(rc == 1 and "the profile has no link 'no_such_link'" in err, f"13 validate, a link the profile lacks: {err!r}")
    doc = make_doc.document(CATALOG)
    doc["models"][0]["transfers"][0]["profile_link"] = "ib-ndr"  # a catalog link, not the profile's
    rc, _, err = kvwall("validate", "--from", write_json(os.path.join(tmp, "doc2.json"), doc))
    check(rc == 1 and "the profile has no link 'ib-ndr'" in err, f"13 validate, a catalog link: {err!r}")


# ---- 14 -----------------------------------------------------------------------

def case_14_profile_invalid_parts(tmp):
    """invalid parts of a profile are refused, naming the field"""
    base = json.load(open(os.path.join(DATA, "example-profile.json")))
    cases = [
        ("hbm.copy_GBps", lambda d: d["hbm"].update(copy_GBps=-3000)),
        ("hbm.copy_GBps", lambda d: d["hbm"].update(copy_GBps="3000")),
        ("hbm", lambda d: d.update(hbm=[1, 2])),
        ("interference", lambda d: d["interference"].update(copy_slowdown=0.5)),
        ("kv_messages[0].modes", lambda d: d["kv_messages"][0].update(modes="x")),
        ("host", lambda d: d.update(host="a string")),
        ("example", lambda d: d.update(example="no")),
        ("gbps", lambda d: d["results"][0].update(gbps=-1)),
    ]
    for field, fn in cases:
        doc = json.loads(json.dumps(base))
        fn(doc)
        path = write_json(os.path.join(tmp, "p.json"), doc)
        rc, out, err = kvwall("crossover", "--model", "llama-3-8b", "--hw", "h100-sxm", "--profile", path, "--link",
                              "ib-ndr")
        check(rc == 1 and field in err and one_line(err) and out == "", f"14 {field}: {rc} {err!r}")


# ---- 15 -----------------------------------------------------------------------

def case_15_probe_checks_inputs_first(tmp):
    """probe refuses a bad --model, --config, --bind, --out or --output before
    it measures anything"""
    afile = os.path.join(tmp, "afile")
    open(afile, "w").close()
    cases = [
        (["--model", "no-such-model"], 1), (["--config", os.path.join(tmp, "missing.json")], 1),
        (["--bind", "300.1.1.1"], 1), (["--bind", "localhost"], 1), (["--out", os.path.join(afile, "sub")], 2),
        (["--output", os.path.join(tmp, "missing", "x.txt")], 2), (["--peer", "nonsense"], 1),
    ]
    for extra, code in cases:
        t0 = time.time()
        rc, out, err = kvwall("probe", "host_memcpy", "tcp", *extra)
        check(rc == code and "running" not in err and one_line(err) and time.time() - t0 < 5,
              f"15 probe {' '.join(extra)}: {rc} {err!r}")
    check(not os.path.exists(os.path.join(tmp, "missing")), "15 nothing created for a refused run")


# ---- 16 -----------------------------------------------------------------------

def case_16_ctx_beyond_window(tmp):
    """--ctx beyond max_position_embeddings gets a note (kv, crossover, split)"""
    hw = ["--hw", "h100-sxm", "--link", "ib-ndr"]
    for cmd, extra in (("kv", []), ("crossover", hw), ("split", hw)):
        rc, out, err = kvwall(cmd, "--model", "llama-3-8b", *extra, "--ctx", "131072", "--json")
        notes = json.loads(out)["notes"] if rc == 0 else []
        check(any("max_position_embeddings = 8192" in n for n in notes), f"16 {cmd} at 131072 tokens: {rc} {err!r}")
        rc, out, err = kvwall(cmd, "--model", "llama-3-8b", *extra, "--ctx", "8192", "--json")
        notes = json.loads(out)["notes"] if rc == 0 else ["?"]
        check(not any("beyond" in n and "max_position_embeddings" in n for n in notes),
              f"16 {cmd} inside the window: no beyond-the-window note")


CASES = [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("case_")]


def main():
    wanted = ARGS[1:]
    chosen = [(n, f) for n, f in CASES if not wanted or any(n == f"case_{w}" or n.startswith(f"case_{w}_")
                                                          or n.startswith(f"case_{int(w):02d}_") if w.isdigit()
                                                          else n == f"case_{w}" for w in wanted)]
    if not chosen:
        print(f"no case matches {wanted}; cases: {', '.join(n[5:] for n, _ in CASES)}", file=sys.stderr)
        return 1
    skipped = 0
    for name, fn in chosen:
        before = check.failed
        t0 = time.time()
        with tempfile.TemporaryDirectory(prefix=f"kvw-{name[5:7]}-") as tmp:
            try:
                fn(tmp)
                state = "ok" if check.failed == before else "FAILED"
            except Skip as e:
                skipped += 1
                state = f"skipped: {e}"
            except Exception as e:  # an output the case could not read: that case fails, the others run
                check(False, f"{name[5:]}: {type(e).__name__}: {e}")
                state = "FAILED"
        print(f"{name[5:]:<44} {state} ({time.time() - t0:.1f} s)")
    rc = check.done()
    return 77 if rc == 0 and skipped == len(chosen) else rc


if __name__ == "__main__":
    sys.exit(main())
