#!/usr/bin/env bash
# run.sh — the whole test suite, from a fresh checkout (README: "Tests").
#   1. installs what is missing (scripts/deps.sh test), then checks the
#      layering rules (scripts/check_layers.py; ctest runs its own test)
#   2. the cuDNN frontend headers (scripts/cudnn_prep.sh, PyPI), then a
#      Release build with gcc, -Werror; prints the benchmarks (not tests:
#      sweep, prefix cache, storage next to fio, planner)
#   3. unit, CLI golden, bad-input, hostile-input and gate tests (ctest)
#      and a quick end-to-end run_all.sh into build/run_all-smoke
#   4. a minimal build with every optional library switched off (CUDA,
#      ibverbs, hwloc, MPI, liburing): it builds, and its probes say why they skip
#   5. the same under clang with AddressSanitizer + UndefinedBehaviorSanitizer
#      (without the cuDNN shim), plus the libFuzzer targets for
#      KVW_FUZZ_SECONDS each
# Every stage runs, whatever failed before it (a stage whose build failed is
# reported as not run); the summary at the end lists each stage with its
# result and time, and the exit status is 1 when any stage failed.
# GPU tests skip with a reason where there is no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

declare -a names=() results=() times=()
failed=0

# stage NAME NEEDS CMD...: runs CMD unless the stage NEEDS (a name, or -)
# failed or did not run; records ok / FAILED (exit N) / not run
stage() {
  local name=$1 needs=$2
  shift 2
  if [ "$needs" != - ] && [ "$(result_of "$needs")" != ok ]; then
    names+=("$name") results+=("not run ($needs did not pass)") times+=(0)
    echo "== $name: not run, $needs did not pass" >&2
    return
  fi
  echo "== $name" >&2
  local t0=$SECONDS rc=0
  "$@" || rc=$?
  names+=("$name") times+=($((SECONDS - t0)))
  if [ $rc -eq 0 ]; then
    results+=(ok)
  else
    results+=("FAILED (exit $rc)")
    failed=1
    echo "== $name: FAILED (exit $rc)" >&2
  fi
}

result_of() {
  local i
  for i in "${!names[@]}"; do
    [ "${names[$i]}" = "$1" ] && { echo "${results[$i]}"; return; }
  done
  echo "not run"
}

configure_release() {
  mkdir -p build
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKVW_WERROR=ON >build/configure.log 2>&1 \
    || { cat build/configure.log >&2; return 1; }
  grep -A12 "kvwall .* configuration" build/configure.log
}

smoke() {
  rm -rf build/run_all-smoke
  ./run_all.sh --quick --models llama-3-8b,deepseek-v3 --links ib-ndr --out build/run_all-smoke >/dev/null || return
  local f
  for f in report.html verdict.csv profile.json run.json plan.json cache.json; do
    [ -s "build/run_all-smoke/$f" ] || { echo "run_all.sh smoke: no $f" >&2; return 1; }
  done
  echo "run_all.sh smoke: report written" >&2
}

configure_min() {
  cmake -S . -B build-min -DCMAKE_BUILD_TYPE=Release -DKVW_WERROR=ON -DKVW_WITH_CUDA=OFF -DKVW_WITH_IBVERBS=OFF \
    -DKVW_WITH_HWLOC=OFF -DKVW_WITH_MPI=OFF -DKVW_WITH_LIBURING=OFF >/dev/null
}

configure_asan() {
  # Debug (assertions on) at -O1, as AddressSanitizer's documentation
  # advises for reasonable speed: at -O0 the planner's tests took 4+ minutes
  CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
    -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DKVW_WERROR=ON -DKVW_WITH_CUDNN=OFF \
    -DKVW_SANITIZE=ON -DKVW_FUZZ=ON -DKVW_FUZZ_SECONDS="${KVW_FUZZ_SECONDS:-30}" >/dev/null
}

cudnn_headers() {
  scripts/cudnn_prep.sh || echo "run.sh: no cuDNN frontend headers: the build goes on without the shim" >&2
}

benchmarks() {
  ./build/bench_sweep && ./build/bench_cache && ./build/bench_plan ./build/kvwall || return
  python3 tests/perf/bench_storage.py ./build/kvwall /var/tmp --size 256MiB --rounds 1 --fio-seconds 1 \
    || echo "bench_storage: failed (see cli.storage)" >&2
}

stage "dependencies (scripts/deps.sh test)" - scripts/deps.sh test
stage "layering (scripts/check_layers.py)" - python3 scripts/check_layers.py
stage "cuDNN frontend headers (scripts/cudnn_prep.sh)" - cudnn_headers
stage "Release configure" - configure_release
stage "Release build (gcc, -Werror)" "Release configure" cmake --build build -j "$jobs"
stage "benchmarks (informational)" "Release build (gcc, -Werror)" benchmarks
stage "tests, Release" "Release build (gcc, -Werror)" ctest --test-dir build --output-on-failure
stage "run_all.sh end to end" "Release build (gcc, -Werror)" smoke
stage "minimal configure (no CUDA, ibverbs, hwloc, MPI, liburing)" - configure_min
stage "minimal build" "minimal configure (no CUDA, ibverbs, hwloc, MPI, liburing)" cmake --build build-min -j "$jobs"
stage "tests, minimal build" "minimal build" ctest --test-dir build-min --output-on-failure -L "unit|cli|gpu"
stage "ASan + UBSan configure (clang)" - configure_asan
stage "ASan + UBSan build" "ASan + UBSan configure (clang)" cmake --build build-asan -j "$jobs"
# no timing test runs under the sanitizers (gate, tcp_shaped and MPI are
# Release only), so their tests may share the cores
stage "tests and fuzzers, ASan + UBSan" "ASan + UBSan build" ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo >&2
echo "== summary" >&2
for i in "${!names[@]}"; do
  printf '  %-52s %-28s %5ss\n' "${names[$i]}" "${results[$i]}" "${times[$i]}" >&2
done
if [ $failed -ne 0 ]; then
  echo "tests/run.sh: FAILED (see the stages above)" >&2
  exit 1
fi
echo "tests/run.sh: every stage passed" >&2
