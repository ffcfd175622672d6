#!/usr/bin/env python3
"""kvwall probe storage on small files: what it records, and every refusal.

- a 16 MiB run on a disk directory: every record ok and verified (bytes
  checked, none wrong), the storage links fitted (class "storage"), the
  directory left as it was; the profile's link serves `kvwall crossover
  --link` and becomes `kvwall cache`'s SSD tier;
- tmpfs (/dev/shm): the records say the file is in memory (O_DIRECT
  refused, or accepted but still memory);
- refusals before any file is made (exit 1, one line, no profile): a size
  bigger than the filesystem, more than half the free space (a full
  filesystem), below 16 MiB, not a size; a missing directory;
- a read-only filesystem (exit 2) and a full one, as root on small tmpfs
  mounts (skipped with a reason elsewhere);
- a wrong byte in the file fails its records (exit 3), a file that shrinks
  while being read fails the probe (exit 2): the probe's test hook
  KVWALL_STORAGE_FAULT=corrupt|shrink; neither leaves a file behind.

usage: test_storage.py KVWALL
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from checks import Checks  # noqa: E402

KVWALL = sys.argv[1]
check = Checks("test_storage")
SMALL = ["--storage-size", "16MiB", "--model", "llama-3-8b"]


def probe(*args, env=None):
    out = tempfile.mkdtemp()
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([KVWALL, "probe", "storage", *args, "--out", out], capture_output=True, text=True, env=e)
    path = os.path.join(out, "profile.json")
    prof = json.load(open(path)) if os.path.exists(path) else None
    return p.returncode, p.stderr, prof


def leftovers(d):
    return glob.glob(os.path.join(d, "kvwall-storage-*"))


def test_disk():
    d = tempfile.mkdtemp(dir="/var/tmp" if os.access("/var/tmp", os.W_OK) else None)
    rc, err, prof = probe("--storage-dir", d, *SMALL)
    check(rc == 0, f"probe storage on {d}: exit {rc}: {err.strip().splitlines()[-1:]}")
    check(not leftovers(d) and os.listdir(d) == [], f"files left in {d}: {os.listdir(d)}")
    if not prof:
        return None
    recs = [r for r in prof["results"] if r["probe"] == "storage"]
    ok = [r for r in recs if r["status"] == "ok"]
    check(len(ok) >= 15, f"{len(ok)} ok storage records")
    check(all(r["verify"]["checked"] >= r["bytes"] > 0 and r["verify"]["wrong"] == 0 for r in ok),
          "every ok record verified every byte of a batch")
    check(all(r["gbps"] > 0 for r in ok), "bandwidths")
    skipped = [r for r in recs if r["status"] == "skipped"]
    check(len(skipped) == 1 and "cufile" in skipped[0]["variant"] and skipped[0]["reason"], "cuFile skip with reason")
    links = [l for l in prof["links"] if l["class"] == "storage"]
    check(len(links) == 2 and all(l["bandwidth_GBps"] > 0 and l["alpha_us"] >= 0 for l in links), f"links {links}")
    st = prof["storage"]
    check(st["engine"] in ("io_uring", "pread-threads") and st["file_bytes"] == 16 * 2**20, f"storage section {st}")
    path = os.path.join(d, "profile.json")
    with open(path, "w") as f:
        json.dump(prof, f)
    name = links[0]["name"]
    p = subprocess.run([KVWALL, "crossover", "--model", "llama-3-8b", "--tflops", "400", "--profile", path,
                        "--link", name, "--json"], capture_output=True, text=True)
    check(p.returncode == 0 and json.loads(p.stdout)["link"] == name, f"crossover --link {name}: {p.stderr}")
    p = subprocess.run([KVWALL, "cache", "--model", "llama-3-8b", "--tflops", "400", "--profile", path, "--hbm",
                        "20GB", "--ssd", "1TB", "--points", "0", "--max-requests", "500", "--json"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and any(name in n for n in json.loads(p.stdout)["notes"]),
          f"cache takes the SSD tier from the profile's {name}: {p.stderr}")
    os.unlink(path)
    os.rmdir(d)


def test_tmpfs():
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        print("test_storage: no writable /dev/shm: tmpfs case skipped")
        return
    d = tempfile.mkdtemp(dir="/dev/shm")
    rc, err, prof = probe("--storage-dir", d, *SMALL)
    check(rc == 0, f"tmpfs: exit {rc}: {err.strip()[-200:]}")
    if prof:
        ok = [r for r in prof["results"] if r["probe"] == "storage" and r["status"] == "ok"]
        check(ok and all("tmpfs" in r["variant"] and "memory" in (r["reason"] or "") for r in ok),
              "tmpfs records say the file is in memory")
        check(prof["storage"]["fallback"], "the storage section says so too")
    check(not os.listdir(d), "nothing left on tmpfs")
    os.rmdir(d)


def refused(args, code, words):
    rc, err, prof = probe(*args)
    lines = err.strip().splitlines()
    check(rc == code, f"{args}: exit {rc}, want {code}")
    check(len(lines) == 1 and all(w in err for w in words), f"{args}: stderr {err!r} should name {words}")
    check(prof is None, f"{args}: a profile was written")


def test_refusals():
    refused(["--storage-size", "10PB"], 1, ["larger than the filesystem"])
    refused(["--storage-size", "1MiB"], 1, ["at least 16 MiB"])
    refused(["--storage-size", "lots"], 1, ["not a size"])
    refused(["--storage-size", "-3GB"], 1, ["--storage-size"])
    refused(["--storage-dir", "/nonexistent/dir"], 1, ["/nonexistent/dir"])
    refused(["--storage-dir", "/etc/hostname"], 1, ["not a directory"])


def mount_tmpfs(opts):
    d = tempfile.mkdtemp()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "kvwall-test", d], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(d)
        return None
    return d


def umount(d):
    subprocess.run(["umount", d], capture_output=True)
    os.rmdir(d)


def test_mounts():
    if os.geteuid() != 0:
        print("test_storage: not root: read-only and full filesystem cases skipped")
        return
    d = mount_tmpfs("ro,size=64m")
    if d is None:
        print("test_storage: cannot mount tmpfs here: read-only and full filesystem cases skipped")
        return
    try:
        rc, err, prof = probe("--storage-dir", d, *SMALL)
        check(rc == 2, f"read-only: exit {rc}")
        check("Read-only file system" in err and "cannot create" in err, f"read-only: {err.strip()}")
    finally:
        umount(d)
    d = mount_tmpfs("size=24m")
    try:
        with open(os.path.join(d, "filler"), "wb") as f:
            f.write(b"\0" * (20 << 20))
        refused(["--storage-dir", d, *SMALL], 1, ["free", "more than half", "never fills a disk"])
    finally:
        umount(d)


def test_faults():
    d = tempfile.mkdtemp(dir="/var/tmp" if os.access("/var/tmp", os.W_OK) else None)
    rc, err, prof = probe("--storage-dir", d, *SMALL, env={"KVWALL_STORAGE_FAULT": "corrupt"})
    check(rc == 3, f"a corrupt byte: exit {rc}")
    bad = [r for r in (prof or {}).get("results", []) if r["status"] == "failed" and r["verify"]["wrong"] > 0]
    check(bad and all("read back wrong" in r["reason"] for r in bad), "the records that read the byte fail")
    rc, err, prof = probe("--storage-dir", d, *SMALL, env={"KVWALL_STORAGE_FAULT": "shrink"})
    check(rc == 2 and "shrank while being read" in err, f"a shrinking file: exit {rc}: {err.strip()[-300:]}")
    check(not os.listdir(d), f"files left: {os.listdir(d)}")
    os.rmdir(d)


def main():
    test_refusals()
    test_disk()
    test_tmpfs()
    test_mounts()
    test_faults()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
