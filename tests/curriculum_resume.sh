#!/usr/bin/env bash
# curriculum_resume.sh — a curriculum run end to end on a tiny model, and --resume:
#   * 4 stages (with a bridge, per-stage layers/targets, lr scale, loss masks) on 2 ranks write
#     a stage directory each (adapter, optimizer, state, eval.json, items.jsonl, peft/) and a
#     manifest;
#   * a copy of the run rolled back to its third stage and resumed ends with the same bytes
#     (adapter, optimizer moments, state, eval) as the uninterrupted run;
#   * a stop signal mid-stage checkpoints, exits 3, and the resumed run ends byte-identical;
#   * a corrupted checkpoint is refused on resume, naming the file; so is a changed config,
#     naming the keys that differ.
set -euo pipefail
. "$(dirname "$0")/lib.sh" resume

"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$T/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
lora = { rank = 4; alpha = 8.0; dropout = 0.1; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 6; seq_len = 128; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 6; },
        { name = "bridge"; bridge = true; pacing = "root"; steps = 4; },
        { name = "drift"; band = [0.1, 0.4]; steps = 6; replay = 0.3; layers = [1, 1];
          targets = ["q", "v"]; lr_scale = 0.5; loss = "connectives+conclusion"; anchor_weight = 2.0; },
        { name = "free"; band = [0.3, 0.7]; steps = 6; loss = "conclusion"; }
    );
};
run = { dir = "$T/a"; log_every = 100; };
CFG
"$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --quiet
for s in 00-anchor 01-bridge 02-drift 03-free; do
    for f in adapter.safetensors optim.safetensors state.json eval.json items.jsonl peft/adapter_config.json peft/adapter_model.safetensors; do
        check "[ -f '$T/a/stages/$s/$f' ]" "stage $s has $f"
    done
done

# roll a copy back to the end of stage 2 and resume it
cp -r "$T/a" "$T/b"
rm -rf "$T/b/stages/03-free"
/usr/bin/python3 - "$T/b/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert len(m["checkpoints"]) == 4
m["checkpoints"] = m["checkpoints"][:3]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
out=$("$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --resume "$T/b" 2>&1)
check "echo \"\$out\" | grep -q \"resume: $T/b/stages/02-drift (stage 2 'drift', step 16)\"" "resume message"
# the end-of-run summary: wall time, the final table, the best stage by held-out chains, outputs
check "echo \"\$out\" | grep -q '^done    22 steps in [0-9]*m [0-9]*s on 2 ranks'" "summary: steps, wall time, ranks"
check "echo \"\$out\" | grep -q \"^final recall (stage 3 'free', step 22):\"" "summary: the final recall table"
check "echo \"\$out\" | grep -q '^best    stage [0-3] .* by held-out chains: exact match'" "summary: the best stage"
check "echo \"\$out\" | grep -q \"^outputs $T/b/stages/03-free/: adapter.safetensors, peft/\"" "summary: where the outputs are"
# metrics: processed tokens (global 6 x seq_len 128 a step) apart from the scored ones
check "/usr/bin/python3 - '$T/a/metrics.jsonl' <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '\"loss\"' in l]
assert len(rows) == 22, len(rows)
for r in rows:
    assert r['tokens'] == r['step'] * 6 * 128, r
    assert 0 < r['scored'] < 6 * 128, r
    assert r['loss_weight'] >= r['scored'] * 0.999 or r['stage'] == 2, r
PY" "metrics: tokens are processed tokens, scored the loss-weighted ones"
for f in adapter.safetensors optim.safetensors state.json eval.json items.jsonl peft/adapter_model.safetensors; do
    check "cmp -s '$T/a/stages/03-free/$f' '$T/b/stages/03-free/$f'" "resumed $f is byte-identical"
done
check "[ \$(grep -c '\"dir\"' '$T/b/manifest.json') = 4 ]" "manifest has 4 entries after resume"

# a stop signal mid-stage (SIGUSR1 raised on rank 0 after global step 9, inside the bridge):
# every rank stops after that step, a mid-stage checkpoint is written, the exit code is 3
# (requeue me); resuming finishes the bridge and ends byte-identical to the uninterrupted run
set +e
out=$(IMPRINT_FAULT=signal@9 "$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --set "run.dir=\"$T/s\"" 2>&1)
rc=$?
set -e
check "[ $rc = 3 ]" "a stop signal exits with 3 (got $rc)"
check "echo \"\$out\" | grep -q 'stop requested: checkpoint after step 9'" "stop message"
check "[ -f '$T/s/stages/01-bridge.step-000009/adapter.safetensors' ]" "mid-stage checkpoint written"
check "[ ! -d '$T/s/stages/02-drift' ]" "nothing after the stop"
"$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --resume "$T/s" --quiet
for f in adapter.safetensors optim.safetensors state.json eval.json items.jsonl; do
    check "cmp -s '$T/a/stages/03-free/$f' '$T/s/stages/03-free/$f'" "signal-resumed $f is byte-identical"
done
check "cmp -s '$T/a/stages/01-bridge/adapter.safetensors' '$T/s/stages/01-bridge/adapter.safetensors'" \
    "the interrupted bridge ends identical"

# a corrupted checkpoint is refused, naming the file
cp -r "$T/a" "$T/c"
/usr/bin/python3 -c "import sys; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); d[-5]^=0xff; open(p,'wb').write(d)" \
    "$T/c/stages/03-free/adapter.safetensors"
set +e
out=$("$BIN" train "$T/run.cfg" --resume "$T/c" 2>&1); rc=$?
set -e
check "[ $rc -ne 0 ] && echo \"\$out\" | grep -q 'c/stages/03-free/adapter.safetensors: checksum mismatch'" "corruption refused"
# a different config is refused
set +e
out=$("$BIN" train "$T/run.cfg" --resume "$T/b" --set lora.rank=8 2>&1); rc=$?
set -e
check "[ $rc -ne 0 ] && echo \"\$out\" | grep -q 'started with a different configuration (lora.rank: 4 -> 8)'" "config change refused, naming the key"

# eval.json carries base and adapter for every split
/usr/bin/python3 - "$T/a/stages/03-free/eval.json" <<'PY' || failed=$((failed + 1))
import json, sys
e = json.load(open(sys.argv[1]))
splits = e["splits"]
assert sorted(splits) == ["heldout_chains", "heldout_entities", "heldout_variants", "train"], splits
for name, s in splits.items():
    for k in ("base", "adapter"):
        assert set(s[k]) == {"n", "em", "nll", "greedy", "margin"}, s[k]
        assert s[k]["n"] > 0 and 0 <= s[k]["em"] <= 1
assert e["stage"] == "free" and e["step"] == 22, (e["stage"], e.get("step"))
print("eval.json: ok")
PY
# imprint eval: the same numbers as the stage's eval.json (1 rank vs 2: float summation order),
# and an external chain file scored with every tuple
"$BIN" eval "$T/run.cfg" --adapter "$T/a/stages/03-free" --json "$T/eval.json" >/dev/null
"$BIN" eval "$T/run.cfg" --adapter "$T/a/stages/03-free/adapter.safetensors" \
    --chains tests/data/chains/mini.cfg --json "$T/ext.json" >/dev/null
/usr/bin/python3 - "$T/a/stages/03-free/eval.json" "$T/eval.json" "$T/ext.json" <<'PY' || failed=$((failed + 1))
import json, sys
stage, cli, ext = (json.load(open(p)) for p in sys.argv[1:4])
for split, s in stage["splits"].items():
    for k in ("base", "adapter"):
        for m in ("n", "em", "nll", "greedy", "margin"):
            a, b = s[k][m], cli["splits"][split][k][m]
            if a is None or b is None:  # margin of a split without foils
                assert a is None and b is None and m == "margin", (split, k, m, a, b)
                continue
            assert abs(a - b) <= 1e-6 * max(1.0, abs(a)), (split, k, m, a, b)
e = ext["splits"]["external"]
assert e["base"]["n"] == 50 and e["adapter"]["n"] == 50, e  # 10 chains x 5 tuples
assert e["adapter"]["greedy"] != e["base"]["greedy"], e      # the adapter was applied
print("imprint eval: ok")
PY
echo "curriculum_resume: $passed passed, $failed failed"
[ $failed = 0 ]
