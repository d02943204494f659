#!/usr/bin/env bash
# repro_overhead.sh — what reproducibility = "invariant" costs: the step time of the default
# curriculum (shipped model, batch 16 x 80, LoRA r16 on q,k,v,o) in "rank-count" mode and in
# "invariant" mode with several shard sizes, on NP ranks (default 2). Each run trains the first
# stage for STEPS steps (default 60) and the median of metrics.jsonl's per-step "ms" over the
# steps after the first 10 is reported. Run it on a quiet machine.
#   bench/repro_overhead.sh [NP] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${1:-2}
STEPS=${2:-60}
BIN=${IMPRINT_BIN:-build/imprint}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/imprint-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
# the default config with one stage of STEPS steps
sed -e "s/steps = 400; loss = \"trail\"; },/steps = $STEPS; loss = \"trail\"; }/" \
    -e '/name = "bridge-1"/,/anchor_weight = 2.0; }/d' configs/default.cfg >"$T/bench.cfg"
median_ms() {
    /usr/bin/python3 -c '
import json, statistics, sys
ms = [json.loads(l)["ms"] for l in open(sys.argv[1]) if "\"ms\"" in l][10:]
print("%.1f" % statistics.median(ms))' "$1"
}
printf "%-28s %10s %8s\n" "mode ($NP ranks)" "ms/step" "vs base"
base=""
for mode in rank-count invariant:1 invariant:2 invariant:4 invariant:8; do
    name=${mode%%:*}
    args=(--set "reproducibility=\"$name\"")
    [ "$name" = invariant ] && args+=(--set "batch.shard=${mode#*:}")
    mpirun --oversubscribe -np "$NP" "$BIN" train "$T/bench.cfg" --set "run.dir=\"$T/run\"" \
        --overwrite --quiet "${args[@]}" >/dev/null 2>&1
    ms=$(median_ms "$T/run/metrics.jsonl")
    [ -n "$base" ] || base=$ms
    label=$name
    [ "$name" = invariant ] && label="invariant, shard ${mode#*:}"
    printf "%-28s %10s %7s%%\n" "$label" "$ms" "$(awk -v a="$ms" -v b="$base" 'BEGIN { printf "%+.1f", 100 * (a - b) / b }')"
done
