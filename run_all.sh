#!/usr/bin/env bash
# run_all.sh — the one command on a new node: install what is missing,
# build, and answer "transfer or recompute?" for the default models.
#
# Today it runs the analytic model on catalog spec sheets (no probe is
# built yet: the GPU and network probes come with their issues) and says
# so on every line.  Output: results/<host>-<UTC time>/ with one
# crossover JSON per (model, link) and verdict.csv, plus a table on stdout.
set -euo pipefail
cd "$(dirname "$0")"

models="llama-3-8b,llama-3-70b,deepseek-v3,llama-2-7b,mixtral-8x7b"
links="pcie-gen5-x16,ib-ndr,roce-200,eth-100"
hw="h100-sxm"
ctx=8192
max_ctx=1048576
outdir=""

usage() {
  cat <<EOF
usage: ./run_all.sh [--models a,b,...] [--links a,b,...] [--hw NAME] [--ctx N] [--max-ctx N] [--out DIR]

  --models   catalog models (kvwall models)        [$models]
  --links    catalog links (kvwall hw)             [$links]
  --hw       GPU spec sheet for compute and HBM    [$hw]
  --ctx      context for B* and the verdict        [$ctx]
  --max-ctx  upper end of the crossover search     [$max_ctx]
  --out      results directory                     [results/<host>-<UTC time>]

Multi-node runs will launch through MPI (mpirun -np N / srun) once the
network probes exist; this version runs on one node.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --models) models=${2:?--models needs a value}; shift 2 ;;
    --links) links=${2:?--links needs a value}; shift 2 ;;
    --hw) hw=${2:?--hw needs a value}; shift 2 ;;
    --ctx) ctx=${2:?--ctx needs a value}; shift 2 ;;
    --max-ctx) max_ctx=${2:?--max-ctx needs a value}; shift 2 ;;
    --out) outdir=${2:?--out needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown option '$1' (see --help)" >&2; exit 1 ;;
  esac
done

step() { echo "[run_all $(date -u +%H:%M:%S)] $*" >&2; }

step "1/4 dependencies"
scripts/deps.sh build

step "2/4 build (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log >&2; exit 2; }
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >>build.log 2>&1 || { tail -30 build.log >&2; exit 2; }
grep -A10 "kvwall .* configuration" build.log >&2 || true
kvwall=./build/kvwall

step "3/4 hardware"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  step "GPU found: $(nvidia-smi -L | head -1); probes are not built yet, so numbers below are SPEC SHEET, not measured"
else
  step "no GPU here: numbers below are SPEC SHEET values for $hw (catalog), not measurements"
fi

host=$(hostname -s 2>/dev/null || echo host)
[ -n "$outdir" ] || outdir="results/${host}-$(date -u +%Y%m%dT%H%M%SZ)"
tmpdir="${outdir}.partial"
rm -rf "$tmpdir"
mkdir -p "$tmpdir"
trap 'rm -rf "$tmpdir"' EXIT

IFS=, read -r -a model_list <<<"$models"
IFS=, read -r -a link_list <<<"$links"
total=$(( ${#model_list[@]} * ${#link_list[@]} ))
step "4/4 model: $total (model, link) pairs on spec sheet $hw"
n=0
for m in "${model_list[@]}"; do
  for l in "${link_list[@]}"; do
    n=$((n + 1))
    step "  [$n/$total] $m over $l"
    "$kvwall" crossover --model "$m" --hw "$hw" --link "$l" --ctx "$ctx" --max-ctx "$max_ctx" \
      --json --output "$tmpdir/crossover-$m-$l.json"
  done
done

echo "kvwall verdicts at $ctx tokens: SPEC SHEET $hw (no measured profile yet)"
python3 -m reports.verdict "$tmpdir"
rm -rf "$outdir"
mv "$tmpdir" "$outdir"
trap - EXIT
step "done: $outdir"
