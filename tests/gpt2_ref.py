"""A plain PyTorch GPT-2 (no transformers package): the reference imprint's C model is checked
against. Reads Hugging Face GPT-2 tensors from safetensors files with the standard library."""
import json
import math
import struct

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b : base + end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).to(torch.float64)
    return out, meta


def gpt2_forward(P, cfg, lora, scale, tokens, atts=None):
    """Plain GPT-2 (HF Conv1D layout: y = x @ W + b) with per-projection LoRA on q, k, v, o.
    atts, a list, gets each layer's attention probabilities [B, NH, T, T] appended."""
    L, C, NH = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
    Bsz, T = tokens.shape
    hs = C // NH
    x = P["wte.weight"][tokens] + P["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    eps = cfg["layer_norm_epsilon"]

    def adapter(l, t, inp):
        a = lora.get(f"h.{l}.attn.{t}.lora_A")
        if a is None:
            return 0
        return scale * (inp @ a.T) @ lora[f"h.{l}.attn.{t}.lora_B"].T

    for l in range(L):
        p = lambda s: P[f"h.{l}.{s}"]
        h = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), eps)
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=-1)
        q = q + adapter(l, "q", h)
        k = k + adapter(l, "k", h)
        v = v + adapter(l, "v", h)
        q, k, v = (z.view(Bsz, T, NH, hs).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        if atts is not None:
            atts.append(att)
        y = (att @ v).transpose(1, 2).reshape(Bsz, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias") + adapter(l, "o", y)
        h = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), eps)
        h = F.gelu(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), approximate="tanh")
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], eps)
    return x @ P["wte.weight"].T


