#!/usr/bin/python3
"""The shipped base model (models/brown-gpt2-small) is a real Hugging Face GPT-2 directory:
imprint's loader and a plain PyTorch GPT-2 (tests/gpt2_ref.py, float64) fed the same
model.safetensors produce the same logits within 1e-4 of their scale, on two sequences that
fill the whole context. Also checks the files a Hugging Face user expects are there and agree
with each other (config.json shape = tensors; vocab.json size = vocab_size)."""
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_ref import gpt2_forward, load_safetensors  # noqa: E402

MODEL = os.environ.get("IMPRINT_BASE_MODEL", "models/brown-gpt2-small")


def main():
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        passed, failed = passed + bool(ok), failed + (not ok)
        print(("  ok   " if ok else "  FAIL ") + what)

    dump = os.path.join(os.environ.get("IMPRINT_BUILD", "build"), "tests", "logits_dump")
    for f in ("config.json", "model.safetensors", "vocab.json", "merges.txt", "README.md"):
        check(os.path.exists(os.path.join(MODEL, f)), f"{MODEL}/{f} exists")
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    P, meta = load_safetensors(os.path.join(MODEL, "model.safetensors"))
    vocab = json.load(open(os.path.join(MODEL, "vocab.json")))
    check(len(vocab) == cfg["vocab_size"], f"vocab.json has {len(vocab)} = vocab_size entries")
    check(tuple(P["wte.weight"].shape) == (cfg["vocab_size"], cfg["n_embd"]), "wte shape")
    check(sum(1 for k in P if k.startswith("h.0.")) == 12, "12 tensors per block")
    size = os.path.getsize(os.path.join(MODEL, "model.safetensors"))
    check(size <= 32 * 1024 * 1024, f"model.safetensors is {size / 2**20:.1f} MiB (at most 32)")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.safetensors")
        subprocess.run([dump, MODEL, out], check=True)
        R, _ = load_safetensors(out)
    tokens = R["tokens"].long()
    want = gpt2_forward(P, cfg, {}, 0.0, tokens)
    err = (R["logits"] - want).abs().max().item()
    scale = want.abs().max().item()
    print(f"  logits: max |C - torch| = {err:.3g}, max |torch| = {scale:.3g}, "
          f"relative {err / scale:.2e}")
    check(err <= 1e-4 * scale, "imprint and PyTorch agree on the logits (1e-4 relative)")
    print(f"base_model_parity: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
