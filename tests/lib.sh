# lib.sh — what the end-to-end test scripts share; source it with the script's short name:
#   . "$(dirname "$0")/lib.sh" resume
# It sets BIN and MPIRUN (from ctest's environment, or the defaults), lets mpirun run as root,
# one OpenMP thread per rank, a private temp dir $T removed on exit, and check CMD WHAT, which
# counts a passed or failed check (print the "N passed, M failed" line and exit at the end), and
# pretrain_small NAME DATA.bin WIDTH LR STEPS, which pretrains a 2-layer model (vocabulary 600,
# the tokenizer in $T/tok) on a token file into $T/NAME and prints its last checkpoint's path.
BIN=${IMPRINT_BIN:-build/imprint}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
T=$(mktemp -d "/tmp/imprint-$1-XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; fi; }
pretrain_small() {
    local name=$1 data=$2 width=$3 lr=$4 steps=$5
    cat >"$T/$name.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = $width; vocab = 600; context = 128; };
          tokenizer = "$T/tok"; };
optim = { lr = $lr; warmup = 5; };
data = { path = "$data"; format = "llmc"; };
batch = { global = 8; seq_len = 64; };
run = { dir = "$T/$name"; steps = $steps; log_every = 1000; };
CFG
    "$BIN" pretrain "$T/$name.cfg" --quiet >/dev/null || return 1
    printf '%s/%s/checkpoints/step-%06d\n' "$T" "$name" "$steps"
}
