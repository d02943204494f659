#!/usr/bin/env bash
# rundir.sh — what a run directory holds decides what a rerun may do with it:
#   * a run that never committed a checkpoint (a failure at start-up, a crash in the first
#     checkpoint write, Ctrl-C before the first one) leaves a directory a rerun takes over
#     without --overwrite; --resume on it says there is nothing to resume;
#   * a directory with committed checkpoints is refused, saying what it holds (count, newest,
#     step) and how to continue or replace it;
#   * Ctrl-C (SIGINT) stops like USR1/TERM: a checkpoint, the message, exit 3 (also under
#     mpirun, which passes it on to the ranks);
#   * resuming a finished run (token file or curriculum) says it is complete, exits 0 and
#     writes nothing;
#   * a stage checkpoint removes the mid-stage checkpoints it supersedes, from the manifest and
#     the disk, and the run still ends with the bytes of an uninterrupted one.
set -euo pipefail
. "$(dirname "$0")/lib.sh" rundir
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; sed 's/^/    | /' "$T/out" | head -20; fi; }
has() { grep -q -- "$1" "$T/out"; }
tok() { # run dir, extra args... (token-file run of configs/tiny.cfg; output in $T/out, status in $rc)
    local dir=$1
    shift
    "$BIN" train configs/tiny.cfg --set "run.dir=\"$dir\"" --quiet --set run.steps=4 \
        --set run.checkpoint_every=0 "$@" >"$T/out" 2>&1 && rc=0 || rc=$?
}

# ---- token-file runs: nothing committed -> taken over; committed -> refused, saying what -------
IMPRINT_FAULT=exit@2 tok "$T/t1"
check "[ $rc != 0 ] && [ -f '$T/t1/config.cfg' ] && [ ! -e '$T/t1/checkpoints/step-000004' ]" \
    "a run that dies in step 2 leaves a run dir without a checkpoint"
tok "$T/t1" --resume "$T/t1"
check "[ $rc = 1 ] && has 't1 holds no checkpoint (the run stopped before its first one), so there is nothing to resume; start the run again without --resume'" \
    "--resume on a dir without a checkpoint says so"
tok "$T/t1"
check "[ $rc = 0 ] && [ -d '$T/t1/checkpoints/step-000004' ]" "the rerun takes the dir over without --overwrite"
check "[ \$(grep -c '\"step\":1,' '$T/t1/metrics.jsonl') = 1 ]" "metrics.jsonl starts afresh"
IMPRINT_FAULT=crash-write@1 tok "$T/t2"
check "[ $rc != 0 ] && [ -d '$T/t2/checkpoints/step-000004.tmp' ]" "a crash in the first checkpoint write leaves a .tmp dir"
tok "$T/t2"
check "[ $rc = 0 ] && [ -d '$T/t2/checkpoints/step-000004' ] && [ ! -e '$T/t2/checkpoints/step-000004.tmp' ]" \
    "the rerun takes it over and clears the partial checkpoint"
tok "$T/t2"
check "[ $rc = 1 ] && has 't2 holds 1 checkpoint of an earlier run (newest: checkpoints/step-000004, step 4); pass --resume $T/t2 to continue it, --overwrite to replace it'" \
    "a dir with a committed checkpoint is refused, saying what it holds"

# ---- a finished run: --resume says so, exits 0, writes nothing ------------------------------------
ls -lR --time-style=full-iso "$T/t2" >"$T/before"
md5sum "$T/t2/metrics.jsonl" >"$T/before.sum"
tok "$T/t2" --resume "$T/t2"
check "[ $rc = 0 ] && has '$T/t2: the run is already complete (step 4); nothing to do'" \
    "resuming a finished token-file run says it is complete"
ls -lR --time-style=full-iso "$T/t2" >"$T/after"
check "cmp -s '$T/before' '$T/after' && md5sum -c --quiet '$T/before.sum'" "... and touches nothing"

# ---- Ctrl-C (SIGINT): checkpoint, message, exit 3 -------------------------------------------------
sigint() { # run dir, launcher...: SIGINT once the run is stepping; status in $rc
    local dir=$1
    shift
    set -m # job control: a background job of a script would start with SIGINT ignored
    "$@" "$BIN" train configs/tiny.cfg --set "run.dir=\"$dir\"" --quiet --set run.steps=1000000 \
        --set run.checkpoint_every=0 >"$T/out" 2>&1 &
    local pid=$! i=0
    set +m
    while ! [ -s "$dir/metrics.jsonl" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    kill -INT "$pid"
    wait "$pid" && rc=0 || rc=$?
}
sigint "$T/c1"
check "[ $rc = 3 ] && has 'stop requested: checkpoint after step' && ls -d '$T/c1'/checkpoints/step-* >/dev/null" \
    "SIGINT: checkpoint, message, exit 3 (got $rc)"
# mpirun hands SIGINT to the ranks as SIGTERM and kills them odls_base_sigkill_timeout s later;
# its own status is then 1 (it aborted the job), so only the ranks' work is checked
sigint "$T/c2" "$MPIRUN" --oversubscribe --mca odls_base_sigkill_timeout 3 -np 2
check "has 'stop requested: checkpoint after step' && ls -d '$T/c2'/checkpoints/step-* >/dev/null" \
    "SIGINT to mpirun: every rank stops with a checkpoint"

# ---- curriculum runs ------------------------------------------------------------------------------
"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$T/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
lora = { rank = 4; alpha = 8.0; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 4; seq_len = 128; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 3; },
        { name = "drift"; band = [0.1, 0.4]; steps = 4; }
    );
};
run = { log_every = 100; };
CFG
cur() { # np, run dir, extra args...
    local np=$1 dir=$2
    shift 2
    "$MPIRUN" --oversubscribe -np "$np" "$BIN" train "$T/run.cfg" --set "run.dir=\"$dir\"" --quiet \
        "$@" >"$T/out" 2>&1 && rc=0 || rc=$?
}
cur 2 "$T/ref"
check "[ $rc = 0 ]" "the reference curriculum run succeeds"
IMPRINT_FAULT=crash-write@1 cur 2 "$T/k1"
check "[ $rc != 0 ] && [ ! -e '$T/k1/manifest.json' ]" "a crash in the first stage checkpoint commits nothing"
cur 2 "$T/k1"
check "[ $rc = 0 ] && cmp -s '$T/ref/stages/01-drift/adapter.safetensors' '$T/k1/stages/01-drift/adapter.safetensors'" \
    "the rerun takes the curriculum dir over and ends like the reference"
IMPRINT_FAULT=signal@5 cur 2 "$T/k2"
check "[ $rc = 3 ] && [ -d '$T/k2/stages/01-drift.step-000005' ]" "a stop mid-stage writes a mid-stage checkpoint"
cur 2 "$T/k2"
check "[ $rc = 1 ] && has 'k2 holds 2 stage checkpoints of an earlier run (newest: stages/01-drift.step-000005, step 5); pass --resume $T/k2'" \
    "a curriculum dir with checkpoints is refused, saying what it holds"
cur 2 "$T/k2" --resume "$T/k2"
check "[ $rc = 0 ] && [ ! -e '$T/k2/stages/01-drift.step-000005' ] && ! grep -q 'step-000005' <(/usr/bin/python3 -c \"import json; print([c['dir'] for c in json.load(open('$T/k2/manifest.json'))['checkpoints']])\")" \
    "the stage checkpoint removes the mid-stage one it supersedes (dir and manifest entry)"
same_stage() { for f in adapter.safetensors optim.safetensors state.json eval.json items.jsonl; do cmp -s "$1/$f" "$2/$f" || return 1; done; }
check "same_stage '$T/ref/stages/01-drift' '$T/k2/stages/01-drift'" \
    "... and the resumed run ends byte-identical to the uninterrupted one"
cp "$T/k2/manifest.json" "$T/manifest.before"
cur 2 "$T/k2" --resume "$T/k2"
check "[ $rc = 0 ] && has \"k2: the run is already complete (stage 1 'drift', step 7); nothing to do\" && cmp -s '$T/manifest.before' '$T/k2/manifest.json'" \
    "resuming a finished curriculum run says it is complete, on every rank's agreement"

echo "rundir: $passed passed, $failed failed"
[ "$failed" = 0 ]
