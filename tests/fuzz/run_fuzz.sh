#!/usr/bin/env bash
# run_fuzz.sh TARGET SEEDS SECONDS — a bounded libFuzzer run from the seed corpus (new inputs go
# to a temporary directory, so the repository's seeds stay as they are). Any crash, sanitizer
# report or leak fails the test; libFuzzer saves the input as crash-* in the working directory.
set -euo pipefail
target=$1 seeds=$2 seconds=$3
work=$(mktemp -d /tmp/imprint-fuzz-XXXXXX)
trap 'rm -rf "$work" /tmp/imprint-fuzz-*-*' EXIT
cd "$work"
"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    "$work" "$seeds" 2>&1 | tail -15
echo "$(basename "$target"): 1 passed, 0 failed"
