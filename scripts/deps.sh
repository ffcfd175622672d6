#!/usr/bin/env bash
# deps.sh — make sure what kvwall needs is installed.
#   scripts/deps.sh build   compiler, CMake, jansson, Python
#   scripts/deps.sh test    build + clang and its sanitizer/libFuzzer runtime,
#                           iproute2 and iperf3 for the network ground-truth test
# As root with apt-get it installs what is missing; otherwise it prints the
# exact command to run and exits 1.  Optional hardware libraries (CUDA,
# NCCL, ibverbs, hwloc, MPI) are never required: CMake switches them on
# when present.
set -euo pipefail

group=${1:-build}
build_pkgs=(cmake make gcc g++ pkg-config libjansson-dev libbenchmark-dev python3)
test_pkgs=("${build_pkgs[@]}" clang libclang-rt-dev iproute2 iperf3)
case "$group" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${test_pkgs[@]}") ;;
  *) echo "deps.sh: unknown group '$group' (build, test)" >&2; exit 1 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian/Ubuntu system; make sure these are installed: ${want[*]}" >&2
  exit 0
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "deps.sh: missing packages; run:  sudo apt-get install -y ${missing[*]}" >&2
exit 1
