#!/usr/bin/env bash
# Makes the import fixtures in tests/data/import/ with the real programs:
# responses of the real llama-server (built by build-llama-server.sh) saved
# exactly as returned, and a real lm-evaluation-harness `--log_samples`
# file from `lm_eval` (pip, in a throw-away venv) run against the same
# server. Run once by hand; the results are committed. Needs the default
# model (make model) and network access to PyPI for lm_eval.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/data/import
mkdir -p "$out"
server=$(scripts/build-llama-server.sh)
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
port=${PORT:-18431}
"$server" -m "$model" --host 127.0.0.1 --port "$port" -np 4 -c 4096 -t 2 \
  --no-webui --seed 7 >/tmp/fixtures-server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 1
done
base="http://127.0.0.1:$port"
q='Sara has 3 stickers and gets 5 more. How many stickers does Sara have now?'
post() { curl -sf "$base$1" -H 'Content-Type: application/json' -d "$2"; }

# /v1/chat/completions: 4 choices, 20 alternatives per token.
post /v1/chat/completions "$(jq -nc --arg q "$q" '{messages:[{role:"user",content:$q}],
  n:4, max_tokens:40, temperature:0.8, seed:11, logprobs:true, top_logprobs:20}')" \
  >"$out/llama-server-chat.json"
# Three chat responses as JSONL (one prompt each; no prompt in the file).
: >"$out/llama-server-chat.jsonl"
for s in 1 2 3; do
  post /v1/chat/completions "$(jq -nc --arg q "$q" --argjson s $s '{messages:[{role:"user",content:$q}],
    n:2, max_tokens:24, temperature:0.8, seed:$s, logprobs:true, top_logprobs:5}')" \
    | jq -c . >>"$out/llama-server-chat.jsonl"
done
# Legacy /v1/completions.
post /v1/completions "$(jq -nc --arg q "$q" '{prompt:("Question: "+$q+"\nAnswer:"),
  n:2, max_tokens:32, temperature:0.8, seed:5, logprobs:5}')" \
  >"$out/llama-server-completion.json"
# Native /completion, with raw logprobs and with post-sampling probabilities.
post /completion "$(jq -nc --arg q "$q" '{prompt:("Question: "+$q+"\nAnswer:"),
  n_predict:32, temperature:0.8, seed:5, n_probs:10}')" \
  >"$out/llama-server-native.json"
post /completion "$(jq -nc --arg q "$q" '{prompt:("Question: "+$q+"\nAnswer:"),
  n_predict:32, temperature:0.8, seed:5, n_probs:10, post_sampling_probs:true}')" \
  >"$out/llama-server-native-post.json"

# lm-evaluation-harness: a local task over five of our questions, 8
# repeats, majority vote over the last number (as our `auto` extraction).
venv=${LMEVAL_VENV:-/tmp/lmeval-venv}
[ -x "$venv/bin/lm_eval" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q 'lm_eval[api]==0.4.13'; }
task=$(mktemp -d)
head -5 assets/suites/arithmetic-50.jsonl >"$task/questions.jsonl"
cat >"$task/arith_sc.yaml" <<EOF
task: arith_sc
dataset_path: json
dataset_kwargs:
  data_files:
    test: $task/questions.jsonl
test_split: test
output_type: generate_until
doc_to_text: "{{prompt}}"
doc_to_target: "{{gold}}"
repeats: 8
generation_kwargs:
  until: []
  max_gen_toks: 48
  do_sample: true
  temperature: 0.8
  seed: -1  # lm_eval sends seed 1234 with every repeat; -1: a fresh one each
filter_list:
  - name: maj@8
    filter:
      - function: regex
        regex_pattern: "(-?[0-9]+)(?![\\\\s\\\\S]*[0-9])"
        group_select: 0
      - function: majority_vote
      - function: take_first
  - name: first
    filter:
      - function: regex
        regex_pattern: "(-?[0-9]+)(?![\\\\s\\\\S]*[0-9])"
        group_select: 0
      - function: take_first
metric_list:
  - metric: exact_match
EOF
rm -rf "$task/results"
HF_DATASETS_OFFLINE=1 "$venv/bin/lm_eval" --model local-chat-completions \
  --model_args "model=smollm,base_url=$base/v1/chat/completions,num_concurrent=1,max_retries=1,tokenized_requests=False" \
  --apply_chat_template --include_path "$task" --tasks arith_sc \
  --log_samples --output_path "$task/results" --seed 3 >/tmp/fixtures-lmeval.log 2>&1
find "$task/results" -name 'samples_arith_sc_*.jsonl' -exec cp {} "$out/lm-eval-samples.jsonl" \;
rm -rf "$task"
ls -l "$out"
