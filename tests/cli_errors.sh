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
expect "no config" 2 "needs a config file" -- "$BIN" train
expect "unknown option" 2 "unknown option '--sett'" -- "$BIN" train configs/tiny.cfg --sett x=1
expect "bad --set" 2 "--set needs KEY=VALUE" -- "$BIN" train configs/tiny.cfg --set lora.rank
expect "help" 0 "imprint train CONFIG" -- "$BIN" --help

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

# ---- run directory ------------------------------------------------------------------------------
"$BIN" train configs/tiny.cfg "${base[@]}" --set run.steps=2 >/dev/null 2>&1
expect "run dir reuse" 1 "already holds checkpoints" -- "$BIN" train configs/tiny.cfg "${base[@]}" --set run.steps=2
expect "run dir overwrite" 0 "" -- "$BIN" train configs/tiny.cfg "${base[@]}" --set run.steps=2 --overwrite

# ---- imprint eval -------------------------------------------------------------------------------
expect "eval json dir" 1 "--json $T/nodir/e.json: the directory $T/nodir does not exist" -- \
    "$BIN" eval configs/tiny.cfg --json "$T/nodir/e.json"
expect "eval adapter missing" 1 "--adapter $T/none: No such file or directory" -- \
    "$BIN" eval configs/tiny.cfg --adapter "$T/none"
expect "eval json needs a path" 2 "--json needs a path" -- "$BIN" eval configs/tiny.cfg --json

# ---- under MPI: one message, every rank exits non-zero --------------------------------------------
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
