#!/usr/bin/env bash
# deps.sh — make sure what kvwall needs is installed.
#   scripts/deps.sh build   compiler, CMake, jansson, zlib, Google Benchmark, Python
#   scripts/deps.sh report  matplotlib for the python3 on PATH (Debian's package
#                           for /usr/bin/python3, else pip)
#   scripts/deps.sh test    build + report + clang and its sanitizer/libFuzzer runtime,
#                           iproute2 and iperf3 for the network ground-truth test,
#                           chromium to open the report headless, Open MPI for
#                           the 2-rank run, liburing (the storage probe's io_uring
#                           engine; optional: without it the probe reads with
#                           threads) and fio for the storage benchmark
# As root with apt-get it installs what is missing; otherwise it prints the
# exact command to run and exits 1.  Optional hardware libraries (CUDA,
# NCCL, ibverbs, hwloc, MPI) are never required: CMake switches them on
# when present.
set -euo pipefail

group=${1:-build}
build_pkgs=(cmake make gcc g++ pkg-config libjansson-dev zlib1g-dev libbenchmark-dev python3)
test_pkgs=("${build_pkgs[@]}" clang libclang-rt-dev iproute2 iperf3 chromium libopenmpi-dev openmpi-bin
           libibverbs-dev perftest libhwloc-dev liburing-dev fio)
root=0
[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && root=1

# matplotlib for whichever python3 runs the report
need_matplotlib() {
  python3 -c 'import matplotlib' 2>/dev/null && return 0
  if [ "$(command -v python3)" = /usr/bin/python3 ]; then
    if [ $root -eq 1 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null
    else
      echo "deps.sh: run:  sudo apt-get install -y python3-matplotlib" >&2; return 1
    fi
  elif ! python3 -m pip install --quiet matplotlib >/dev/null 2>&1; then
    echo "deps.sh: run:  python3 -m pip install matplotlib" >&2; return 1
  fi
}

case "$group" in
  build) want=("${build_pkgs[@]}") ;;
  report) want=(python3) ;;
  test) want=("${test_pkgs[@]}") ;;
  *) echo "deps.sh: unknown group '$group' (build, report, test)" >&2; exit 1 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian/Ubuntu system; make sure these are installed: ${want[*]}" >&2
  case "$group" in report|test) need_matplotlib ;; esac
  exit 0
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ $root -eq 1 ]; then
    echo "deps.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps.sh: missing packages; run:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
case "$group" in
  report|test) need_matplotlib ;;
esac
exit 0
