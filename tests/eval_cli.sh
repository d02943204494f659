#!/usr/bin/env bash
# eval_cli.sh — the recall test as a new user meets it (issue #16):
#   * few rows per rank (batch.global = 2 on 2 ranks: one row, and every item needs two) still
#     trains and evaluates: an item's foils go over several forward passes, with the numbers of
#     one pass;
#   * `imprint eval` takes the adapter's shape from its metadata (a config asking for another
#     rank, targets and layers does not matter), --adapter RUN_DIR takes the newest finished
#     stage, without --adapter the base is scored alone, --json - writes JSON to stdout, and a
#     --json path in a missing directory is refused before anything runs, naming that path;
#   * a setup error under 2 ranks prints once;
#   * eval.json carries its step, the manifest's seed is a number (a string above 2^53), and a
#     split without foils has margin null (n/a in the table).
set -euo pipefail
. "$(dirname "$0")/lib.sh" evalcli

"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$T/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
lora = { rank = 4; alpha = 8.0; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 2; seq_len = 128; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 3; },
        { name = "drift"; band = [0.1, 0.4]; steps = 3; layers = [1, 1]; targets = ["q", "v"]; }
    );
};
run = { dir = "$T/a"; log_every = 100; };
CFG

# one row per rank: the base-model eval and every stage's eval run (they stopped with "chain 0
# has 1 foils; at most 0 rows fit one batch" before)
set +e
out=$("$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --quiet 2>&1)
rc=$?
set -e
check "[ $rc = 0 ] && [ -f '$T/a/stages/01-drift/eval.json' ]" "1 row per rank trains and evaluates (exit $rc: $out)"

# the same adapter scored with 1 row per pass (every item split) and 6 rows (items whole)
"$BIN" eval "$T/run.cfg" --adapter "$T/a/stages/01-drift" --set batch.global=1 --json "$T/b1.json" >/dev/null
"$BIN" eval "$T/run.cfg" --adapter "$T/a/stages/01-drift" --set batch.global=6 --json "$T/b6.json" >/dev/null
# a config that asks for another adapter shape: the adapter's metadata wins
out=$("$BIN" eval "$T/run.cfg" --adapter "$T/a/stages/01-drift" --set lora.rank=16 \
    --set 'lora.targets=["o"]' --set 'lora.layers=[0, 0]' --json "$T/shape.json" 2>&1) || true
check "echo \"\$out\" | grep -q 'rank 4, alpha 8, targets qkvo, layers 0-1'" "the adapter's own shape is used: $out"
# --adapter RUN_DIR: the newest finished stage
"$BIN" eval "$T/run.cfg" --adapter "$T/a" --json "$T/run.json" >/dev/null
# a run stopped inside its second stage: RUN_DIR means its first stage, not the mid-stage one
set +e
IMPRINT_FAULT=signal@4 "$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --quiet \
    --set "run.dir=\"$T/s\"" >/dev/null 2>&1
set -e
check "ls -d '$T'/s/stages/01-drift.step-* >/dev/null 2>&1" "a mid-stage checkpoint was written"
"$BIN" eval "$T/run.cfg" --adapter "$T/s" --json "$T/stopped.json" >/dev/null
# no adapter: the base alone, once
out=$("$BIN" eval "$T/run.cfg" --json "$T/base.json")
check "[ \$(echo \"\$out\" | grep -c '^  train ') = 1 ] && echo \"\$out\" | grep -q 'no adapter'" "base-only table: $out"
# --json -: JSON on stdout, the table on stderr
"$BIN" eval "$T/run.cfg" --adapter "$T/a" --json - >"$T/stdout.json" 2>"$T/stderr.txt"
check "[ ! -e ./- ]" "--json - writes no file named '-'"
check "grep -q 'exact match' '$T/stderr.txt'" "--json -: the table goes to stderr"
# a JSON path whose directory is missing: refused before the eval, naming the path
set +e
out=$("$BIN" eval "$T/run.cfg" --adapter "$T/a" --json "$T/missing/e.json" 2>&1)
rc=$?
set -e
check "[ $rc -ne 0 ] && echo \"\$out\" | grep -q -- '--json $T/missing/e.json: the directory $T/missing does not exist'" "missing --json directory: $out"
check "! echo \"\$out\" | grep -q 'recall:\\|\\.tmp'" "refused before the eval, no temp file named: $out"
# a setup error on 2 ranks prints once
set +e
out=$("$MPIRUN" --oversubscribe -np 2 "$BIN" eval "$T/run.cfg" --adapter "$T/nope" 2>&1)
rc=$?
set -e
check "[ $rc -ne 0 ] && [ \$(echo \"\$out\" | grep -c 'imprint: error') = 1 ]" "a setup error prints once: $out"
# chains without foils: margin n/a in the table, null in JSON
grep -v '^ *foils = \[.*\];$' tests/data/chains/mini.cfg >"$T/nofoil.cfg"
out=$("$BIN" eval "$T/run.cfg" --adapter "$T/a" --chains "$T/nofoil.cfg" --json "$T/nofoil.json")
check "echo \"\$out\" | grep -q '^  external .*n/a ->    n/a'" "margin n/a without foils: $out"
# a seed above 2^53 cannot be a JSON number exactly: the manifest keeps it as a string
"$MPIRUN" --oversubscribe -np 2 "$BIN" train "$T/run.cfg" --quiet --set "run.dir=\"$T/big\"" \
    --set seed=9007199254740993L

/usr/bin/python3 - "$T" <<'PY' || failed=$((failed + 1))
import json, sys
t = sys.argv[1]
ok = True
def expect(c, what):
    global ok
    if not c:
        ok = False
        print("FAIL", what)
b1, b6, shape = (json.load(open(f"{t}/{n}.json")) for n in ("b1", "b6", "shape"))
stage = json.load(open(f"{t}/a/stages/01-drift/eval.json"))
for split, s in b6["splits"].items():
    for k in ("base", "adapter"):
        for m in ("n", "em", "nll", "greedy", "margin"):
            a, b = s[k][m], b1["splits"][split][k][m]
            expect(abs(a - b) <= 1e-5 * max(1.0, abs(a)), f"1 row vs 6 rows per pass: {split} {k} {m} {a} {b}")
            c = shape["splits"][split][k][m]
            expect(c == a, f"another lora group in the config changes nothing: {split} {k} {m} {a} {c}")
            d = stage["splits"][split][k][m]
            expect(abs(a - d) <= 1e-5 * max(1.0, abs(a)), f"eval vs the stage's eval.json: {split} {k} {m}")
run = json.load(open(f"{t}/run.json"))
expect(run["adapter"] == f"{t}/a/stages/01-drift/adapter.safetensors", f"RUN_DIR: {run['adapter']}")
expect(run["step"] == 6 and b6["step"] == 6, f"eval --json step {run['step']}")
stopped = json.load(open(f"{t}/stopped.json"))
expect(stopped["adapter"] == f"{t}/s/stages/00-anchor/adapter.safetensors", f"stopped RUN_DIR: {stopped['adapter']}")
base = json.load(open(f"{t}/base.json"))
expect(base["adapter"] is None, "base only: adapter null")
for split, s in base["splits"].items():
    expect(s["adapter"] is None, f"base only: {split} adapter null")
    expect(s["base"] == b6["splits"][split]["base"], f"base only: {split} base scores as with an adapter")
out = json.load(open(f"{t}/stdout.json"))
expect(out["splits"] == run["splits"], "--json - holds the results")
nf = json.load(open(f"{t}/nofoil.json"))["splits"]["external"]
expect(nf["base"]["margin"] is None and nf["adapter"]["margin"] is None, f"no foils: margin null {nf}")
expect(stage["step"] == 6, f"eval.json step {stage.get('step')}")
anchor = json.load(open(f"{t}/a/stages/00-anchor/eval.json"))
expect(anchor["step"] == 3, f"eval.json step {anchor.get('step')}")
man = json.load(open(f"{t}/a/manifest.json"))
expect(man["seed"] == 1337 and isinstance(man["seed"], int), f"manifest seed {man['seed']!r}")
big = json.load(open(f"{t}/big/manifest.json"))
expect(big["seed"] == "9007199254740993", f"manifest seed above 2^53: {big['seed']!r}")
print("eval_cli json:", "ok" if ok else "failed")
sys.exit(0 if ok else 1)
PY
echo "eval_cli: $passed passed, $failed failed"
[ $failed = 0 ]
