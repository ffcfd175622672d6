#!/usr/bin/env python3
"""The layering check passes on the tree and fails on each planted violation.

usage: test_check_layers.py   (run from anywhere; copies the tree to a temp dir)
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(ROOT, "scripts", "check_layers.py")
FAILS = 0


def run(root):
    p = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(name, ok, detail=""):
    global FAILS
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    FAILS += not ok


def copy_tree(dst):
    for d in ("bench", "model", "netprobe", "kernels"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(dst, d), ignore=shutil.ignore_patterns("catalog"))
    shutil.copy(os.path.join(ROOT, "CMakeLists.txt"), dst)


def plant(root, rel, text, where="top"):
    path = os.path.join(root, rel)
    with open(path) as f:
        body = f.read()
    with open(path, "w") as f:
        f.write(text + "\n" + body if where == "top" else body + "\n" + text + "\n")


# (what, file, planted text, where, words the one-line message must hold)
CASES = [
    ("probe includes a command header", "netprobe/tcp.c", '#include "scenario.h"', "top",
     ["netprobe/tcp.c:1", "bench/cli/scenario.h", "commands", "not below probes"]),
    ("harness includes a probe header", "bench/harness/record.c", '#include "tcp.h"', "top",
     ["bench/harness/record.c:1", "netprobe/tcp.h", "probes"]),
    ("harness includes a kernels header", "bench/harness/host.c", '#include "kvw_gpu.h"', "top",
     ["kernels/kvw_gpu.h", "kernels"]),
    ("physics includes a reader", "model/physics/kv.c", '#include "kvw_config.h"', "top",
     ["model/physics/kv.c:1", "model/readers/kvw_config.h", "readers"]),
    ("physics includes the harness", "model/physics/flops.c", '#include "probe.h"', "top",
     ["bench/harness/probe.h", "harness"]),
    ("kernels include the harness", "kernels/gemm.c", '#include "out.h"', "top", ["kernels/gemm.c:1", "harness"]),
    ("readers need CUDA", "model/readers/config.c", "#include <cuda_runtime.h>", "top",
     ["model/readers/config.c:1", "<cuda_runtime.h>", "must not need CUDA"]),
    ("physics needs MPI", "model/physics/solve.c", "#include <mpi.h>", "top", ["<mpi.h>"]),
    ("readers need hwloc", "model/readers/hwspec.c", "#include <hwloc.h>", "top", ["<hwloc.h>"]),
    ("physics parses JSON", "model/physics/timing.c", "#include <jansson.h>", "top", ["<jansson.h>", "no I/O"]),
    ("physics opens a file", "model/physics/decode.c",
     "static void kvw_leak(void) { (void)fopen(\"x\", \"r\"); }", "bottom", ["fopen()", "model/physics"]),
    ("a source outside every layer", None, None, None, ["bench/newdir/x.c", "belongs to no layer"]),
    ("model library links MPI", "CMakeLists.txt", "target_link_libraries(kvwall_model PUBLIC MPI::MPI_C)", "bottom",
     ["kvwall_model links MPI::MPI_C"]),
]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        clean = os.path.join(tmp, "clean")
        os.mkdir(clean)
        copy_tree(clean)
        rc, out = run(clean)
        expect("the tree as committed passes", rc == 0, out)
        for what, rel, text, where, words in CASES:
            root = os.path.join(tmp, what.replace(" ", "_"))
            os.mkdir(root)
            copy_tree(root)
            if rel is None:
                os.makedirs(os.path.join(root, "bench", "newdir"))
                with open(os.path.join(root, "bench", "newdir", "x.c"), "w") as f:
                    f.write("int x;\n")
            else:
                plant(root, rel, text, where)
            rc, out = run(root)
            missing = [w for w in words if w not in out]
            expect(f"fails: {what}", rc == 1 and not missing, f"rc {rc}, missing {missing}: {out.strip()}")
        # a comment or a string that mentions fopen( is not a call
        root = os.path.join(tmp, "comment")
        os.mkdir(root)
        copy_tree(root)
        plant(root, "model/physics/kv.c", '/* fopen(path) is what readers do */\nstatic const char *kvw_s = "printf(";',
              "bottom")
        rc, out = run(root)
        expect("a comment or string mentioning fopen( passes", rc == 0, out)
    print(f"{FAILS} failure(s)")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
