#!/usr/bin/python3
"""Parity of imprint's C model with PyTorch (Debian's python3-torch, run with /usr/bin/python3).

For each case, tests/parity_dump (C) writes a random GPT-2 in Hugging Face layout, a LoRA
adapter with non-zero B, a weighted batch, and what the C code computed. This script rebuilds
the same model in plain PyTorch (nn-free: the GPT-2 equations written out, float64), loads the
same safetensors files, and checks:

  * logits, the weighted loss and every LoRA gradient: max |C - torch| <= 1e-4 * max |torch|
    for each tensor (relative to the tensor's scale, so entries that are zero by cancellation
    do not turn the bound into noise);
  * six AdamW steps (warmup + cosine schedule, global-norm clipping, decoupled weight decay)
    with torch.optim.AdamW and torch.nn.utils.clip_grad_norm_: the loss before each step
    within 1e-4 relative, the learning rates exactly as the schedule formula gives them, and
    the final adapters within 1e-3 relative;
  * case "full": the gradient of every base tensor too (pretraining mode);
  * case "long": a 136-token sequence, where attention runs as per-head matrix products
    (kernels.c switches at 128 tokens), forward and backward.

The torch side runs in float64, so the bounds measure the C code's fp32 error alone.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_ref import gpt2_forward, load_safetensors  # noqa: E402

def weighted_loss(logits, targets, weights):
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).clamp(min=0),
                         reduction="none")
    return (ce * weights.reshape(-1)).sum() / weights.sum()


def lr_at(step, total, lr=1e-2, warmup=2, min_ratio=0.1):
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / (total - warmup))
    lo = lr * min_ratio
    return lo + (lr - lo) * 0.5 * (1 + math.cos(math.pi * progress))


failures = []


def check(name, got, want, rtol):
    got, want = got.to(torch.float64), want.to(torch.float64)
    if got.shape != want.shape:
        failures.append(f"{name}: shape {tuple(got.shape)} vs {tuple(want.shape)}")
        return
    scale = want.abs().max().item()
    err = (got - want).abs().max().item()
    rel = err / scale if scale > 0 else err
    ok = rel <= rtol
    print(f"  {'ok  ' if ok else 'FAIL'} {name:44s} max|diff|/max|ref| = {rel:.2e} (bound {rtol:g})")
    if not ok:
        failures.append(f"{name}: relative error {rel:.3e} > {rtol:g}")


def run_case(dump, case):
    with tempfile.TemporaryDirectory(prefix="imprint-parity-") as d:
        subprocess.run([dump, d, case], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "model", "config.json")) as f:
            cfg = json.load(f)
        P, _ = load_safetensors(os.path.join(d, "model", "model.safetensors"))
        lora_init, _ = load_safetensors(os.path.join(d, "lora_init.safetensors"))
        R, meta = load_safetensors(os.path.join(d, "results.safetensors"))
    print(f"case {case}: {cfg['n_layer']} layers, width {cfg['n_embd']}, rank {meta['lora_rank']}, "
          f"rslora {meta['rslora']}, {len(lora_init) // 2} adapters")
    rank, alpha = int(meta["lora_rank"]), 8.0
    scale = alpha / math.sqrt(rank) if meta["rslora"] == "1" else alpha / rank
    check("lora scale", torch.tensor([float(meta["lora_scale"])]), torch.tensor([scale]), 1e-6)

    B, T = R["logits"].shape[:2]
    tokens = R["inputs"].long().reshape(B, T)
    targets = R["targets"].long().reshape(B, T)
    weights = R["weights"].reshape(B, T)

    full = case == "full"
    P = {k: v.clone().requires_grad_(full) for k, v in P.items()}
    lora = {k: v.clone().requires_grad_(True) for k, v in lora_init.items()}
    logits = gpt2_forward(P, cfg, lora, scale, tokens)
    loss = weighted_loss(logits, targets, weights)
    loss.backward()
    check("logits", R["logits"], logits.detach(), 1e-4)
    check("loss", R["loss"], loss.detach().reshape(1), 1e-4)
    for name, t in sorted(lora.items()):
        check(f"grad {name}", R[f"grad.{name}"], t.grad, 1e-4)
    if full:
        for name, t in sorted(P.items()):
            check(f"base grad {name}", R[f"basegrad.{name}"], t.grad, 1e-4)

    # AdamW steps on the same batch
    P = {k: v.detach() for k, v in P.items()}
    lora = {k: v.clone().requires_grad_(True) for k, v in lora_init.items()}
    names = sorted(lora)
    opt = torch.optim.AdamW([lora[n] for n in names], lr=1e-2, betas=(0.9, 0.99), eps=1e-8,
                            weight_decay=0.01)
    steps = R["step_losses"].shape[0]
    losses, lrs = [], []
    for s in range(steps):
        opt.zero_grad()
        loss = weighted_loss(gpt2_forward(P, cfg, lora, scale, tokens), targets, weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([lora[n] for n in names], 0.5)
        lr = lr_at(s, steps)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        losses.append(loss.item())
        lrs.append(lr)
    check("AdamW step losses", R["step_losses"], torch.tensor(losses), 1e-4)
    check("schedule learning rates", R["step_lrs"], torch.tensor(lrs), 1e-6)
    for n in names:
        check(f"after {steps} steps {n}", R[f"final.{n}"], lora[n].detach(), 1e-3)


def main():
    build = os.environ.get("IMPRINT_BUILD", "build")
    dump = os.path.join(build, "tests", "parity_dump")
    if not os.path.exists(dump):
        print(f"torch_parity: {dump} not found; build the project first", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    for case in ("qkvo", "qv-rslora", "full", "long"):
        run_case(dump, case)
    n_fail = len(failures)
    for f in failures:
        print("FAIL", f)
    print(f"torch_parity: {'all checks passed' if n_fail == 0 else f'{n_fail} checks failed'}")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
