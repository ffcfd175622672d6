#!/usr/bin/env bash
# run_all.sh — the one command on a new node: install what is missing,
# build, measure what this node has, run the model for the deployment,
# write the report.
#
#   results/<host>-<UTC time>/
#     profile.json     every probe's records (kvwall.profile/1); skipped ones say why
#     hw.json          the catalog spec sheets used for comparison
#     deployments.json the deployments modelled: model x TP x KV dtype x block size
#     crossover-<deployment>-<link>-{handoff,prefix}.json, sweep-<deployment>.csv
#     cache.json       kvwall cache: the prefix cache study (hit rates, TTFT, per-tier decisions)
#     plan.json        kvwall plan: the deployment for 8 GPUs on the conversation trace
#     run.json         how this run was made
#     report.html      the decision report (self-contained), with its PNGs and CSVs
#
# The deployment comes from the command line (--models, --config, --tp,
# --kv-dtype, --message-tokens, --layerwise/--no-layerwise) or from a JSON
# file (--deployment FILE; scripts/deployment.py gives the format); a model
# without a TP gets the smallest TP that fits the GPU (kvwall --tp auto).
#
# Without a GPU the compute side comes from the --hw spec sheet and the
# links from the catalog (at their cited achieved fraction) plus whatever
# was measured here; TCP over loopback is measured but left out of the
# verdicts (it is not a network path) unless --include-loopback.  Every
# number in the report says whether it was measured or a spec sheet.
set -euo pipefail
cd "$(dirname "$0")"

default_models="llama-3-8b,llama-3-70b,deepseek-v3,llama-2-7b,mixtral-8x7b"
models=""
configs=()
tp=""
kv_dtype=bf16
message_tokens=0
layerwise=1
deployment=""
include_loopback=0
links="pcie-gen5-x16,ib-ndr,roce-200,eth-100"
hw=""
ctx=""
max_ctx=""
quick=""
probes=1
launcher=""
outdir=""
validate=0

usage() {
  cat <<EOF
usage: ./run_all.sh [--quick] [--models a,b,...] [--config PATH]... [--tp SPEC] [--kv-dtype D]
                    [--message-tokens N] [--layerwise | --no-layerwise] [--deployment FILE]
                    [--links a,b,...] [--include-loopback] [--hw NAME] [--ctx N] [--max-ctx N]
                    [--no-probes] [--validate] [--launcher CMD] [--out DIR]

The deployment the report answers for:
  --models     catalog models (kvwall models)            [$default_models]
  --config     a Hugging Face config.json; repeatable, alongside --models
  --tp         tensor parallelism: N, auto, or MODEL=N,... (others auto)
               [auto: the smallest TP whose weights and one --ctx request
               fit the --hw GPU at vLLM's 0.9 memory utilisation]
  --kv-dtype   KV cache dtype: bf16, fp16, fp8, int4; vLLM's auto, fp8_e4m3,
               fp8_e5m2                                   [$kv_dtype]
  --message-tokens N  the engine sends the KV as one message per layer x
               N-token block (vLLM's --block-size is 16); 0: packed [$message_tokens]
  --layerwise | --no-layerwise  the handoff after a prefill goes layer by
               layer, overlapped with the prefill, or after it  [--layerwise]
  --deployment FILE  JSON: models x TP x KV dtype x block size, instead of
               the flags above (format: scripts/deployment.py)

  --quick      short probe runs (about a minute on one GPU node)
  --links      catalog links (kvwall hw); links measured here are added
                                                        [$links]
  --include-loopback  keep TCP over loopback (measured here) in the verdicts;
               it is not a network path and is left out by default
  --hw         GPU spec sheet for compute, HBM and memory [the GPU found, else h100-sxm]
  --ctx        context of the verdict and B*             [8192, cut to each model's window]
  --max-ctx    upper end of the crossover search         [each model's window]
  --no-probes  model on spec sheets only, measure nothing
  --validate   also check the model against the real thing on this GPU
               (kvwall validate; --quick: prompts up to 32k tokens); the
               report gets a model-check section
  --launcher   run the probes one process per GPU under MPI, e.g.
               --launcher "mpirun -np 16 --map-by ppr:8:node" or
               --launcher "srun -N 2 --ntasks-per-node=8"; rank 0 writes one
               merged cluster profile (tcp and nccl run between ranks 0 and 1)
  --out        results directory                         [results/<host>-<UTC time>]

Exit codes: 0 ok, 1 usage or a bad deployment, 2 a build or system failure,
3 a probe verified data wrong, 4 --validate found a prediction off its
target (the report is still written and shows it).

Multi-node: --launcher as above (the build directory must be visible on
every node, as on a shared file system).
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=--quick; shift ;;
    --models) models=${2:?--models needs a value}; shift 2 ;;
    --config) configs+=("${2:?--config needs a value}"); shift 2 ;;
    --tp) tp=${2:?--tp needs a value}; shift 2 ;;
    --kv-dtype) kv_dtype=${2:?--kv-dtype needs a value}; shift 2 ;;
    --message-tokens) message_tokens=${2:?--message-tokens needs a value}; shift 2 ;;
    --layerwise) layerwise=1; shift ;;
    --no-layerwise) layerwise=0; shift ;;
    --deployment) deployment=${2:?--deployment needs a value}; shift 2 ;;
    --links) links=${2:?--links needs a value}; shift 2 ;;
    --include-loopback) include_loopback=1; shift ;;
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

# the deployment's flags, checked before anything is built or measured
if [ -n "$deployment" ] && { [ -n "$models" ] || [ ${#configs[@]} -gt 0 ] || [ -n "$tp" ]; }; then
  echo "run_all.sh: --deployment FILE names the models and TPs: drop --models, --config and --tp" >&2
  exit 1
fi
if [ -n "$deployment" ] && [ ! -f "$deployment" ]; then
  echo "run_all.sh: --deployment: $deployment is not a file" >&2; exit 1
fi
for c in ${configs[@]+"${configs[@]}"}; do
  [ -f "$c" ] || { echo "run_all.sh: --config: $c is not a file" >&2; exit 1; }
done
case "$message_tokens" in
  ''|*[!0-9]*) echo "run_all.sh: --message-tokens: '$message_tokens' is not a whole number" >&2; exit 1 ;;
esac
[ -z "$models" ] && [ ${#configs[@]} -eq 0 ] && models=$default_models

t0=$(date +%s)
step() { echo "[run_all +$(( $(date +%s) - t0 ))s] $*" >&2; }

step "1/6 dependencies"
scripts/deps.sh build
scripts/deps.sh report

step "2/6 build (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log >&2; exit 2; }
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >>build.log 2>&1 || { tail -30 build.log >&2; exit 2; }
grep -A10 "kvwall .* configuration" build.log >&2 || true
kvwall=$PWD/build/kvwall

step "3/6 hardware and deployment"
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
    "") hw=h100-sxm; step "  no GPU here: compute, HBM and memory come from the $hw SPEC SHEET (--hw to change)" ;;
    *) hw=h100-sxm; step "  no catalog sheet matches '$gpu_name': using $hw (--hw to change)" ;;
  esac
fi
"$kvwall" hw --json >/dev/null  # the catalog parses
mode="spec sheet $hw for compute; links: catalog spec sheets at their achieved fraction"

host=$(hostname -s 2>/dev/null || echo host)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$outdir" ] || outdir="results/${host}-${stamp}"
tmpdir="${outdir}.partial"
rm -rf "$tmpdir"
mkdir -p "$tmpdir"
trap 'rm -rf "$tmpdir"' EXIT
(cd "$tmpdir" && "$kvwall" hw --json --output hw.json)

# models x TP x KV dtype x block size, each TP chosen or checked against the GPU's memory
dep_args=(--kvwall "$kvwall" --hw "$hw" --out "$tmpdir/deployments.json")
[ -n "$ctx" ] && dep_args+=(--ctx "$ctx")
if [ -n "$deployment" ]; then
  dep_args+=(--file "$deployment")
else
  dep_args+=(--models "$models" --tp "$tp" --kv-dtype "$kv_dtype" --message-tokens "$message_tokens"
             --layerwise "$layerwise")
  for c in ${configs[@]+"${configs[@]}"}; do dep_args+=(--config "$c"); done
fi
dep_rc=0
dep_lines=$(python3 scripts/deployment.py "${dep_args[@]}") || dep_rc=$?
[ "$dep_rc" -eq 0 ] || exit "$dep_rc"
python3 - "$tmpdir/deployments.json" >&2 <<'PY'
import json, sys
for d in json.load(open(sys.argv[1])):
    block = f"{d['block_tokens']}-token blocks" if d["block_tokens"] else "packed"
    flag = "" if d["fits"] is not False else \
        f"  -- DOES NOT FIT (smallest TP that fits: {d['smallest_tp_that_fits'] or 'none'})"
    print(f"  deployment: {d['model']} TP {d['tp']} ({d['tp_choice']}), {d['kv_dtype']} KV, {block}, "
          f"{'layer-wise' if d['layerwise'] else 'bulk'} handoff{flag}")
PY

probe_rc=0
profile_args=()
if [ "$probes" -eq 1 ]; then
  if [ -n "$quick" ]; then est="target: a minute on one GPU node"; else est="several minutes on a GPU node"; fi
  step "4/6 probes${quick:+ (quick)}: every probe that applies, the others recorded as skipped ($est)"
  # run inside the results directory, so that what the profile records (its
  # command and paths) still holds once the directory is renamed into place
  # shellcheck disable=SC2086  # the launcher is a command line, split on purpose
  (cd "$tmpdir" && $launcher "$kvwall" probe $quick --out . >probes.txt) || probe_rc=$?
  case $probe_rc in
    0) ;;
    3) step "  a probe verified data WRONG: see the report" ;;
    *) step "  some probes failed (exit $probe_rc): see the report" ;;
  esac
  [ -f "$tmpdir/profile.json" ] || { echo "run_all.sh: the probes wrote no profile" >&2; exit 2; }
  profile_args=(--profile profile.json)
  read -r measured loopback < <(python3 - "$tmpdir/profile.json" "$include_loopback" <<'PY'
import json, sys
names = [l["name"] for l in json.load(open(sys.argv[1])).get("links", [])]
loop = [n for n in names if n.startswith("tcp_loopback")]
keep = [n for n in names if sys.argv[2] == "1" or n not in loop]
print(",".join(keep) or "-", ",".join(loop) or "-")
PY
)
  [ "$measured" != "-" ] && links="$links,$measured" && mode="$mode + measured here: $measured"
  if [ "$loopback" != "-" ] && [ "$include_loopback" -eq 0 ]; then
    step "  left out of the verdicts: $loopback (loopback, not a network path; --include-loopback keeps it)"
  fi
else
  step "4/6 probes: skipped (--no-probes)"
fi

validate_rc=0
if [ "$validate" -eq 1 ] && [ -z "$gpu_name" ]; then
  step "  validate: skipped, no GPU on this node"
elif [ "$validate" -eq 1 ]; then
  step "  validate${quick:+ (quick)}: recompute vs layer-by-layer transfer measured, then predicted (minutes)"
  # shellcheck disable=SC2086
  (cd "$tmpdir" && "$kvwall" validate $quick --out . >validate.txt) || validate_rc=$?
  case $validate_rc in
    0) step "  validate: every prediction within its target" ;;
    4) step "  validate: the model MISSED its target somewhere: see the report" ;;
    *) step "  validate failed (exit $validate_rc): see $outdir/validate.txt" ;;
  esac
fi

IFS=, read -r -a link_list <<<"$links"
mapfile -t dep_list <<<"$dep_lines"
total=$(( ${#dep_list[@]} * ${#link_list[@]} ))
step "5/6 model: $total (deployment, link) pairs, each as a handoff after a prefill and as a stored prefix fetched, plus a context x bandwidth sweep per deployment"
n=0
t5=$(date +%s)
common=(--hw "$hw" ${profile_args[@]+"${profile_args[@]}"})
[ -n "$ctx" ] && common+=(--ctx "$ctx")
[ -n "$max_ctx" ] && common+=(--max-ctx "$max_ctx")
for line in "${dep_list[@]}"; do
  IFS=$'\t' read -r slug mflag mval dtp dkv dblock dlw <<<"$line"
  dep=("$mflag" "$mval" --tp "$dtp" --kv-dtype "$dkv" --message-tokens "$dblock")
  handoff=(--scenario handoff)
  [ "$dlw" -eq 1 ] && handoff+=(--layerwise)
  for l in "${link_list[@]}"; do
    n=$((n + 1))
    # a storage link (SSD, file system) is where a prefix is stored, not a
    # path a handoff takes: it gets the prefix-fetch scenario only
    (cd "$tmpdir" \
      && "$kvwall" crossover "${dep[@]}" --link "$l" "${common[@]}" --scenario prefix-fetch --json \
           --output "crossover-$slug-$l-prefix.json" \
      && { grep -q '"link_kind": "storage"' "crossover-$slug-$l-prefix.json" \
           || "$kvwall" crossover "${dep[@]}" --link "$l" "${common[@]}" "${handoff[@]}" --json \
                --output "crossover-$slug-$l-handoff.json"; })
    if [ $((n % 5)) -eq 0 ] || [ "$n" -eq "$total" ]; then
      el=$(( $(date +%s) - t5 ))
      step "  [$n/$total] $slug over $l; about $(( el * (total - n) / n ))s left"
    fi
  done
  sweep=(--hw "$hw" ${profile_args[@]+"${profile_args[@]}"} --ctx-steps 24 --bw-steps 24 --bw-min 0.1 --bw-max 2000)
  [ -n "$max_ctx" ] && sweep+=(--max-ctx "$max_ctx")
  (cd "$tmpdir" && "$kvwall" sweep "${dep[@]}" "${sweep[@]}" --csv --output "sweep-$slug.csv")
done

# the prefix cache study for the first deployment: the bundled conversation
# trace through HBM, DRAM and SSD (the SSD tier is the storage probe's fit
# when it ran)
IFS=$'\t' read -r _ cmflag cmval ctp ckv _ _ <<<"${dep_list[0]}"
cache_args=(--points 10)
[ -n "$quick" ] && cache_args=(--points 4 --max-requests 4000)
step "  prefix cache: mooncake-conversation through HBM, 512 GB DRAM and 4 TB SSD per node for $cmval at TP $ctp (kvwall cache)"
# (run inside the results directory, as the model step: --profile profile.json is relative)
if ! (cd "$tmpdir" && "$kvwall" cache "$cmflag" "$cmval" --tp "$ctp" --kv-dtype "$ckv" --hw "$hw" \
    ${profile_args[@]+"${profile_args[@]}"} --dram 512GB --ssd 4TB "${cache_args[@]}" --json --output cache.json \
    2>cache.txt); then
  step "  kvwall cache failed: $(tail -1 "$tmpdir/cache.txt")"
else
  rm -f "$tmpdir/cache.txt"
fi

# ---- kvwall plan: the default deployment plan (issue 14) --------------------
# The bundled Mooncake conversation trace on 8 GPUs of this node's kind (its
# measured profile when the probes ran, else the --hw spec sheet), for the
# first deployment's model (plan searches TP itself); --quick replays its
# first 2000 requests.  A model that cannot run on 8 GPUs is skipped with
# the reason.  plan.json feeds the report's plan section.
plan_model=$cmval
plan_args=("$cmflag" "$cmval" --kv-dtype "$ckv" --hw "$hw" ${profile_args[@]+"${profile_args[@]}"}
           --trace mooncake-conversation --gpus 8)
[ -n "$quick" ] && plan_args+=(--max-requests 2000)
step "  plan: $plan_model on 8 x $hw over the mooncake-conversation trace (every deployment searched)"
plan_rc=0
(cd "$tmpdir" && "$kvwall" plan "${plan_args[@]}" --json --output plan.json 2>plan.err) || plan_rc=$?
if [ "$plan_rc" -eq 0 ]; then
  python3 -c 'import json, sys; print("  plan:", json.load(open(sys.argv[1]))["answer"])' "$tmpdir/plan.json" >&2
  rm -f "$tmpdir/plan.err"
else
  step "  plan: none written (exit $plan_rc): $(tail -1 "$tmpdir/plan.err")"
fi
# ---- end of kvwall plan -----------------------------------------------------


python3 - "$tmpdir" "$hw" "$mode" "$stamp" "$*" "$("$kvwall" --version | tr '\n' ' ')" "$include_loopback" \
  "$links" "$ctx" <<'PY'
import json, os, sys
d, hw, mode, stamp, args, version, loop, links, ctx = sys.argv[1:]
deps = json.load(open(os.path.join(d, "deployments.json")))
with open(os.path.join(d, "run.json"), "w") as f:
    json.dump({"hw": hw, "mode": mode, "started_utc": stamp, "command": ("./run_all.sh " + args).strip(),
               "version": version.strip(), "include_loopback": loop == "1", "links": links.split(","),
               "ctx": int(ctx) if ctx.isdigit() else ctx or None, "deployments": deps}, f, indent=2)
PY

step "6/6 report"
python3 -m reports "$tmpdir" >/dev/null
echo "kvwall: the answer ($mode)"
python3 -m reports.verdict "$tmpdir"
rm -rf "$outdir"
mv "$tmpdir" "$outdir"
trap - EXIT
step "done in $(( $(date +%s) - t0 ))s: $outdir/report.html"
[ "$probe_rc" -eq 3 ] && exit 3
[ "$validate_rc" -eq 4 ] && exit 4
exit 0
