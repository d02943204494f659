#!/usr/bin/env bash
# test.sh — builds imprint twice (optimised, and with AddressSanitizer + UndefinedBehaviorSanitizer)
# and runs the whole test suite on both builds, then a bounded libFuzzer run of every reader of
# untrusted input (config, safetensors, tokenizer files, chain libraries; 20 s each). Exits
# non-zero if anything fails.
#   scripts/test.sh            everything
#   scripts/test.sh --fast     optimised build only
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # mpirun refuses root without these

run_suite() { # name, build dir, cmake args...
    local name=$1 dir=$2
    shift 2
    echo "==== $name build ($dir)"
    mkdir -p "$dir"
    cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { tail -60 "$dir/build.log"; return 1; }
    echo "==== $name tests"
    (cd "$dir" && ctest --output-on-failure --timeout 900)
}

run_suite "optimised" build -DCMAKE_BUILD_TYPE=Release
if [ "${1:-}" != "--fast" ]; then
    run_suite "sanitizer (ASan+UBSan)" build-asan -DCMAKE_BUILD_TYPE=Debug -DIMPRINT_SANITIZE=ON
    CC=clang run_suite "fuzz (libFuzzer, bounded)" build-fuzz -DIMPRINT_FUZZ=ON
fi
echo "==== all tests passed"
