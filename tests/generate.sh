#!/usr/bin/env bash
# generate.sh — `imprint generate` with an adapter and with sampling:
#   * on a prompt the adapter was trained on, where its eval shows it learned something (more
#     answer tokens right than the base model, lower NLL), --adapter continues differently from
#     the base model, and --compare prints both, labelled, each equal to its plain run;
#   * --adapter takes a run dir, a stage dir or the adapter file alike;
#   * the default (greedy, no adapter) prints prompt + continuation on one line as before;
#   * sampling: the same --seed gives the same text, another seed another text at temperature 1,
#     and --top-k 1 is greedy whatever the temperature; --top-k above the vocabulary is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh" generate

# a small base model that knows the library's wording (pretrained on the library file), and an
# adapter trained on the curriculum's conclusions
"$BIN" tokenizer-train --vocab 600 --out "$T/tok" tests/data/chains/mini.cfg >/dev/null
"$BIN" tokenize --tokenizer "$T/tok" tests/data/chains/mini.cfg "$T/mini.bin" >/dev/null
M=$(pretrain_small pre "$T/mini.bin" 64 3e-3 150)
cat >"$T/lora.cfg" <<CFG
model = { path = "$M"; };
lora = { rank = 8; alpha = 32.0; };
optim = { lr = 1e-2; warmup = 5; };
batch = { global = 8; seq_len = 96; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = ( { name = "anchor"; band = [0.0, 0.1]; steps = 250; loss = "conclusion"; } );
};
run = { dir = "$T/run"; log_every = 1000; };
CFG
"$BIN" train "$T/lora.cfg" --quiet
# the trained prompt where the adapter gained the most answer tokens over the base model
prompt=$(/usr/bin/python3 - "$T/run/stages/00-anchor/items.jsonl" <<'PY'
import json, sys
items = [json.loads(l) for l in open(sys.argv[1])]
train = [d for d in items if d["split"] == "train"]
gain = lambda d: sum(d["adapter"]["correct"]) - sum(d["base"]["correct"])
best = max(train, key=gain)
learned = gain(best) >= 3 and best["adapter"]["nll_mean"] < best["base"]["nll_mean"] - 1.0
print(best["prompt"] if learned else "NOT LEARNED: " + json.dumps(best))
PY
)
check "[[ \"\$prompt\" != 'NOT LEARNED'* ]]" "the adapter learned a trained prompt's answer: $prompt"

gen=("$BIN" generate "$M" --tokens 8)
"${gen[@]}" "$prompt" >"$T/base.txt"
"${gen[@]}" --adapter "$T/run" "$prompt" >"$T/adapter.txt"
"${gen[@]}" --adapter "$T/run" --compare "$prompt" >"$T/compare.txt"
check "! cmp -s '$T/base.txt' '$T/adapter.txt'" "--adapter continues differently: $(cat "$T/base.txt") / $(cat "$T/adapter.txt")"
check "[ \"\$(head -c ${#prompt} '$T/base.txt')\" = \"\$prompt\" ]" "the default prints the prompt and its continuation"
check "grep -q '^prompt 1: ' '$T/compare.txt' && grep -q '^  base:    ' '$T/compare.txt' && grep -q '^  adapter: ' '$T/compare.txt'" \
    "--compare labels both: $(cat "$T/compare.txt")"
# each labelled continuation is the plain run's (further lines are indented by 11 spaces)
check "/usr/bin/python3 - '$T' \"\$prompt\" <<'PY'
import sys
t, prompt = sys.argv[1], sys.argv[2]
text = open(f'{t}/compare.txt').read()
head = f'prompt 1: {prompt}\n  base:    '
assert text.startswith(head), text
base, adapter = text[len(head):].split('\n  adapter: ')
unindent = lambda s: s.replace('\n' + ' ' * 11, '\n')
assert prompt + unindent(base) + '\n' == open(f'{t}/base.txt').read(), (base, open(f'{t}/base.txt').read())
assert prompt + unindent(adapter) == open(f'{t}/adapter.txt').read(), (adapter, open(f'{t}/adapter.txt').read())
PY" "--compare shows the plain runs' continuations"
# a stage dir and the adapter file are the run dir's newest stage
"${gen[@]}" --adapter "$T/run/stages/00-anchor" "$prompt" >"$T/stage.txt"
"${gen[@]}" --adapter "$T/run/stages/00-anchor/adapter.safetensors" "$prompt" >"$T/file.txt"
check "cmp -s '$T/adapter.txt' '$T/stage.txt' && cmp -s '$T/adapter.txt' '$T/file.txt'" "--adapter: run dir, stage dir and file agree"

# sampling: the seed decides the text
"$BIN" generate "$M" --tokens 30 --temperature 1 --seed 7 "$prompt" "$prompt" >"$T/s7.txt"
"$BIN" generate "$M" --tokens 30 --temperature 1 --seed 7 "$prompt" "$prompt" >"$T/s7b.txt"
"$BIN" generate "$M" --tokens 30 --temperature 1 --seed 8 "$prompt" "$prompt" >"$T/s8.txt"
check "cmp -s '$T/s7.txt' '$T/s7b.txt'" "the same seed gives the same text"
check "! cmp -s '$T/s7.txt' '$T/s8.txt'" "another seed gives another text: $(cat "$T/s7.txt" "$T/s8.txt")"
check "[ \"\$(sed -n 1p '$T/s7.txt')\" != \"\$(sed -n 2p '$T/s7.txt')\" ]" "each prompt draws its own numbers"
check "! cmp -s '$T/s7.txt' <(\"$BIN\" generate '$M' --tokens 30 \"\$prompt\" \"\$prompt\")" "temperature 1 is not greedy"
"$BIN" generate "$M" --tokens 30 "$prompt" >"$T/greedy.txt"
"$BIN" generate "$M" --tokens 30 --temperature 5 --top-k 1 --seed 3 "$prompt" >"$T/top1.txt"
check "cmp -s '$T/greedy.txt' '$T/top1.txt'" "--top-k 1 is greedy"
set +e
out=$("$BIN" generate "$M" --temperature 1 --top-k 601 "$prompt" 2>&1)
rc=$?
set -e
check "[ $rc -ne 0 ] && echo \"\$out\" | grep -q -- '--top-k 601: the model has only 600 tokens'" "--top-k above the vocabulary: $out"

echo "generate: $passed passed, $failed failed"
[ $failed = 0 ]
