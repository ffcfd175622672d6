#!/usr/bin/env bash
# run_all.sh — the one command on a new node: install what is missing,
# build, measure what this node has, run the model, write the report.
#
#   results/<host>-<UTC time>/
#     profile.json     every probe's records (kvwall.profile/1); skipped ones say why
#     hw.json          the catalog spec sheets used for comparison
#     crossover-<model>-<link>[-layerwise].json, sweep-<model>.csv
#     plan.json        kvwall plan: the deployment for 8 GPUs on the conversation trace
#     run.json         how this run was made
#     report.html      the decision report (self-contained), with its PNGs and CSVs
#
# Without a GPU the compute side comes from the --hw spec sheet and the
# links from the catalog plus whatever was measured here (TCP loopback);
# every number in the report says whether it was measured or a spec sheet.
set -euo pipefail
cd "$(dirname "$0")"

models="llama-3-8b,llama-3-70b,deepseek-v3,llama-2-7b,mixtral-8x7b"
links="pcie-gen5-x16,ib-ndr,roce-200,eth-100"
hw=""
ctx=8192
max_ctx=1048576
quick=""
probes=1
launcher=""
outdir=""
validate=0

usage() {
  cat <<EOF
usage: ./run_all.sh [--quick] [--models a,b,...] [--links a,b,...] [--hw NAME]
                    [--ctx N] [--max-ctx N] [--no-probes] [--validate] [--launcher CMD]
                    [--out DIR]

  --quick      short probe runs (about a minute on one GPU node)
  --models     catalog models (kvwall models)            [$models]
  --links      catalog links (kvwall hw); links measured here are added
                                                        [$links]
  --hw         GPU spec sheet for compute and HBM        [the GPU found, else h100-sxm]
  --ctx        context for the verdict and B*            [$ctx]
  --max-ctx    upper end of the crossover search         [$max_ctx]
  --no-probes  model on spec sheets only, measure nothing
  --validate   also check the model against the real thing on this GPU
               (kvwall validate; --quick: prompts up to 32k tokens); the
               report gets a model-check section
  --launcher   run the probes one process per GPU under MPI, e.g.
               --launcher "mpirun -np 16 --map-by ppr:8:node" or
               --launcher "srun -N 2 --ntasks-per-node=8"; rank 0 writes one
               merged cluster profile (tcp and nccl run between ranks 0 and 1)
  --out        results directory                         [results/<host>-<UTC time>]

Exit codes: 0 ok, 1 usage, 2 a build or system failure, 3 a probe verified
data wrong, 4 --validate found a prediction off its target (the report is
still written and shows it).

Multi-node: --launcher as above (the build directory must be visible on
every node, as on a shared file system).
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=--quick; shift ;;
    --models) models=${2:?--models needs a value}; shift 2 ;;
    --links) links=${2:?--links needs a value}; shift 2 ;;
    --hw) hw=${2:?--hw needs a value}; shift 2 ;;
    --ctx) ctx=${2:?--ctx needs a value}; shift 2 ;;
    --max-ctx) max_ctx=${2:?--max-ctx needs a value}; shift 2 ;;
    --no-probes) probes=0; shift ;;
    --validate) validate=1; shift ;;
    --launcher) launcher=${2:?--launcher needs a value}; shift 2 ;;
    --out) outdir=${2:?--out needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown option '$1' (see --help)" >&2; exit 1 ;;
  esac
done

t0=$(date +%s)
step() { echo "[run_all +$(( $(date +%s) - t0 ))s] $*" >&2; }

step "1/6 dependencies"
scripts/deps.sh build
scripts/deps.sh report

step "2/6 build (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log >&2; exit 2; }
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >>build.log 2>&1 || { tail -30 build.log >&2; exit 2; }
grep -A10 "kvwall .* configuration" build.log >&2 || true
kvwall=./build/kvwall

step "3/6 hardware"
gpu_name=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  step "  GPU: $gpu_name ($(nvidia-smi -L | wc -l) on this node)"
fi
if [ -z "$hw" ]; then
  case "$gpu_name" in
    *GH200*) hw=gh200 ;;
    *H200*) hw=h200 ;;
    *H100*PCIe*) hw=h100-pcie ;;
    *H100*) hw=h100-sxm ;;
    *B200*) hw=b200 ;;
    *A100*) hw=a100-sxm ;;
    "") hw=h100-sxm; step "  no GPU here: compute and HBM come from the $hw SPEC SHEET (--hw to change)" ;;
    *) hw=h100-sxm; step "  no catalog sheet matches '$gpu_name': using $hw (--hw to change)" ;;
  esac
fi
"$kvwall" hw --json >/dev/null  # the catalog parses
mode="spec sheet $hw for compute; links: catalog spec sheets"

host=$(hostname -s 2>/dev/null || echo host)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$outdir" ] || outdir="results/${host}-${stamp}"
tmpdir="${outdir}.partial"
rm -rf "$tmpdir"
mkdir -p "$tmpdir"
trap 'rm -rf "$tmpdir"' EXIT
"$kvwall" hw --json --output "$tmpdir/hw.json"

probe_rc=0
profile_args=()
if [ "$probes" -eq 1 ]; then
  if [ -n "$quick" ]; then est="target: a minute on one GPU node"; else est="several minutes on a GPU node"; fi
  step "4/6 probes${quick:+ (quick)}: every probe that applies, the others recorded as skipped ($est)"
  # shellcheck disable=SC2086  # the launcher is a command line, split on purpose
  $launcher "$kvwall" probe $quick --out "$tmpdir" >"$tmpdir/probes.txt" || probe_rc=$?
  case $probe_rc in
    0) ;;
    3) step "  a probe verified data WRONG: see the report" ;;
    *) step "  some probes failed (exit $probe_rc): see the report" ;;
  esac
  [ -f "$tmpdir/profile.json" ] || { echo "run_all.sh: the probes wrote no profile" >&2; exit 2; }
  profile_args=(--profile "$tmpdir/profile.json")
  measured=$(python3 -c "import json,sys; print(','.join(l['name'] for l in json.load(open(sys.argv[1])).get('links', [])))" \
             "$tmpdir/profile.json")
  [ -n "$measured" ] && links="$links,$measured" && mode="$mode + measured here: $measured"
else
  step "4/6 probes: skipped (--no-probes)"
fi

validate_rc=0
if [ "$validate" -eq 1 ] && [ -z "$gpu_name" ]; then
  step "  validate: skipped, no GPU on this node"
elif [ "$validate" -eq 1 ]; then
  step "  validate${quick:+ (quick)}: recompute vs layer-by-layer transfer measured, then predicted (minutes)"
  "$kvwall" validate $quick --out "$tmpdir" >"$tmpdir/validate.txt" || validate_rc=$?
  case $validate_rc in
    0) step "  validate: every prediction within its target" ;;
    4) step "  validate: the model MISSED its target somewhere: see the report" ;;
    *) step "  validate failed (exit $validate_rc): see $outdir/validate.txt" ;;
  esac
fi

IFS=, read -r -a model_list <<<"$models"
IFS=, read -r -a link_list <<<"$links"
total=$(( ${#model_list[@]} * ${#link_list[@]} ))
step "5/6 model: $total (model, link) pairs, bulk and layer-wise, plus a context x bandwidth sweep per model"
n=0
t5=$(date +%s)
for m in "${model_list[@]}"; do
  for l in "${link_list[@]}"; do
    n=$((n + 1))
    for lw in "" --layerwise; do
      "$kvwall" crossover --model "$m" --hw "$hw" --link "$l" "${profile_args[@]}" --ctx "$ctx" \
        --max-ctx "$max_ctx" $lw --json --output "$tmpdir/crossover-$m-$l${lw:+-layerwise}.json"
    done
    if [ $((n % 5)) -eq 0 ] || [ "$n" -eq "$total" ]; then
      el=$(( $(date +%s) - t5 ))
      step "  [$n/$total] $m over $l; about $(( el * (total - n) / n ))s left"
    fi
  done
  "$kvwall" sweep --model "$m" --hw "$hw" "${profile_args[@]}" --ctx-steps 24 --bw-steps 24 --bw-min 0.1 \
    --bw-max 2000 --csv --output "$tmpdir/sweep-$m.csv"
done

# ---- kvwall plan: the default deployment plan (issue 14) --------------------
# The bundled Mooncake conversation trace on 8 GPUs of this node's kind (its
# measured profile when the probes ran, else the --hw spec sheet), for the
# first model of --models; --quick replays its first 2000 requests.  A model
# that cannot run on 8 GPUs is skipped with the reason.  plan.json feeds the
# report's plan section.
plan_model=${model_list[0]}
plan_args=(--model "$plan_model" --hw "$hw" "${profile_args[@]}" --trace mooncake-conversation --gpus 8)
[ -n "$quick" ] && plan_args+=(--max-requests 2000)
step "  plan: $plan_model on 8 x $hw over the mooncake-conversation trace (every deployment searched)"
plan_rc=0
"$kvwall" plan "${plan_args[@]}" --json --output "$tmpdir/plan.json" 2>"$tmpdir/plan.err" || plan_rc=$?
if [ "$plan_rc" -eq 0 ]; then
  python3 -c 'import json, sys; print("  plan:", json.load(open(sys.argv[1]))["answer"])' "$tmpdir/plan.json" >&2
  rm -f "$tmpdir/plan.err"
else
  step "  plan: none written (exit $plan_rc): $(tail -1 "$tmpdir/plan.err")"
fi
# ---- end of kvwall plan -----------------------------------------------------

python3 - "$tmpdir/run.json" "$hw" "$mode" "$stamp" "$*" "$($kvwall --version)" <<'EOF'
import json, sys
path, hw, mode, stamp, args, version = sys.argv[1:]
json.dump({"hw": hw, "mode": mode, "started_utc": stamp, "command": ("./run_all.sh " + args).strip(),
           "version": version}, open(path, "w"), indent=2)
EOF

step "6/6 report"
python3 -m reports "$tmpdir" >/dev/null
echo "kvwall verdicts at $ctx tokens ($mode)"
python3 -m reports.verdict "$tmpdir"
rm -rf "$outdir"
mv "$tmpdir" "$outdir"
trap - EXIT
step "done in $(( $(date +%s) - t0 ))s: $outdir/report.html"
[ "$probe_rc" -eq 3 ] && exit 3
[ "$validate_rc" -eq 4 ] && exit 4
exit 0
