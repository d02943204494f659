#!/usr/bin/python3
"""imprint's PEFT export means what PEFT means: PyTorch applies PEFT's LoRA math to the exported
adapter_model.safetensors (W_conv1d += (lora_alpha / r) * (B @ A)^T for each target module, as
PEFT merges a fan_in_fan_out adapter into GPT-2's Conv1D) and must reproduce the logits imprint
computed with its own per-projection adapters (1e-5 of their scale)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_ref import gpt2_forward, load_safetensors  # noqa: E402

build = os.environ.get("IMPRINT_BUILD", "build")
with tempfile.TemporaryDirectory(prefix="imprint-peft-torch-") as d:
    subprocess.run([os.path.join(build, "tests", "test_peft"), d], check=True,
                   stdout=subprocess.DEVNULL)
    cfg = json.load(open(f"{d}/model/config.json"))
    P, _ = load_safetensors(f"{d}/model/model.safetensors")
    A, _ = load_safetensors(f"{d}/peft/adapter_model.safetensors")
    pc = json.load(open(f"{d}/peft/adapter_config.json"))
    R, _ = load_safetensors(f"{d}/logits.safetensors")
scale = pc["lora_alpha"] / pc["r"]
merged = 0
for name, a in A.items():
    if not name.endswith("lora_A.weight"):
        continue
    module = name[len("base_model.model.transformer."):-len(".lora_A.weight")]
    b = A[name.replace("lora_A", "lora_B")]
    P[module + ".weight"] = P[module + ".weight"] + scale * (b @ a).T
    merged += 1
logits = gpt2_forward(P, cfg, {}, 0.0, R["tokens"].long())
err = (logits - R["logits"]).abs().max().item()
ref = R["logits"].abs().max().item()
ok = merged == 4 and err <= 1e-5 * ref
print(f"peft_torch: merged {merged} modules with scale {scale:.6g}; logits max |diff| {err:.3g} "
      f"(scale {ref:.3g})")
print(f"peft_torch: {int(ok)} passed, {int(not ok)} failed")
sys.exit(0 if ok else 1)
