#!/usr/bin/python3
"""imprint probe against PyTorch (Debian's python3-torch, float64; tests/gpt2_ref.py's GPT-2).

imprint probe writes the token sequences it used into its JSON; this script replays them through
the reference GPT-2 and recomputes every number from the definitions in trainer/eval/probe.h:

  * previous-token and induction scores of every head (attention read from the reference):
    within 1e-4;
  * the mean next-token loss of each copy, random sequences and text passages: within 1e-4;
  * copying: for each head the eigenvalues of K = W_O (W_E^T W_E) W_V in torch: the count with
    a positive real part equal, sum/sum|.| within 1e-6. On the small random model the full
    V x V OV circuit W_E W_V W_O W_E^T is also diagonalised, to check the shortcut itself: its
    d largest eigenvalues carry the same count and the rest are zero;
  * the random sequences: span distinct ids each, no special token, the same for the same
    --seed and different for another.

Three models: a small random GPT-2 (small init: attention near uniform, so every head scores
about what uniform attention scores, and no head counts as an induction head); a hand-built
2-layer model with an exact previous-token head (0.0) and induction head (1.0), which must
score about 1 on both, copy with every eigenvalue, and predict the second copy almost perfectly
while the first, which it can only get wrong, costs more than ln V; and the shipped
models/brown-gpt2-small with --text.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_ref import gpt2_forward, load_safetensors  # noqa: E402

BIN = os.environ.get("IMPRINT_BIN", "build/imprint")
BROWN = "models/brown-gpt2-small"
passed = failed = 0


def check(ok, what):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(("  ok   " if ok else "  FAIL ") + what)


def save_model(d, P, cfg):
    """An HF GPT-2 directory: config.json and model.safetensors (F32)."""
    os.makedirs(d, exist_ok=True)
    conf = {"model_type": "gpt2", "activation_function": "gelu_new", "n_layer": cfg["n_layer"],
            "n_head": cfg["n_head"], "n_embd": cfg["n_embd"], "vocab_size": cfg["vocab_size"],
            "n_positions": cfg["n_positions"], "layer_norm_epsilon": 1e-5}
    json.dump(conf, open(os.path.join(d, "config.json"), "w"))
    header, blobs, off = {}, [], 0
    for name, t in P.items():
        b = t.to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def empty_params(L, C, V, n_ctx):
    P = {"wte.weight": torch.zeros(V, C), "wpe.weight": torch.zeros(n_ctx, C),
         "ln_f.weight": torch.ones(C), "ln_f.bias": torch.zeros(C)}
    for l in range(L):
        for s, shape in (("ln_1.weight", C), ("ln_1.bias", C), ("attn.c_attn.weight", (C, 3 * C)),
                         ("attn.c_attn.bias", 3 * C), ("attn.c_proj.weight", (C, C)),
                         ("attn.c_proj.bias", C), ("ln_2.weight", C), ("ln_2.bias", C),
                         ("mlp.c_fc.weight", (C, 4 * C)), ("mlp.c_fc.bias", 4 * C),
                         ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", C)):
            P[f"h.{l}.{s}"] = torch.ones(shape) if s.startswith("ln") and "weight" in s \
                else torch.zeros(shape)
    return P


def random_model(d):
    L, C, NH, V, n_ctx = 2, 48, 4, 96, 64
    g = torch.Generator().manual_seed(7)
    P = empty_params(L, C, V, n_ctx)
    for k in P:
        if k.endswith("weight") and "ln" not in k:
            P[k] = torch.randn(P[k].shape, generator=g, dtype=torch.float64) * 0.02
    save_model(d, P, dict(n_layer=L, n_head=NH, n_embd=C, vocab_size=V, n_positions=n_ctx))


def induction_model(d):
    """Residual subspaces: token one-hot [0, V), position one-hot [V, V+n_ctx), previous token
    [V+n_ctx, 2V+n_ctx), and a constant (layer 1's ln_1 bias) at ONE. Layer 0 head 0 attends
    from t to t-1 (position query against shifted position key) and writes that position's
    token into the previous-token subspace; layer 1 head 0 attends from t to the position whose
    previous token is x[t] (never to position 0, which has no previous token: its key is pushed
    down through the constant) and writes that position's token onto the token subspace, which
    the tied unembedding reads. Every other head and both MLPs are zero."""
    V, n_ctx, NH, C = 60, 64, 3, 192
    hd = C // NH  # 64: head 0 of each layer uses all of it
    PREV, ONE = V + n_ctx, 2 * V + n_ctx
    P = empty_params(2, C, V, n_ctx)
    P["wte.weight"][torch.arange(V), torch.arange(V)] = 1.0
    P["wpe.weight"][torch.arange(n_ctx), V + torch.arange(n_ctx)] = 1.0
    sigma = math.sqrt(2 / C)  # about the std of a residual holding two ones
    beta = 4.0
    a0 = P["h.0.attn.c_attn.weight"]  # [C, 3C]: q | k | v column blocks
    for p in range(n_ctx):
        a0[V + p, p] = beta  # query: my position
        if p + 1 < hd:
            a0[V + p, C + p + 1] = 1.0  # key: my position + 1
    for i in range(V):
        a0[i, 2 * C + i] = 1.0  # value: my token
        P["h.0.attn.c_proj.weight"][i, PREV + i] = sigma  # into the previous-token subspace
    a1 = P["h.1.attn.c_attn.weight"]
    for i in range(V):
        a1[i, i] = beta  # query: my token
        a1[PREV + i, C + i] = 1.0  # key: the token before me
        a1[i, 2 * C + i] = 1.0  # value: my token
        P["h.1.attn.c_proj.weight"][i, i] = 1.0  # onto the token subspace
    P["h.1.ln_1.bias"][ONE] = 1.0
    a1[ONE, hd - 1] = beta  # query: a constant
    a1[V, C + hd - 1] = -10.0  # key: position 0 is never the one after a match
    save_model(d, P, dict(n_layer=2, n_head=NH, n_embd=C, vocab_size=V, n_positions=n_ctx))


def run_probe(model, *args):
    r = subprocess.run([BIN, "probe", model, "--json", "-", *args], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        raise SystemExit(f"imprint probe {model} failed")
    return json.loads(r.stdout), r.stderr


def reference(P, cfg, seqs, span, reps):
    """Per-head prev/induction scores and per-copy losses, from the definitions."""
    x = torch.tensor(seqs, dtype=torch.long).repeat(1, reps)
    T = span * reps
    atts = []
    logits = gpt2_forward(P, cfg, {}, 0.0, x, atts)
    logp = F.log_softmax(logits, -1)
    nll = -logp[:, :-1].gather(-1, x[:, 1:, None])[..., 0]  # nll[:, p] predicts token p+1
    losses = [nll[:, k * span:(k + 1) * span - 1].mean().item() for k in range(reps)]
    t = torch.arange(1, T)
    prev = [a[:, :, t, t - 1].mean(dim=(0, 2)) for a in atts]
    t = torch.arange(span, T)
    ind = [a[:, :, t, t - span + 1].mean(dim=(0, 2)) for a in atts]
    return torch.stack(prev).flatten(), torch.stack(ind).flatten(), losses


def eig_K(P, cfg, l, h):
    C, NH = cfg["n_embd"], cfg["n_head"]
    d = C // NH
    E = P["wte.weight"]
    Wv = P[f"h.{l}.attn.c_attn.weight"][:, 2 * C + h * d:2 * C + (h + 1) * d]
    Wo = P[f"h.{l}.attn.c_proj.weight"][h * d:(h + 1) * d, :]
    return torch.linalg.eigvals(Wo @ (E.T @ E) @ Wv), E, Wv, Wo


def compare(name, model, out, seqs_key="random", full_ov=False):
    P, _ = load_safetensors(os.path.join(model, "model.safetensors"))
    cfg = json.load(open(os.path.join(model, "config.json")))
    cfg.setdefault("layer_norm_epsilon", 1e-5)
    span, reps = out["span"], out["reps"]
    prev, ind, losses = reference(P, cfg, out["random"]["sequences"], span, reps)
    heads = out["heads"]
    c_prev = torch.tensor([h["prev_token"] for h in heads], dtype=torch.float64)
    c_ind = torch.tensor([h["induction"] for h in heads], dtype=torch.float64)
    e1, e2 = (c_prev - prev).abs().max().item(), (c_ind - ind).abs().max().item()
    check(e1 <= 1e-4, f"{name}: previous-token scores agree (max diff {e1:.2e})")
    check(e2 <= 1e-4, f"{name}: induction scores agree (max diff {e2:.2e})")
    e3 = max(abs(a - b) for a, b in zip(out["random"]["copies"], losses))
    check(e3 <= 1e-4, f"{name}: random-sequence loss per copy agrees (max diff {e3:.2e}; "
          f"torch {', '.join(f'{v:.4f}' for v in losses)})")
    if out.get("text"):
        _, _, tl = reference(P, cfg, out["text"]["sequences"], span, reps)
        e4 = max(abs(a - b) for a, b in zip(out["text"]["copies"], tl))
        check(e4 <= 1e-4, f"{name}: text-passage loss per copy agrees (max diff {e4:.2e}; "
              f"torch {', '.join(f'{v:.4f}' for v in tl)})")
    bad_count, worst_ratio, full_bad = [], 0.0, []
    for hj in heads:
        lam, E, Wv, Wo = eig_K(P, cfg, hj["layer"], hj["head"])
        lam = lam[lam.abs() > 1e-9 * lam.abs().max()]  # the nonzero ones
        pos, nz = int((lam.real > 0).sum()), len(lam)
        if (pos, nz) != (hj["copying_positive"], hj["copying_nonzero"]) or \
                abs(hj["copying"] - (pos / nz if nz else 0.0)) > 1e-12:
            bad_count.append((hj["layer"], hj["head"], pos, nz, hj["copying_positive"]))
        mod = lam.abs().sum().item()
        ratio = lam.real.sum().item() / mod if mod > 0 else 0.0
        worst_ratio = max(worst_ratio, abs(ratio - hj["copying_ratio"]))
        if full_ov:
            M = E @ Wv @ Wo @ E.T  # [V, V]: the whole OV circuit
            mu = torch.linalg.eigvals(M)
            mu = mu[mu.abs().argsort(descending=True)]
            top, rest = mu[:nz], mu[nz:]
            if int((top.real > 0).sum()) != pos or rest.abs().max() > 1e-8 * top.abs().max():
                full_bad.append((hj["layer"], hj["head"]))
    check(not bad_count, f"{name}: copying counts (positive, nonzero) equal torch's for all "
          f"{len(heads)} heads "
          f"{bad_count[:4]}")
    check(worst_ratio <= 1e-6, f"{name}: copying ratio sum(l)/sum|l| agrees ({worst_ratio:.1e})")
    if full_ov:
        check(not full_bad, f"{name}: the full V x V OV circuit has the same nonzero eigenvalues "
              f"(count of positive ones) as the d x d shortcut {full_bad}")


def check_sequences(name, out, pool_size, specials=()):
    seqs, span = out["random"]["sequences"], out["span"]
    ok = len(seqs) == out["random"]["n"] and all(
        len(s) == span and len(set(s)) == span and all(0 <= t < pool_size for t in s) and
        not set(s) & set(specials) for s in seqs)
    check(ok, f"{name}: {len(seqs)} random sequences of {span} distinct ids below {pool_size}"
          + (f", none of {list(specials)}" if specials else ""))


def uniform_scores(span, reps):
    T = span * reps
    return (sum(1 / (t + 1) for t in range(1, T)) / (T - 1),
            sum(1 / (t + 1) for t in range(span, T)) / (T - span))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # 1. a small random model: parity, the full OV circuit, and ~uniform attention
        rnd = os.path.join(tmp, "random")
        random_model(rnd)
        out, _ = run_probe(rnd, "--span", "12", "--reps", "3", "--seed", "5")
        compare("random", rnd, out, full_ov=True)
        check_sequences("random", out, 96)
        up, ui = uniform_scores(12, 3)
        dev = max(max(abs(h["prev_token"] - up), abs(h["induction"] - ui)) for h in out["heads"])
        check(dev < 0.02, f"random: every head attends about uniformly (prev {up:.3f}, "
              f"induction {ui:.3f}; max deviation {dev:.3f})")
        check(abs(out["uniform"]["prev_token"] - up) < 1e-12 and
              abs(out["uniform"]["induction"] - ui) < 1e-12, "random: the uniform baselines")
        check(out["summary"]["induction_heads"] == 0, "random: no induction head")
        again, _ = run_probe(rnd, "--span", "12", "--reps", "3", "--seed", "5")
        other, _ = run_probe(rnd, "--span", "12", "--reps", "3", "--seed", "6")
        check(again["random"]["sequences"] == out["random"]["sequences"] and
              other["random"]["sequences"] != out["random"]["sequences"],
              "random: the same --seed draws the same sequences, another seed others")

        # 2. the hand-built induction circuit
        ind = os.path.join(tmp, "induction")
        induction_model(ind)
        out, report = run_probe(ind, "--span", "24", "--seed", "3")
        compare("induction", ind, out)
        check_sequences("induction", out, 60)
        h = {(x["layer"], x["head"]): x for x in out["heads"]}
        print(f"  induction model: prev 0.0 {h[0, 0]['prev_token']:.4f}, induction 1.0 "
              f"{h[1, 0]['induction']:.4f}, copying 1.0 {h[1, 0]['copying']:.3f}, loss first "
              f"{out['random']['first_copy']:.3f} second {out['random']['second_copy']:.4f}")
        check(h[0, 0]["prev_token"] > 0.95, "induction: head 0.0 is a previous-token head (> 0.95)")
        check(h[1, 0]["induction"] > 0.95, "induction: head 1.0 is an induction head (> 0.95)")
        check(out["summary"]["best_induction"] == {"layer": 1, "head": 0,
                                                   "score": h[1, 0]["induction"]}
              and out["summary"]["induction_heads"] == 1,
              "induction: the summary names head 1.0 as the one induction head")
        check(h[1, 0]["copying"] == 1.0 and h[1, 0]["copying_ratio"] > 0.999,
              "induction: head 1.0 copies (every eigenvalue positive)")
        check(h[1, 0]["copying_nonzero"] == 60, "induction: head 1.0's OV circuit has rank 60 "
              "(the vocabulary)")
        check(h[0, 0]["copying_nonzero"] == 0 and h[0, 0]["copying"] == 0.0,
              "induction: head 0.0 writes nothing the unembedding reads (no nonzero eigenvalue)")
        first, second = out["random"]["first_copy"], out["random"]["second_copy"]
        check(first > math.log(60) and second < 0.05, f"induction: second copy predicted "
              f"({second:.4f} nats) while the first is not ({first:.3f})")
        check("summary: best induction head 1.0" in report,
              "induction: the printed summary names head 1.0")

        # 3. the shipped base model, with text passages
        text = os.path.join(tmp, "text.txt")
        lines = open("tests/data/tiny.txt").read().splitlines()
        with open(text, "w") as f:  # documents of 3 lines, one of 1 line (shorter than span)
            f.write("Short.\n\n" + "\n\n".join(" ".join(lines[i:i + 3])
                                               for i in range(0, 30, 3)) + "\n")
        out, report = run_probe(BROWN, "--text", text, "--span", "40")
        compare("brown", BROWN, out)
        check_sequences("brown", out, 8190, specials=(8190, 8191))
        t = out["text"]
        check(t["documents"] == 11 and t["too_short"] == 1 and t["n"] == 10,
              f"brown: 11 documents, 1 too short, 10 passages ({t['documents']}, "
              f"{t['too_short']}, {t['n']})")
        line = (f"repeated text: first copy {t['first_copy']:.2f}, second copy "
                f"{t['second_copy']:.2f} nats/token (n=10 passages)")
        check(line in report, f"brown: the report prints '{line}'")
        check(out["target"]["met"] == (t["second_copy"] <= 1.0), "brown: target.met")
    print(f"probe_torch: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
