#!/usr/bin/env bash
# Builds llama.cpp's own `llama-batched` example, the baseline of `make bench`,
# from the llama.cpp sources vendored in the PyPI sdist of llama-cpp-python.
# Nothing of it is committed: it lives in .bench/ (git-ignored). Prints the
# binary's path. Does nothing when it is already built.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.bench/llama-batched
if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
mkdir -p .bench
tmp=.bench/src
rm -rf "$tmp" && mkdir -p "$tmp"
python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" "llama-cpp-python==0.3.36" >&2
tar -xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp"
src=$(echo "$tmp"/llama_cpp_python-*/vendor/llama.cpp)
# Same CPU flags as our build (.cargo/config.toml): native, without AMX.
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF -DBUILD_SHARED_LIBS=OFF \
  -DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
  -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" >&2
cmake --build "$tmp/build" --target llama-batched -j "$(nproc)" >&2
cp "$tmp/build/bin/llama-batched" "$OUT"
rm -rf "$tmp"
echo "$OUT"
