#!/usr/bin/env bash
# cudnn_prep.sh — the headers the cuDNN attention shim is built from, into
# the ignored folder .deps/cudnn (CMake's KVW_CUDNN_ROOT), from PyPI by name:
#   include/         the cuDNN frontend (header-only C++): nvidia-cudnn-frontend
#   cudnn-include/   cudnn.h and its parts, with --with-cudnn-headers, from
#                    the nvidia-cudnn-cu13 wheel: for a machine whose CUDA
#                    toolkit has libcudnn (e.g. from a Python wheel) but no
#                    cudnn.h, such as the lent GPU nodes (scripts/gpu_check.sh
#                    carries this folder there).  The version is the oldest
#                    CUDA 13 build, so any cuDNN 9 runtime there is as new.
# Nothing is fetched at run time: the folder is made once, here.
#   scripts/cudnn_prep.sh [--with-cudnn-headers] [--force]
# Exit 0 when the folder holds what was asked for, 1 when pip cannot get it.
set -euo pipefail
cd "$(dirname "$0")/.."

FRONTEND_VERSION=1.32.0
CUDNN_HEADERS_VERSION=9.12.0.46
dest=.deps/cudnn
with_cudnn=0 force=0
for a in "$@"; do
  case "$a" in
    --with-cudnn-headers) with_cudnn=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "cudnn_prep.sh: unknown option '$a'" >&2; exit 1 ;;
  esac
done

# unzip one wheel's matching members into a folder, flattened under it
extract() { # wheel pattern strip dest
  python3 - "$@" <<'EOF'
import os, sys, zipfile
wheel, prefix, dest = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
with zipfile.ZipFile(wheel) as z:
    for m in z.namelist():
        if m.startswith(prefix) and not m.endswith("/") and m.endswith((".h", ".hpp")):
            out = os.path.join(dest, m[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(m) as src, open(out, "wb") as f:
                f.write(src.read())
            n += 1
if n == 0:
    sys.exit(f"cudnn_prep.sh: no headers under {prefix} in {wheel}")
print(f"cudnn_prep.sh: {n} headers from {os.path.basename(wheel)} -> {dest}", file=sys.stderr)
EOF
}

fetch() { # package==version wheel-dir
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$2" "$1" >&2
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dest"
if [ $force -eq 1 ] || [ ! -f "$dest/include/cudnn_frontend.h" ] \
   || ! grep -q "MINOR_VERSION $(echo $FRONTEND_VERSION | cut -d. -f2)\$" "$dest/include/cudnn_frontend_version.h" 2>/dev/null; then
  fetch "nvidia-cudnn-frontend==$FRONTEND_VERSION" "$tmp" \
    || { echo "cudnn_prep.sh: pip cannot download nvidia-cudnn-frontend==$FRONTEND_VERSION" >&2; exit 1; }
  rm -rf "$dest/include"
  extract "$tmp"/nvidia_cudnn_frontend-*.whl include/ "$dest/include"
fi
if [ $with_cudnn -eq 1 ] && { [ $force -eq 1 ] || [ ! -f "$dest/cudnn-include/cudnn.h" ]; }; then
  fetch "nvidia-cudnn-cu13==$CUDNN_HEADERS_VERSION" "$tmp" \
    || { echo "cudnn_prep.sh: pip cannot download nvidia-cudnn-cu13==$CUDNN_HEADERS_VERSION" >&2; exit 1; }
  rm -rf "$dest/cudnn-include"
  extract "$tmp"/nvidia_cudnn_cu13-*.whl nvidia/cudnn/include/ "$dest/cudnn-include"
fi
echo "cudnn_prep.sh: $dest ready (frontend $FRONTEND_VERSION$([ -f "$dest/cudnn-include/cudnn.h" ] && echo ", cudnn.h $CUDNN_HEADERS_VERSION"))" >&2
