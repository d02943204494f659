#!/usr/bin/env bash
# cli_errors.sh — every bad input a user can give `imprint` ends with a clear message (what,
# where, how to fix) and a non-zero exit, never a crash or a half-written run directory.
# Each case asserts the exit status and a piece of the message.
set -u
BIN=${IMPRINT_BIN:-build/imprint}
BUILD=${IMPRINT_BUILD:-build}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
T=$(mktemp -d /tmp/imprint-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

# expect NAME WANT_STATUS("nonzero"|N) NEEDLE -- command...
expect() {
    local name=$1 want=$2 needle=$3
    shift 4
    local out status
    out=$("$@" 2>&1)
    status=$?
    local ok=1
    if [ "$want" = nonzero ]; then [ $status -ne 0 ] || ok=0; else [ $status -eq "$want" ] || ok=0; fi
    case "$out" in *"$needle"*) ;; *) ok=0 ;; esac
    case "$out" in *"AddressSanitizer"* | *"runtime error"* | *"Segmentation"*) ok=0 ;; esac
    if [ $ok = 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $status, want $want and message containing: $needle"
        echo "$out" | sed 's/^/    | /' | head -20
    fi
}

# a config with one line changed: cfg NAME 'sed expression'
cfg() {
    sed "$2" configs/tiny.cfg >"$T/$1.cfg"
    echo "$T/$1.cfg"
}

base=(--set "run.dir=\"$T/run\"" --quiet)

# ---- command line ------------------------------------------------------------------------------
expect "no command" 2 "no command given" -- "$BIN"
expect "unknown command" 2 "unknown command 'trian'; did you mean 'train'" -- "$BIN" trian x.cfg
expect "unknown command lists them" 2 \
    "unknown command 'frobnicate'; the commands are: train, pretrain, eval, config, tokenizer-train" \
    -- "$BIN" frobnicate x.cfg
expect "no config" 2 "needs a config file" -- "$BIN" train
expect "unknown option" 2 "unknown option '--sett'" -- "$BIN" train configs/tiny.cfg --sett x=1
expect "bad --set" 2 "--set needs KEY=VALUE" -- "$BIN" train configs/tiny.cfg --set lora.rank
expect "help" 0 "imprint train CONFIG" -- "$BIN" --help
expect "resume and overwrite" 2 "--resume and --overwrite contradict each other" -- \
    "$BIN" train configs/tiny.cfg --resume "$T/run" --overwrite
# README.md's command list is --help's: every option word, and the usage text itself
help=$("$BIN" --help)
missing=""
for opt in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -q -- "$opt" README.md || missing="$missing $opt"
done
if [ -z "$missing" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL README.md lacks options of imprint --help:$missing"; fi
if printf '%s\n' "$help" | python3 -c '
import sys
h = sys.stdin.read().splitlines()
block = h[h.index("usage:"):]
block = block[:[i for i, l in enumerate(block) if l.startswith("The config reference")][0]]
while block and not block[-1]: block.pop()
sys.exit(0 if "\n".join(block) in open("README.md").read() else 1)'; then
    passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL README.md ## Commands differs from imprint --help's usage"; fi

# ---- config ------------------------------------------------------------------------------------
expect "missing config" 1 "nope.cfg: cannot open" -- "$BIN" train "$T/nope.cfg"
c=$(cfg unknown 's/rank = 4;/rnk = 4;/')
line=$(grep -n 'rnk = 4' "$c" | cut -d: -f1)
expect "unknown key" 1 "$c:$line: unknown key 'lora.rnk'; did you mean 'lora.rank'?" -- "$BIN" train "$c"
c=$(cfg type 's/rank = 4;/rank = 4.5;/')
expect "wrong type" 1 "'lora.rank' must be an integer" -- "$BIN" train "$c"
c=$(cfg range 's/alpha = 8.0;/alpha = 8.0; dropout = 1.5;/')
expect "out of range" 1 "'lora.dropout' = 1.5 is out of range" -- "$BIN" train "$c"
c=$(cfg enum 's/"cosine"/"cosin"/')
expect "bad enum" 1 "is not one of cosine, linear, constant" -- "$BIN" train "$c"
c=$(cfg syntax 's/rank = 4;/rank = = 4;/')
line=$(grep -n 'rank = = 4' "$c" | cut -d: -f1)
expect "syntax" 1 "$c:$line:" -- "$BIN" train "$c"
expect "override unknown" 1 "--set lora.rnk" -- "$BIN" train configs/tiny.cfg --set lora.rnk=3
expect "override type" 1 "--set lora.rank" -- "$BIN" train configs/tiny.cfg --set lora.rank=x
expect "override float for int" 1 "'lora.rank' must be an integer" -- \
    "$BIN" train configs/tiny.cfg --set lora.rank=2.5
expect "seq_len over context" 1 "batch.seq_len" -- "$BIN" train configs/tiny.cfg --set batch.seq_len=65

# ---- checks that need the model ------------------------------------------------------------------
c=$(cfg layers 's/layers = \[0, -1\]/layers = [0, 5]/')
line=$(grep -n 'layers = \[0, 5\]' "$c" | cut -d: -f1)
expect "lora layers beyond model" 1 "$c:$line: lora.layers = [0, 5] is not a range inside" -- \
    "$BIN" train "$c" "${base[@]}"
expect "lora layers via --set" 1 "--set lora.layers" -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set 'lora.layers=[0, 5]'
expect "missing data" 1 "$T/none.bin: cannot open" -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set "data.path=\"$T/none.bin\""
expect "text as token shard" 1 "bad magic" -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set 'data.format="llmc"'
# an llm.c shard (magic 20240520, version 1, 600 byte-sized ids) read as raw bytes
python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<3i", 20240520, 1, 600) + bytes(1012) + struct.pack("<600H", *[i % 97 for i in range(600)]))' "$T/shard.bin"
expect "token shard as text" 1 "shard.bin: byte 0: starts with the magic 20240520 of an llm.c token shard, but data.format = \"bytes\"" -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set "data.path=\"$T/shard.bin\""
expect "token shard as text: the fix" 1 'set data.format = "llmc"' -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set "data.path=\"$T/shard.bin\""
expect "token shard read as llmc" 0 "" -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set "data.path=\"$T/shard.bin\"" --set 'data.format="llmc"' \
    --set run.steps=1 --set "run.dir=\"$T/shardrun\""
# a config that names a checkpoint instead of a random model
python3 -c 'import re,sys; t=open(sys.argv[1]).read(); open(sys.argv[2],"w").write(re.sub(r"model = \{.*?\n\};", "model = { path = \"MODEL\"; };", t, count=1, flags=re.S))' \
    configs/tiny.cfg "$T/path.cfg"
expect "missing model" 1 "$T/nomodel" -- \
    "$BIN" train "$T/path.cfg" "${base[@]}" --set "model.path=\"$T/nomodel\""

# a real HF checkpoint, then a truncated and a lying one
"$BUILD/tests/parity_dump" "$T/ckpt" qkvo >/dev/null
mdl="$T/ckpt/model"
good=(train "$T/path.cfg" "${base[@]}" --set "model.path=\"$mdl\"" --set batch.seq_len=16)
sz=$(stat -c %s "$mdl/model.safetensors")
cp "$mdl/model.safetensors" "$T/full.safetensors"
head -c $((sz / 2)) "$T/full.safetensors" >"$mdl/model.safetensors"
expect "truncated safetensors" 1 "model.safetensors" -- "$BIN" "${good[@]}"
# a header that claims more bytes than the file has
python3 - "$T/full.safetensors" "$mdl/model.safetensors" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
data[0:8] = struct.pack("<Q", len(data) * 4)
open(sys.argv[2], "wb").write(data)
EOF
expect "lying header length" 1 "exceeds the file size" -- "$BIN" "${good[@]}"
cp "$T/full.safetensors" "$mdl/model.safetensors"
# vocab 97 < 256 byte tokens in the data
expect "data beyond vocab" 1 "vocabulary has 97 entries" -- "$BIN" "${good[@]}"

# ---- a curriculum run -----------------------------------------------------------------------------
"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$T/cur.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
batch = { global = 6; seq_len = 128; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = ( { name = "anchor"; band = [0.0, 0.1]; steps = 1; },
               { name = "thin"; band = [0.9, 0.95]; steps = 1; } );
};
run = { dir = "$T/cur"; log_every = 100; };
CFG
cur=(train "$T/cur.cfg" --quiet --overwrite)
expect "chain longer than batch.seq_len" 1 \
    "needs 38 tokens with its EOT but batch.seq_len is 16 (the model's context is 128: raise batch.seq_len up to 128, or shorten the chain)" \
    -- "$BIN" "${cur[@]}" --set batch.seq_len=16
expect "nearly empty band warns" 0 \
    "warning: stage 'thin' band [0.90, 0.95]: 14 variants where 45 were asked (5 per chain for 9 training chains); widen the band or lower curriculum.variants" \
    -- "$BIN" "${cur[@]}"
expect "stage steps by --set" 0 "" -- "$BIN" "${cur[@]}" --set curriculum.stages.thin.steps=2 \
    --set 'curriculum.stages[0].steps=2'
expect "stage index out of range" 1 \
    "--set curriculum.stages.2.steps: the config has 2 stages (0 anchor, 1 thin); there is no stage 2" \
    -- "$BIN" "${cur[@]}" --set curriculum.stages.2.steps=5
expect "run.steps with a curriculum" 1 \
    "--set run.steps: 'run.steps' is given but the run has a curriculum, whose stages have their own steps" \
    -- "$BIN" "${cur[@]}" --set run.steps=5
expect "missing tokenizer dir" 1 "--set model.tokenizer: $T/notok: no such directory" -- \
    "$BIN" "${cur[@]}" --set "model.tokenizer=\"$T/notok\""
for shipped in configs/*.cfg; do
    expect "shipped config $shipped validates" 0 "" -- "$BIN" config "$shipped"
done
expect "typed chain longer than the row, before training" 1 \
    "rendered with the longest entries of its slot types" \
    -- "$BIN" train configs/typed.cfg --quiet --set batch.seq_len=80 --set "run.dir=\"$T/typed\""
expect "a chain library that is a directory" 1 \
    "tests/data/chains: not a regular file (a directory?); give the path of a file" \
    -- "$BIN" "${cur[@]}" --set 'curriculum.library=["tests/data/chains"]'
expect "generate: missing model dir" 1 "$T/nomodel: no such directory" -- \
    "$BIN" generate "$T/nomodel" hello

# ---- run directory ------------------------------------------------------------------------------
"$BIN" train configs/tiny.cfg "${base[@]}" --set run.steps=2 >/dev/null 2>&1
expect "run dir reuse" 1 "$T/run holds 1 checkpoint of an earlier run (newest: checkpoints/step-000002, step 2); pass --resume $T/run to continue it, --overwrite to replace it" -- \
    "$BIN" train configs/tiny.cfg "${base[@]}" --set run.steps=2
expect "run dir overwrite" 0 "" -- "$BIN" train configs/tiny.cfg "${base[@]}" --set run.steps=2 --overwrite

# ---- imprint eval -------------------------------------------------------------------------------
expect "eval json dir" 1 "--json $T/nodir/e.json: the directory $T/nodir does not exist" -- \
    "$BIN" eval configs/tiny.cfg --json "$T/nodir/e.json"
expect "eval adapter missing" 1 "--adapter $T/none: No such file or directory" -- \
    "$BIN" eval configs/tiny.cfg --adapter "$T/none"
expect "eval json needs a path" 2 "--json needs a path" -- "$BIN" eval configs/tiny.cfg --json
expect "eval items dir" 1 "--items $T/nodir/i.jsonl: the directory $T/nodir does not exist" -- \
    "$BIN" eval configs/tiny.cfg --items "$T/nodir/i.jsonl"
expect "eval items and json on stdout" 1 "--json - and --items - both want stdout" -- \
    "$BIN" eval configs/tiny.cfg --json - --items -

# ---- imprint generate (the arguments are checked before the model is read) ---------------------
expect "generate adapter missing" 1 "--adapter $T/none: No such file or directory; give a run directory" -- \
    "$BIN" generate "$T/nomodel" --adapter "$T/none" hello
expect "generate adapter needs a path" 1 "generate: option --adapter needs a value" -- \
    "$BIN" generate "$T/nomodel" hello --adapter
expect "generate negative temperature" 1 "--temperature must be a number in [0, 1000] (0: greedy), got '-0.5'" -- \
    "$BIN" generate "$T/nomodel" --temperature -0.5 hello
expect "generate top-k 0" 1 "--top-k must be an integer in [1, 1073741824], got '0'" -- \
    "$BIN" generate "$T/nomodel" --temperature 1 --top-k 0 hello
expect "generate top-k when greedy" 1 "--top-k 5 only applies when sampling; add --temperature T > 0" -- \
    "$BIN" generate "$T/nomodel" --top-k 5 hello
expect "generate seed when greedy" 1 "--seed 3 only applies when sampling" -- \
    "$BIN" generate "$T/nomodel" --seed 3 hello
expect "generate bad seed" 1 "--seed must be a non-negative integer below 2^64, got '-3'" -- \
    "$BIN" generate "$T/nomodel" --temperature 1 --seed -3 hello
expect "generate compare without adapter" 1 "--compare needs --adapter PATH" -- \
    "$BIN" generate "$T/nomodel" --compare hello

# ---- under MPI: one message, every rank exits non-zero --------------------------------------------
# ---- imprint probe ------------------------------------------------------------------------------
M=models/brown-gpt2-small
expect "probe: no model" 1 "probe: no MODEL given; usage: imprint probe MODEL [--tokenizer DIR]" -- \
    "$BIN" probe
expect "probe: unknown option" 1 "probe: unknown option '--spam'; usage: imprint probe" -- \
    "$BIN" probe "$M" --spam 3
expect "probe: option without value" 1 "probe: --span needs a value" -- "$BIN" probe "$M" --span
expect "probe: span not a number" 1 "probe: --span must be an integer in [2, 1048576], got 'ten'" -- \
    "$BIN" probe "$M" --span ten
expect "probe: one copy" 1 "probe: --reps must be an integer in [2, 1048576], got '1'" -- \
    "$BIN" probe "$M" --reps 1
expect "probe: negative seed" 1 "probe: --seed must be a non-negative integer, got '-1'" -- \
    "$BIN" probe "$M" --seed -1
expect "probe: two models" 1 "probe: unexpected argument 'x' (the model is already '$M')" -- \
    "$BIN" probe "$M" x
expect "probe: longer than the context" 1 \
    "probe: --span 50 x --reps 3 = 150 tokens do not fit the context of $M (128 positions); lower --span or --reps so that span x reps <= 128" \
    -- "$BIN" probe "$M" --reps 3
expect "probe: missing model" 1 "$T/nomodel: not found" -- "$BIN" probe "$T/nomodel"
expect "probe: missing tokenizer" 1 "probe: --tokenizer: $T/notok" -- \
    "$BIN" probe "$M" --tokenizer "$T/notok"
expect "probe: json dir" 1 "--json $T/nodir/p.json: the directory $T/nodir does not exist" -- \
    "$BIN" probe "$M" --json "$T/nodir/p.json"
expect "probe: missing text" 1 "probe: --text: $T/none.txt: cannot open" -- \
    "$BIN" probe "$M" --text "$T/none.txt"
printf '\n\n  \n\n' >"$T/blank.txt"
expect "probe: empty text" 1 "probe: --text $T/blank.txt: holds no text; give a file of documents separated by blank lines" \
    -- "$BIN" probe "$M" --text "$T/blank.txt"
printf 'A short one.\n\nAnother short one.\n' >"$T/short.txt"
expect "probe: passages too short" 1 \
    "probe: --text $T/short.txt: none of its 2 documents has 50 tokens (the longest has 5); lower --span to at most 5" \
    -- "$BIN" probe "$M" --text "$T/short.txt"
mkdir -p "$T/bare"
ln -s "$PWD/$M/config.json" "$PWD/$M/model.safetensors" "$T/bare/"
expect "probe: text without a tokenizer" 1 \
    "probe: --text $T/short.txt needs the model's tokenizer, and $T/bare has no vocab.json; give it with --tokenizer DIR" \
    -- "$BIN" probe "$T/bare" --text "$T/short.txt"

out=$("$MPIRUN" --oversubscribe -np 2 "$BIN" train configs/tiny.cfg --set lora.rnk=3 2>&1)
status=$?
n=$(printf '%s\n' "$out" | grep -c "unknown key 'lora.rnk'")
if [ $status -ne 0 ] && [ "$n" = 1 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL mpi config error: exit $status, message printed $n times"; fi
out=$("$MPIRUN" --oversubscribe -np 2 "$BIN" train configs/tiny.cfg "${base[@]}" --overwrite \
      --set "data.path=\"$T/none.bin\"" 2>&1)
status=$?
n=$(printf '%s\n' "$out" | grep -c "none.bin: cannot open")
if [ $status -ne 0 ] && [ "$n" = 1 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL mpi setup error: exit $status, message printed $n times"; echo "$out" | head; fi

out=$("$MPIRUN" --oversubscribe -np 2 "$BIN" eval configs/tiny.cfg --json "$T/nodir/e.json" 2>&1)
status=$?
n=$(printf '%s\n' "$out" | grep -c "nodir/e.json: the directory")
if [ $status -ne 0 ] && [ "$n" = 1 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL mpi eval setup error: exit $status, message printed $n times"; echo "$out" | head; fi

echo "cli_errors: $passed passed, $failed failed"
[ $failed = 0 ]
