#!/usr/bin/env bash
# repro.sh — the reproducibility modes, checked on the bytes of every stage checkpoint
# (adapter, optimizer moments, state, eval, per-item results, PEFT export):
#   R1  reproducibility = "rank-count": two runs with the same config, seed and rank count;
#   R2  reproducibility = "invariant": 1, 2 and 4 ranks (and 1 or 2 threads per rank) give the
#       same bytes; the manifest records the mode;
#   R3  a run stopped mid-stage (SIGUSR1) and resumed ends identical to an uninterrupted one,
#       also when it resumes on a different rank count (R2), and the resume says so.
#   R3 also for token-file runs (imprint train on data.path, and imprint pretrain).
# Plus: in "rank-count" mode the rank count does change the bits (so R2 is not vacuous).
set -euo pipefail
BIN=${IMPRINT_BIN:-build/imprint}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMP_NUM_THREADS
T=$(mktemp -d /tmp/imprint-repro-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; fi; }

"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$T/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
lora = { rank = 4; alpha = 8.0; dropout = 0.1; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 8; seq_len = 128; shard = 2; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 5; },
        { name = "bridge"; bridge = true; pacing = "root"; steps = 4; },
        { name = "drift"; band = [0.1, 0.4]; steps = 5; replay = 0.3; layers = [1, 1];
          targets = ["q", "v"]; lr_scale = 0.5; anchor_weight = 2.0; }
    );
};
run = { log_every = 100; };
CFG
STAGES="00-anchor 01-bridge 02-drift"
FILES="adapter.safetensors optim.safetensors state.json eval.json items.jsonl peft/adapter_model.safetensors"
train() { # np, run dir, extra args...
    local np=$1 dir=$2
    shift 2
    "$MPIRUN" --oversubscribe -np "$np" "$BIN" train "$T/run.cfg" --set "run.dir=\"$dir\"" --quiet "$@"
}
same_run() { # dir a, dir b: every file of every stage identical
    for s in $STAGES; do for f in $FILES; do cmp -s "$1/stages/$s/$f" "$2/stages/$s/$f" || return 1; done; done
}

# ---- R1: same rank count, same bits ------------------------------------------------------------
train 2 "$T/r1a"
train 2 "$T/r1b"
check "same_run '$T/r1a' '$T/r1b'" "R1: two 2-rank runs are byte-identical"
check "grep -q '\"reproducibility\":.*\"rank-count\"' '$T/r1a/manifest.json'" "R1: manifest records rank-count"
train 1 "$T/r1c"
check "! cmp -s '$T/r1a/stages/02-drift/adapter.safetensors' '$T/r1c/stages/02-drift/adapter.safetensors'" \
    "rank-count mode: 1 and 2 ranks differ in the bits (R2 is not a no-op)"

# ---- R2: any rank count (and thread count), same bits -------------------------------------------
INV=(--set 'reproducibility="invariant"')
OMP_NUM_THREADS=2 train 1 "$T/inv1" "${INV[@]}"
OMP_NUM_THREADS=1 train 1 "$T/inv1t" "${INV[@]}"
train 2 "$T/inv2" "${INV[@]}"
train 4 "$T/inv4" "${INV[@]}"
check "same_run '$T/inv1' '$T/inv1t'" "R2: 1 rank with 2 threads == 1 rank with 1 thread"
check "same_run '$T/inv1' '$T/inv2'" "R2: 1 rank == 2 ranks, every stage file"
check "same_run '$T/inv1' '$T/inv4'" "R2: 1 rank == 4 ranks, every stage file"
check "diff <(sed -E 's/,\"(ms|tok_per_s|scored_per_s)\":[0-9.a-z]*//g' '$T/inv1/metrics.jsonl') <(sed -E 's/,\"(ms|tok_per_s|scored_per_s)\":[0-9.a-z]*//g' '$T/inv4/metrics.jsonl') >/dev/null" \
    "R2: per-step loss, norm and lr logs agree between 1 and 4 ranks"
check "grep -q '\"reproducibility\":.*\"invariant\"' '$T/inv4/manifest.json' && grep -q '\"shard\":.*2' '$T/inv4/manifest.json'" \
    "R2: manifest records invariant mode and the shard size"
check "grep -q '\"blas\":' '$T/inv4/manifest.json' && grep -q '\"comm\":.*MPI' '$T/inv4/manifest.json' && grep -q '\"commit\":' '$T/inv4/manifest.json'" \
    "manifest records the build (commit, BLAS, MPI)"

# ---- R3: stop + resume, on the same and on a different rank count ---------------------------------
IMPRINT_FAULT=signal@7 train 2 "$T/r3" "${INV[@]}" >"$T/stop.log" 2>&1 && rc=0 || rc=$?
check "[ $rc = 3 ]" "R3: the stopped run exits 3 (requeue me), got $rc"
check "[ -d '$T/r3/stages/01-bridge.step-000007' ]" "R3: mid-stage checkpoint after step 7"
cp -r "$T/r3" "$T/r3same"
train 2 "$T/r3" "${INV[@]}" --resume "$T/r3"
check "same_run '$T/inv1' '$T/r3'" "R3: stopped and resumed on 2 ranks: identical to the uninterrupted run"
out=$("$MPIRUN" --oversubscribe -np 4 "$BIN" train "$T/run.cfg" "${INV[@]}" --resume "$T/r3same" 2>&1) || true
check "echo \"\$out\" | grep -q 'written on 2 ranks, the run goes on with 4; reproducibility = \"invariant\"'" \
    "R3: resuming on 4 ranks says the bits stay those of an uninterrupted run"
check "same_run '$T/inv1' '$T/r3same'" "R3: stopped on 2 ranks, resumed on 4: identical to the 1-rank uninterrupted run"
IMPRINT_FAULT=signal@3 train 1 "$T/r3b" "${INV[@]}" >"$T/stop.log" 2>&1 || true
train 1 "$T/r3b" "${INV[@]}" --resume "$T/r3b"
check "same_run '$T/inv2' '$T/r3b'" "R3: stopped and resumed on 1 rank: identical to the 2-rank run"

# ---- R3 for token-file runs: LoRA (train) and every tensor (pretrain) ----------------------------
for cmd in train pretrain; do
    tok=(--set 'data.format="bytes"' --set run.steps=12 --set run.checkpoint_every=0 --quiet)
    "$MPIRUN" --oversubscribe -np 2 "$BIN" "$cmd" configs/tiny.cfg --set "run.dir=\"$T/$cmd-ref\"" "${tok[@]}"
    IMPRINT_FAULT=signal@5 "$MPIRUN" --oversubscribe -np 2 "$BIN" "$cmd" configs/tiny.cfg \
        --set "run.dir=\"$T/$cmd-stop\"" "${tok[@]}" >"$T/stop.log" 2>&1 && rc=0 || rc=$?
    check "[ $rc = 3 ] && [ -d '$T/$cmd-stop/checkpoints/step-000005' ]" "$cmd: a token-file run stops after step 5 with a checkpoint, exit 3"
    "$MPIRUN" --oversubscribe -np 2 "$BIN" "$cmd" configs/tiny.cfg --set "run.dir=\"$T/$cmd-stop\"" \
        "${tok[@]}" --resume "$T/$cmd-stop"
    w=adapter.safetensors
    [ "$cmd" = pretrain ] && w=model.safetensors
    check "cmp -s '$T/$cmd-ref/checkpoints/step-000012/$w' '$T/$cmd-stop/checkpoints/step-000012/$w' && cmp -s '$T/$cmd-ref/checkpoints/step-000012/optim.safetensors' '$T/$cmd-stop/checkpoints/step-000012/optim.safetensors'" \
        "$cmd: stopped and resumed token-file run ends byte-identical"
done

echo "repro: $passed passed, $failed failed"
[ "$failed" = 0 ]
