# lib.sh — what the end-to-end test scripts share; source it with the script's short name:
#   . "$(dirname "$0")/lib.sh" resume
# It sets BIN and MPIRUN (from ctest's environment, or the defaults), lets mpirun run as root,
# one OpenMP thread per rank, a private temp dir $T removed on exit, and check CMD WHAT, which
# counts a passed or failed check (print the "N passed, M failed" line and exit at the end).
BIN=${IMPRINT_BIN:-build/imprint}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
T=$(mktemp -d "/tmp/imprint-$1-XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; fi; }
