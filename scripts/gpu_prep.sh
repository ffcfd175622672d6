#!/usr/bin/env bash
# gpu_prep.sh — makes the ignored folder .deps/ that scripts/gpu_check.sh
# needs on a bare lent GPU node, where nothing can be downloaded.  Run it
# here (it downloads by package name from PyPI and Debian), then carry
# .deps with the device call.
#   .deps/cudnn   the cuDNN frontend headers and cudnn.h (scripts/cudnn_prep.sh
#                 --with-cudnn-headers): the node has libcudnn.so.9 (PyTorch's
#                 wheel) but no headers
#   .deps/debs    the build's required libraries as Debian packages (apt-get
#                 download), unpacked there with dpkg -x: jansson, Google
#                 Benchmark, zlib headers, pkg-config
# About 4 MB.  Exit 0 when the folder is complete.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=(libjansson-dev libjansson4 libbenchmark-dev libbenchmark1debian zlib1g-dev zlib1g pkgconf pkgconf-bin
      libpkgconf3)

scripts/cudnn_prep.sh --with-cudnn-headers
mkdir -p .deps/debs
missing=()
for p in "${debs[@]}"; do
  ls .deps/debs/"${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "gpu_prep.sh: needs apt-get to download ${missing[*]}" >&2; exit 1; }
  (cd .deps/debs && apt-get download "${missing[@]}" 2>&1 | grep -v "unsandboxed" >&2) || true
  for p in "${missing[@]}"; do
    ls .deps/debs/"${p}"_*.deb >/dev/null 2>&1 || { echo "gpu_prep.sh: apt-get could not download $p (apt-get update first?)" >&2; exit 1; }
  done
fi
echo "gpu_prep.sh: .deps ready ($(du -sh .deps | cut -f1)); carry '.deps' with the device call" >&2
