#!/usr/bin/env bash
# format.sh — every C source is clang-formatted with the repository's .clang-format.
set -u
files=$(git ls-files '*.c' '*.h' '*.cu' '*.cuh' 2>/dev/null || find trainer comm curriculum tests bench -name '*.[ch]')
bad=0
n=0
for f in $files; do
    n=$((n + 1))
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
echo "format: $((n - bad)) passed, $bad failed"
[ $bad = 0 ] && [ $n -gt 0 ]
