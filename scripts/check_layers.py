#!/usr/bin/env python3
"""check_layers.py — the include rules of kvwall's layers, checked.

The layers, bottom to top (DESIGN.md, "Pipeline"; README, "Layout"):

  physics   model/physics    per-request arithmetic
  sim       model/sim        the cluster simulation
  readers   model/readers    readers of config.json, spec sheets, traces
  kernels   kernels          CUDA behind plain C headers
  harness   bench/harness    probe interface, records, profile, statistics, MPI
  probes    bench/probes     compute probes and the probe registry
            netprobe         transfer paths
  commands  bench/cli        the kvwall commands

A file may include headers of its own layer and of the layers listed as
its ALLOWED ones (all below it); anything else is an upward (or sideways)
include and fails.  model/ must not need CUDA, MPI, hwloc, NCCL or verbs;
model/physics and model/sim must also do no I/O (no jansson, no files,
no printing).  Every C/C++/CUDA source under the product folders must
belong to a layer, so a new folder gets a place here deliberately.  The
CMake libraries of model/ must link nothing beyond libm, jansson and zlib.

In the spirit of Chromium's DEPS include rules (checkdeps) and the Linux
kernel's scripts/checkincludes.pl: a table of rules and a plain scan of
#include lines, no compiler needed.

usage: check_layers.py [ROOT]     exit 0 clean, 1 violations (one line each)
"""
import os
import re
import sys

# name, folders, layers it may include besides itself
LAYERS = [
    ("physics", ["model/physics"], []),
    ("sim", ["model/sim"], ["physics"]),
    ("readers", ["model/readers"], ["physics", "sim"]),
    ("kernels", ["kernels"], ["physics"]),
    ("harness", ["bench/harness"], ["physics", "sim", "readers"]),
    ("probes", ["bench/probes", "netprobe"], ["physics", "sim", "readers", "kernels", "harness"]),
    ("commands", ["bench/cli"], ["physics", "sim", "readers", "kernels", "harness", "probes"]),
]

# system headers model/ may not need (prefixes of the <...> name)
HARDWARE_HEADERS = ("cuda", "cublas", "cudnn", "curand", "cufile", "nccl", "nvml", "mpi", "hwloc",
                    "infiniband/", "rdma/", "liburing", "benchmark/")
MODEL_LAYERS = {"physics", "sim", "readers"}
PURE_LAYERS = {"physics", "sim"}
PURE_FORBIDDEN_HEADERS = ("jansson.h", "dirent.h", "fcntl.h", "sys/socket.h", "sys/stat.h", "unistd.h")
IO_CALLS = re.compile(r"(?<![\w.>])(fopen|fdopen|freopen|fread|fwrite|fprintf|printf|vprintf|vfprintf|puts|fputs|"
                      r"fputc|putchar|fgets|getline|open|openat|creat|read|write|pread|pwrite|socket|connect|"
                      r"opendir|mmap|json_load\w*|json_dump\w*)\s*\(")
SOURCES = (".c", ".h", ".cc", ".cu", ".cuh", ".cpp", ".hpp")
MODEL_LIBS = ("kvwall_physics", "kvwall_sim", "kvwall_model")
MODEL_LINK_OK = {"PUBLIC", "PRIVATE", "INTERFACE", "m", "PkgConfig::JANSSON", "ZLIB::ZLIB"} | set(MODEL_LIBS)

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(rel):
    for name, dirs, _ in LAYERS:
        for d in dirs:
            if rel == d or rel.startswith(d + "/"):
                return name
    return None


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)


def sources(root):
    for _, dirs, _ in LAYERS:
        for d in dirs:
            top = os.path.join(root, d)
            for base, _, files in os.walk(top):
                for f in sorted(files):
                    if f.endswith(SOURCES):
                        yield os.path.relpath(os.path.join(base, f), root).replace(os.sep, "/")


def header_index(root, files):
    index = {}
    for rel in files:
        if rel.endswith((".h", ".cuh", ".hpp")):
            index.setdefault(os.path.basename(rel), []).append(rel)
    return index


def resolve(root, rel, name, index):
    """The project file an #include "name" means, or None for a system/external one."""
    here = os.path.normpath(os.path.join(os.path.dirname(rel), name)).replace(os.sep, "/")
    if os.path.isfile(os.path.join(root, here)):
        return here
    hits = index.get(os.path.basename(name), [])
    hits = [h for h in hits if h.endswith(name)]
    if len(hits) > 1:
        return ("ambiguous", hits)
    return hits[0] if hits else None


def check_file(root, rel, index, allowed, problems):
    layer = layer_of(rel)
    with open(os.path.join(root, rel), errors="replace") as f:
        text = f.read()
    for no, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        if layer in MODEL_LAYERS and name.startswith(HARDWARE_HEADERS):
            problems.append(f"{rel}:{no}: model/ includes <{name}>: the model must not need CUDA, MPI, hwloc, "
                            "NCCL or verbs")
        if layer in PURE_LAYERS and name in PURE_FORBIDDEN_HEADERS:
            problems.append(f"{rel}:{no}: {layer} includes <{name}>: model/{layer} does no I/O "
                            "(readers belong in model/readers)")
        if kind == "<":
            continue
        target = resolve(root, rel, name, index)
        if isinstance(target, tuple):
            problems.append(f"{rel}:{no}: \"{name}\" is ambiguous: {', '.join(target[1])}")
            continue
        if target is None:
            continue
        tl = layer_of(target)
        if tl is None or tl == layer or tl in allowed[layer]:
            continue
        problems.append(f"{rel}:{no}: includes {target} ({tl}), which is not below {layer} "
                        f"(it may include: {', '.join(allowed[layer] + [layer])})")
    if layer in PURE_LAYERS:
        code = strip_comments(text)
        for no, line in enumerate(code.splitlines(), 1):
            m = IO_CALLS.search(line)
            if m:
                problems.append(f"{rel}:{no}: {m.group(1)}() in model/{layer}: the physics and the simulation "
                                "do no I/O")


def check_cmake(root, problems):
    path = os.path.join(root, "CMakeLists.txt")
    if not os.path.isfile(path):
        return
    with open(path) as f:
        text = f.read()
    for m in re.finditer(r"target_link_libraries\(\s*(\S+)([^)]*)\)", text):
        lib, args = m.group(1), m.group(2).split()
        if lib not in MODEL_LIBS:
            continue
        no = text.count("\n", 0, m.start()) + 1
        for a in args:
            if a not in MODEL_LINK_OK:
                problems.append(f"CMakeLists.txt:{no}: {lib} links {a}: model/ links only libm, jansson and zlib")


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    allowed = {name: below for name, _, below in LAYERS}
    files = list(sources(root))
    index = header_index(root, files)
    problems = []
    for top in ("bench", "model", "netprobe", "kernels"):
        for base, _, names in os.walk(os.path.join(root, top)):
            for f in names:
                rel = os.path.relpath(os.path.join(base, f), root).replace(os.sep, "/")
                if f.endswith(SOURCES) and layer_of(rel) is None:
                    problems.append(f"{rel}: belongs to no layer (give its folder a place in "
                                    "scripts/check_layers.py)")
    for rel in files:
        check_file(root, rel, index, allowed, problems)
    check_cmake(root, problems)
    for p in problems:
        print(f"check_layers: {p}", file=sys.stderr)
    if problems:
        print(f"check_layers: {len(problems)} violation(s)", file=sys.stderr)
        return 1
    print(f"check_layers: {len(files)} files in {len(LAYERS)} layers, every include points down")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
