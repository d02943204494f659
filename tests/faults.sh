#!/usr/bin/env bash
# faults.sh — every fault of the injector (IMPRINT_FAULT, trainer/fault.h) on a 2-rank run,
# handled as the README promises:
#   * a rank that exits, is killed or hangs ends the whole job non-zero within 30 s (a hang
#     through the collective watchdog, with a message naming it);
#   * a crash in the middle of a checkpoint write leaves the previous checkpoint intact, and the
#     run resumes from it to the same bytes as an uninterrupted run;
#   * a flipped byte in a checkpoint is refused on resume, naming the file; --fallback resumes
#     from the checkpoint before it, to the same bytes, and the manifest lists the discarded one;
#   * a NaN in a gradient aborts with a message (optim.nonfinite = "abort"), or the step is
#     skipped (no update) and counted ("skip"), identically on 1 and 2 ranks;
#   * a malformed IMPRINT_FAULT is refused with the byte offset.
set -euo pipefail
. "$(dirname "$0")/lib.sh" faults

"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$T/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
lora = { rank = 4; alpha = 8.0; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 4; seq_len = 128; };
reproducibility = "invariant";
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 5; },
        { name = "bridge"; bridge = true; steps = 4; },
        { name = "drift"; band = [0.1, 0.4]; steps = 5; }
    );
};
run = { log_every = 100; };
CFG
STAGES="00-anchor 01-bridge 02-drift"
FILES="adapter.safetensors optim.safetensors state.json eval.json items.jsonl peft/adapter_model.safetensors"
run() { # np, run dir, extra args... (output in $T/out, status in $rc, seconds in $secs)
    local np=$1 dir=$2
    shift 2
    local t0=$SECONDS
    "$MPIRUN" --oversubscribe -np "$np" "$BIN" train "$T/run.cfg" --set "run.dir=\"$dir\"" --quiet \
        "$@" >"$T/out" 2>&1 && rc=0 || rc=$?
    secs=$((SECONDS - t0))
}
run_fault() { # np, run dir, extra args...: like run, and $after = seconds from the fault to the end
    local np=$1 dir=$2
    shift 2
    "$MPIRUN" --oversubscribe -np "$np" "$BIN" train "$T/run.cfg" --set "run.dir=\"$dir\"" --quiet \
        "$@" >"$T/out" 2>&1 &
    local pid=$! seen=""
    while kill -0 "$pid" 2>/dev/null; do
        [ -z "$seen" ] && grep -q 'fault injection' "$T/out" && seen=$(date +%s.%N)
        sleep 0.2
    done
    wait "$pid" && rc=0 || rc=$?
    local end
    end=$(date +%s.%N)
    after=$(awk -v a="${seen:-$end}" -v b="$end" 'BEGIN { printf "%d", b - a }')
}
same_run() {
    for s in $STAGES; do for f in $FILES; do cmp -s "$1/stages/$s/$f" "$2/stages/$s/$f" || return 1; done; done
}
has() { grep -q -- "$1" "$T/out"; }

run 2 "$T/ref"
check "[ $rc = 0 ]" "the reference run succeeds"

# ---- a malformed plan ------------------------------------------------------------------------
IMPRINT_FAULT=exit@2,explode@3 run 2 "$T/bad"
check "[ $rc != 0 ] && has \"unknown fault 'explode' at byte 7\"" "malformed IMPRINT_FAULT is refused with the byte offset"

# ---- dead and hung ranks -----------------------------------------------------------------------
for kind in exit kill hang; do
    IMPRINT_FAULT=$kind@4:1 run_fault 2 "$T/$kind"
    check "[ $rc != 0 ] && [ $after -lt 30 ] && has 'rank 1 .*in step 4'" \
        "$kind@4:1 ends the job non-zero within 30 s of the fault (rc $rc, $after s)"
done
check "has 'rank 0: comm_allreduce.* has waited 2[0-9] s for the other ranks: a rank has died or hangs'" \
    "a hung rank is named by the watchdog"

# ---- a crash in the middle of a checkpoint write ---------------------------------------------------
IMPRINT_FAULT=crash-write@2 run 2 "$T/cw"
check "[ $rc != 0 ] && has 'killed while writing'" "crash-write@2 kills rank 0 during the second checkpoint"
check "[ \$(grep -c '\"dir\"' '$T/cw/manifest.json') = 1 ] && [ ! -e '$T/cw/stages/01-bridge' ]" \
    "the half-written checkpoint is not committed; the manifest names only the first"
check "cmp -s '$T/cw/stages/00-anchor/adapter.safetensors' '$T/ref/stages/00-anchor/adapter.safetensors'" \
    "the previous checkpoint is intact"
run 2 "$T/cw" --resume "$T/cw"
check "[ $rc = 0 ] && same_run '$T/ref' '$T/cw'" "resumed after the crash: identical to the uninterrupted run"

# ---- a flipped byte in a checkpoint ------------------------------------------------------------------
IMPRINT_FAULT=signal@7,flip@2 run 2 "$T/fl"
check "[ $rc = 3 ] && has 'flipped the byte'" "signal@7,flip@2: stopped mid-stage, the checkpoint then damaged"
run 2 "$T/fl" --resume "$T/fl"
check "[ $rc = 1 ] && has '$T/fl/stages/01-bridge.step-000007/adapter.safetensors: checksum mismatch' && has 'Pass --fallback'" \
    "the corrupted checkpoint is refused, naming the file"
run 2 "$T/fl" --resume "$T/fl" --fallback
check "[ $rc = 0 ] && has 'falling back'" "--fallback resumes from the checkpoint before it"
check "same_run '$T/ref' '$T/fl'" "after the fallback: identical to the uninterrupted run"
check "/usr/bin/python3 -c \"import json,sys; m=json.load(open('$T/fl/manifest.json')); d=[c['dir'] for c in m['checkpoints']]; sys.exit(not (m['discarded'][0]['dir'] == 'stages/01-bridge.step-000007' and 'stages/01-bridge.step-000007' not in d and d[-1] == 'stages/02-drift'))\"" \
    "the manifest lists the corrupted checkpoint as discarded"

# ---- NaN in a gradient ---------------------------------------------------------------------------------
IMPRINT_FAULT=nan@3:1 run 2 "$T/nan"
check "[ $rc = 1 ] && has 'step 3: the loss or a gradient is not finite' && has 'optim.nonfinite'" \
    "nan@3:1 aborts with a message (optim.nonfinite = abort)"
check "[ \$(grep -c 'not finite' '$T/out') = 1 ]" "the abort is reported once, not once per rank"
IMPRINT_FAULT=nan@3:0 run 2 "$T/skip2" --set 'optim.nonfinite="skip"'
check "[ $rc = 0 ] && grep -q '\"skipped_steps\":.*1,' '$T/skip2/stages/02-drift/state.json'" \
    "optim.nonfinite = skip: the run goes on and counts the skipped step"
check "grep -q '\"step\":3,.*\"skipped\":true' '$T/skip2/metrics.jsonl'" "metrics mark step 3 skipped"
IMPRINT_FAULT=nan@3:0 run 1 "$T/skip1" --set 'optim.nonfinite="skip"'
check "same_run '$T/skip1' '$T/skip2'" "a skipped step is skipped identically on 1 and 2 ranks"
check "! cmp -s '$T/skip2/stages/02-drift/adapter.safetensors' '$T/ref/stages/02-drift/adapter.safetensors'" \
    "skipping changed the result (no update at step 3)"
IMPRINT_FAULT=nan@3:1 run 2 "$T/nanrc" --set 'reproducibility="rank-count"' --set 'optim.nonfinite="skip"'
check "[ $rc = 0 ] && grep -q '\"step\":3,.*\"skipped\":true' '$T/nanrc/metrics.jsonl'" \
    "rank-count mode (float all-reduce) detects and skips the NaN too"

echo "faults: $passed passed, $failed failed"
[ "$failed" = 0 ]
