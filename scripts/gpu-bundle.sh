#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on the GPU machine, which has no
# Rust toolchain and no network and takes at most 64 MiB per command:
#   .bench/gpu/bundle.tar.xz   our CUDA build (reasonscope, the engine
#                              benchmark, llama.cpp's shared libraries) and
#                              llama.cpp's own llama-batched example
#                              compiled here against those very libraries
#                              (its batched.cpp from the llama-cpp-python
#                              sdist, which the engine benchmark already
#                              uses; llama-cpp-sys-2 ships no examples);
#   .bench/gpu/model.part1, model.part2   the default model in two halves.
# Each piece is checked to fit one command with the repository's files.
# The CUDA build runs on the CPU where there is no GPU, so the rehearsal
# (scripts/gpu-check.sh all) uses the very bundle the GPU machine gets.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.bench/gpu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out" "$stage/rs"
. scripts/cuda-env.sh
features=(--features cuda)
cargo build --release "${features[@]}" --bin reasonscope
bench=$(cargo bench "${features[@]}" --bench engine --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "engine" and m.get("executable"):
        print(m["executable"])')
cp "$CARGO_TARGET_DIR/release/reasonscope" "$stage/rs/"
cp "$bench" "$stage/rs/engine-bench"
cp -P "$CARGO_TARGET_DIR"/release/build/llama-cpp-sys-2-*/out/build/bin/*.so* "$stage/rs/"
# llama-batched: llama.cpp's example, against the libraries above.
inc=$(cargo metadata --format-version 1 2>/dev/null | python3 -c 'import json,sys,os
m = json.load(sys.stdin)
p = [x for x in m["packages"] if x["name"] == "llama-cpp-sys-2"][0]
print(os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))')
python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$stage" "llama-cpp-python==0.3.36"
tar -xzf "$stage"/llama_cpp_python-*.tar.gz -C "$stage" --wildcards '*/examples/batched/batched.cpp'
g++ -O2 -std=c++17 -I"$inc/include" -I"$inc/common" -I"$inc/ggml/include" -I"$inc/vendor" \
  "$stage"/llama_cpp_python-*/vendor/llama.cpp/examples/batched/batched.cpp -o "$stage/rs/llama-batched" \
  -L"$stage/rs" -l:libllama-common.so.0 -l:libllama.so.0 -l:libggml.so.0 -l:libggml-base.so.0 \
  -Wl,-rpath-link,"$stage/rs" -Wl,-rpath-link,"$cu/lib" -Wl,-rpath,'$ORIGIN'
cp scripts/gpu-check.sh "$stage/rs/"
echo cuda > "$stage/rs/BACKEND"
tar -C "$stage" -cJf "$out/bundle.tar.xz.tmp" rs
mv "$out/bundle.tar.xz.tmp" "$out/bundle.tar.xz"
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
half=$(( ($(stat -c %s "$model") + 1) / 2 ))
split -b "$half" -d -a 1 "$model" "$stage/model.part"
mv "$stage/model.part0" "$out/model.part1"
mv "$stage/model.part1" "$out/model.part2"
sha256sum "$model" | cut -d' ' -f1 > "$out/model.sha256"
repo=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
for f in bundle.tar.xz model.part1 model.part2; do
  size=$(stat -c %s "$out/$f")
  total=$(( size + repo ))
  echo "$out/$f: $(( size >> 20 )) MiB (+ $(( repo >> 20 )) MiB of repository: $(( total >> 20 )) MiB of 64)" >&2
  [ "$total" -lt $(( 64 << 20 )) ] || { echo "too large for one command" >&2; exit 1; }
done
