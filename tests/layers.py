#!/usr/bin/env python3
"""layers.py — the house rules of trainer/, curriculum/ and comm/, checked on the build:

1. A wrong-way include fails to build: each layer is compiled with exactly the include paths its
   CMake library sees (from compile_commands.json), and a header of a layer it may not use must
   not be found, while a header of a layer it may use must be.
2. No code file is over 800 lines (chain libraries and tests are data, not code).
3. docs/ARCHITECTURE.md names every layer folder and every source file, and names no file that
   does not exist.

Run from the repository root with IMPRINT_BUILD set to the build directory (ctest does both).
"""
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.getcwd()
BUILD = os.environ.get("IMPRINT_BUILD", "build")

# layer folder -> (headers it may include, headers it must not see)
RULES = {
    "trainer/core": (["util.h", "rng.h", "sha256.h", "utf8.h", "tensor.h"],
                     ["comm.h", "curriculum.h", "tokenizer.h", "config.h", "model.h", "weights.h",
                      "eval.h", "train.h", "mpi.h"]),
    "comm": (["util.h", "mpi.h"],
             ["curriculum.h", "tokenizer.h", "config.h", "model.h", "eval.h", "train.h"]),
    "curriculum": (["util.h", "rng.h", "sha256.h"],
                   ["comm.h", "tokenizer.h", "config.h", "model.h", "weights.h", "eval.h",
                    "train.h", "mpi.h"]),
    "trainer/tokenizer": (["util.h"],
                          ["comm.h", "curriculum.h", "config.h", "model.h", "train.h", "mpi.h"]),
    "trainer/config": (["util.h", "curriculum.h"],
                       ["comm.h", "tokenizer.h", "model.h", "weights.h", "train.h", "mpi.h"]),
    "trainer/model": (["config.h", "util.h", "tensor.h"],
                      ["comm.h", "tokenizer.h", "weights.h", "safetensors.h", "eval.h", "train.h",
                       "mpi.h"]),
    "trainer/io": (["model.h", "tokenizer.h", "config.h"],
                   ["comm.h", "eval.h", "scorer.h", "train.h", "mpi.h"]),
    "trainer/eval": (["weights.h", "curriculum.h", "comm.h", "model.h"],
                     ["train.h", "source.h", "evalcmd.h"]),
    "trainer/train": (["scorer.h", "report.h", "manifest.h", "comm.h"],
                      ["evalcmd.h", "tools.h"]),
    "trainer/app": (["train.h", "scorer.h"], []),
}

failures = 0
passed = 0


def check(ok, what):
    global failures, passed
    if ok:
        passed += 1
    else:
        failures += 1
        print(f"FAIL {what}")


def flags_for(folder, commands):
    for c in commands:
        f = os.path.relpath(c["file"], ROOT)
        if os.path.dirname(f) == folder:
            args = shlex.split(c["command"]) if "command" in c else list(c["arguments"])
            out, i = [args[0]], 1
            while i < len(args):
                a = args[i]
                if a in ("-o", "-c"):
                    i += 2
                    continue
                if a.startswith("-I") or a.startswith("-D") or a.startswith("-std") or \
                        a == "-isystem" or args[i - 1] == "-isystem":
                    out.append(a)
                i += 1
            return out, c.get("directory", BUILD)
    return None, None


def compiles(cmd, cwd, header):
    src = f'#include "{header}"\nint layers_probe;\n'
    p = subprocess.run(cmd + ["-fsyntax-only", "-x", "c", "-"], input=src, text=True, cwd=cwd,
                       capture_output=True)
    return p.returncode == 0


with open(os.path.join(BUILD, "compile_commands.json")) as fp:
    commands = json.load(fp)

# 1. include rules
for folder, (allowed, forbidden) in RULES.items():
    cmd, cwd = flags_for(folder, commands)
    check(cmd is not None, f"{folder}: found in compile_commands.json")
    if cmd is None:
        continue
    for h in allowed:
        check(compiles(cmd, cwd, h), f"{folder} may include {h}, but it does not build")
    for h in forbidden:
        check(not compiles(cmd, cwd, h), f"{folder} must not see {h} (a wrong-way include builds)")

# 2. file sizes
code = []
for top in ("trainer", "curriculum", "comm"):
    for d, _, files in os.walk(top):
        for f in files:
            if f.endswith((".c", ".h", ".cu", ".cuh")):
                code.append(os.path.join(d, f))
for f in sorted(code):
    n = sum(1 for _ in open(f, encoding="utf-8"))
    check(n <= 800, f"{f}: {n} lines (at most 800 in trainer/, curriculum/, comm/)")

# 3. docs/ARCHITECTURE.md matches the tree
doc = open("docs/ARCHITECTURE.md", encoding="utf-8").read()
for folder in RULES:
    check(folder + "/" in doc, f"docs/ARCHITECTURE.md does not name the layer {folder}/")
for f in sorted(code):
    check(os.path.basename(f) in doc, f"docs/ARCHITECTURE.md does not name {f}")
# names that are not ours: other projects' (llm.c), system headers, and the backend to come
NOT_OURS = {"llm.c", "mpi.h", "kernels_cuda.cu"}
for name in sorted(set(re.findall(r"\b([a-z_0-9]+\.(?:c|h|cu))\b", doc)) - NOT_OURS):
    check(any(os.path.basename(f) == name for f in code) or os.path.exists(os.path.join("tests", name))
          or os.path.exists(os.path.join("bench", name)),
          f"docs/ARCHITECTURE.md names {name}, which does not exist")

print(f"layers: {passed} passed, {failures} failed")
sys.exit(1 if failures else 0)
