#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on the GPU machine, which has no
# Rust toolchain and no network and takes at most 64 MiB per command:
#   .bench/gpu/bundle.tar.xz   our CUDA build (reasonscope, the engine
#                              benchmark, llama.cpp's shared libraries) and
#                              llama.cpp's llama-batched, built here from
#                              the same llama.cpp sources so that it runs
#                              on the very same libraries;
#   .bench/gpu/model.part1, model.part2   the default model in two halves.
# Each piece is checked to fit one command with the repository's files.
# `BUNDLE_BACKEND=cpu` makes a CPU bundle instead (the rehearsal's quick
# form: no CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${BUNDLE_BACKEND:-cuda}
out=.bench/gpu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out" "$stage/rs"
if [ "$backend" = cuda ]; then
  . scripts/cuda-env.sh
  features=(--features cuda)
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  features=()
fi
cargo build --release "${features[@]}" --bin reasonscope
bench=$(cargo bench "${features[@]}" --bench engine --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "engine" and m.get("executable"):
        print(m["executable"])')
cp "$CARGO_TARGET_DIR/release/reasonscope" "$stage/rs/"
cp "$bench" "$stage/rs/engine-bench"
if [ "$backend" = cuda ]; then
  cp -P "$CARGO_TARGET_DIR"/release/build/llama-cpp-sys-2-*/out/build/bin/*.so* "$stage/rs/"
fi
# llama-batched from llama-cpp-sys-2's own llama.cpp, as shared libraries
# with the same sonames: at run time it loads ours (the CUDA ones).
src=$(cargo metadata --format-version 1 2>/dev/null | python3 -c 'import json,sys,os
m = json.load(sys.stdin)
p = [x for x in m["packages"] if x["name"] == "llama-cpp-sys-2"][0]
print(os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))')
lb=.bench/llama-batched-shared
if [ ! -x "$lb/bin/llama-batched" ]; then
  cmake -S "$src" -B "$lb" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DGGML_OPENMP=OFF -DCMAKE_BUILD_RPATH='$ORIGIN' >&2
  cmake --build "$lb" --target llama-batched -j "$(nproc)" >&2
fi
cp "$lb/bin/llama-batched" "$stage/rs/"
if [ "$backend" = cpu ]; then
  cp -P "$lb"/bin/*.so* "$stage/rs/"
fi
cp scripts/gpu-check.sh "$stage/rs/"
echo "$backend" > "$stage/rs/BACKEND"
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
