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
#     split without foils has margin null (n/a in the table);
#   * per item (items.jsonl in every stage dir, `imprint eval --items`): one line per scored item
#     with every field, exact match agreeing with the split's, the per-form numbers ("forms" in
#     eval.json) adding up to the split's, the same bytes on 1 and 2 ranks (invariant), and
#     --items - on stdout with the table on stderr; the manifest checksums items.jsonl.
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
# a config that asks for another adapter shape: the adapter's metadata wins (same rows per pass as
# b6: which rows share a matrix product may change the last bits, with some BLAS kernels)
out=$("$BIN" eval "$T/run.cfg" --adapter "$T/a/stages/01-drift" --set batch.global=6 --set lora.rank=16 \
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
# per item, on a base model that has learned the eval texts (so that exact match is 1 for some
# items and 0 for others): the texts of the stage's items, pretrained into a model of this shape
/usr/bin/python3 -c 'import json, sys
with open(sys.argv[2], "w") as f:
    for l in open(sys.argv[1]):
        d = json.loads(l)
        f.write(d["prompt"] + d["answer"] + "\n\n")' "$T/a/stages/01-drift/items.jsonl" "$T/texts.txt"
"$BIN" tokenize --tokenizer "$T/tok" "$T/texts.txt" "$T/texts.bin" >/dev/null
mem=$(pretrain_small mem "$T/texts.bin" 32 1e-2 300)
sed -e '/^model = /,/tokenizer = /d' "$T/run.cfg" >"$T/mem-eval.cfg"
echo "model = { path = \"$mem\"; tokenizer = \"$T/tok\"; };" >>"$T/mem-eval.cfg"
# the same bytes on 1 and 2 ranks (reproducibility = "invariant": fixed forward passes)
INV=(--set 'reproducibility="invariant"')
"$BIN" eval "$T/mem-eval.cfg" --adapter "$T/a" "${INV[@]}" --items "$T/items1.jsonl" --json "$T/items1.json" >"$T/items1.txt"
"$MPIRUN" --oversubscribe -np 2 "$BIN" eval "$T/mem-eval.cfg" --adapter "$T/a" "${INV[@]}" --items "$T/items2.jsonl" >/dev/null
check "cmp '$T/items1.jsonl' '$T/items2.jsonl'" "items.jsonl: the same bytes on 1 and 2 ranks"
check "grep -q '^  form / split ' '$T/items1.txt' && grep -q '^  modus-ponens\$' '$T/items1.txt' && grep -q '^   train  ' '$T/items1.txt'" \
    "the table by form follows the split table: \$(cat '$T/items1.txt')"
# --items -: the lines on stdout, the table on stderr; the base model alone: adapter null
"$BIN" eval "$T/run.cfg" --items - >"$T/base-items.jsonl" 2>"$T/base-items.txt"
check "grep -q 'exact match' '$T/base-items.txt' && ! grep -q 'exact match' '$T/base-items.jsonl'" "--items -: the table goes to stderr"
"$BIN" eval "$T/run.cfg" --adapter "$T/a" --chains "$T/nofoil.cfg" --items "$T/nofoil.jsonl" >/dev/null
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

# ---- per item ----------------------------------------------------------------------------------
FIELDS = {"split", "index", "chain", "form", "tuple", "variant", "volatility", "prompt", "answer",
          "answer_tokens", "foils", "base", "adapter"}
MODEL_FIELDS = {"completion", "eot", "correct", "nll", "nll_mean", "margin", "em"}
SPLITS = ["train", "heldout_variants", "heldout_entities", "heldout_chains"]

def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))

def check_items(path, ev, what, models=("base", "adapter")):
    lines = [json.loads(l) for l in open(path)]
    n_items = sum(s["base"]["n"] for s in ev["splits"].values())
    expect(len(lines) == n_items, f"{what}: {len(lines)} lines for {n_items} scored items")
    expect([l["split"] for l in lines] == sorted((l["split"] for l in lines), key=list(ev["splits"]).index),
           f"{what}: splits in order")
    for l in lines:
        expect(set(l) == FIELDS, f"{what}: fields {sorted(set(l) ^ FIELDS)}")
        for m in models:
            r = l[m]
            expect(set(r) == MODEL_FIELDS, f"{what}: {m} fields {sorted(set(r) ^ MODEL_FIELDS)}")
            expect(len(r["correct"]) == l["answer_tokens"] and set(r["correct"]) <= {0, 1},
                   f"{what}: {m} correct {r['correct']} for {l['answer_tokens']} tokens")
            expect(r["em"] == all(r["correct"]), f"{what}: {m} em {r['em']} vs correct {r['correct']}")
            if r["em"]:
                expect(r["completion"] == l["answer"] and not r["eot"], f"{what}: an exact match completes the answer: {r}")
            expect(close(r["nll_mean"] * l["answer_tokens"], r["nll"]), f"{what}: nll_mean {r}")
            expect((r["margin"] is None) == (l["foils"] == 0), f"{what}: margin {r['margin']} with {l['foils']} foils")
        if "adapter" not in models:
            expect(l["adapter"] is None, f"{what}: base only, adapter {l['adapter']}")
        expect(l["variant"] is None or l["split"] == "heldout_variants", f"{what}: variant {l}")
    for split, s in ev["splits"].items():
        mine = [l for l in lines if l["split"] == split]
        expect([l["index"] for l in mine] == list(range(len(mine))), f"{what}: {split} indices")
        for m in models:
            n = len(mine)
            em = sum(l[m]["em"] for l in mine) / n
            nll = sum(l[m]["nll_mean"] for l in mine) / n
            greedy = sum(sum(l[m]["correct"]) / len(l[m]["correct"]) for l in mine) / n
            foiled = [l[m]["margin"] for l in mine if l[m]["margin"] is not None]
            want = s[m]
            expect(n == want["n"] and em == want["em"], f"{what}: {split} {m} em {em} from items, {want['em']} in the JSON")
            expect(close(nll, want["nll"], 1e-6) and close(greedy, want["greedy"], 1e-6),
                   f"{what}: {split} {m} nll {nll} {want['nll']}, greedy {greedy} {want['greedy']}")
            if foiled:
                expect(close(sum(foiled) / len(foiled), want["margin"], 1e-6), f"{what}: {split} {m} margin")
            else:
                expect(want["margin"] is None, f"{what}: {split} {m} margin without foils")
        # the forms add up to the split, and each is its items' numbers
        forms = ev["forms"][split]
        expect(sum(f["base"]["n"] for f in forms.values()) == s["base"]["n"], f"{what}: {split} forms' n")
        expect(set(forms) == {l["form"] for l in mine}, f"{what}: {split} forms {sorted(forms)}")
        for m in models:
            total = sum(f[m]["n"] * f[m]["em"] for f in forms.values())
            expect(close(total, s[m]["n"] * s[m]["em"], 1e-9), f"{what}: {split} {m} forms' em add up to the split's")
            for name, f in forms.items():
                fi = [l for l in mine if l["form"] == name]
                expect(f[m]["n"] == len(fi) and close(f[m]["em"], sum(l[m]["em"] for l in fi) / len(fi)),
                       f"{what}: {split} {name} {m} em")
                fm = [l[m]["margin"] for l in fi if l[m]["margin"] is not None]
                expect((f[m]["margin"] is None) == (not fm) and (not fm or close(f[m]["margin"], sum(fm) / len(fm), 1e-9)),
                       f"{what}: {split} {name} {m} margin")
            foiled = [(f[m]["margin"], sum(l[m]["margin"] is not None for l in mine if l["form"] == k))
                      for k, f in forms.items() if f[m]["margin"] is not None]
            if foiled:
                agg = sum(v * c for v, c in foiled) / sum(c for _, c in foiled)
                expect(close(agg, s[m]["margin"], 1e-6), f"{what}: {split} {m} forms' margins add up to the split's")
    return lines

for stage in ("00-anchor", "01-drift"):
    ev = json.load(open(f"{t}/a/stages/{stage}/eval.json"))
    check_items(f"{t}/a/stages/{stage}/items.jsonl", ev, stage)
    entry = [c for c in man["checkpoints"] if c["dir"] == f"stages/{stage}"][0]
    expect("items.jsonl" in entry["sha256"], f"the manifest checksums {stage}/items.jsonl")
lines = check_items(f"{t}/items1.jsonl", json.load(open(f"{t}/items1.json")), "eval --items")
expect(any(l["variant"] == 1 for l in lines), "held-out variants are numbered per chain")
for m in ("base", "adapter"):  # exact match is not the same for every item: the checks can fail
    expect({l[m]["em"] for l in lines} == {True, False}, f"eval --items: {m} exact match varies")
    expect(any(not l[m]["em"] and l[m]["completion"] != l["answer"] for l in lines),
           f"eval --items: {m} completions of misses differ from the answer")
check_items(f"{t}/base-items.jsonl", base, "eval --items - (base only)", models=("base",))
ext = [json.loads(l) for l in open(f"{t}/nofoil.jsonl")]
expect(len(ext) == json.load(open(f"{t}/nofoil.json"))["splits"]["external"]["base"]["n"] and
       all(l["split"] == "external" and l["base"]["margin"] is None and l["adapter"]["margin"] is None for l in ext),
       "--chains: external items, margin null without foils")
print("eval_cli json:", "ok" if ok else "failed")
sys.exit(0 if ok else 1)
PY
echo "eval_cli: $passed passed, $failed failed"
[ $failed = 0 ]
