#!/usr/bin/env bash
# Builds one target of llama.cpp (e.g. llama-server, llama-batched) from the
# llama.cpp sources vendored in the PyPI sdist of llama-cpp-python, with the
# same CPU flags as our own build (.cargo/config.toml: native, without AMX).
# Nothing of it is committed. Usage: build-llama-target.sh TARGET OUT.
# Prints OUT; does nothing when OUT is already built.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=$1
OUT=$2
if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reasonscope-llama.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" "llama-cpp-python==0.3.36" >&2
tar -xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp"
src=$(echo "$tmp"/llama_cpp_python-*/vendor/llama.cpp)
SERVER=OFF
[ "$TARGET" = llama-server ] && SERVER=ON
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=$SERVER -DGGML_OPENMP=OFF -DBUILD_SHARED_LIBS=OFF \
  -DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
  -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" >&2
cmake --build "$tmp/build" --target "$TARGET" -j "$(nproc)" >&2
cp "$tmp/build/bin/$TARGET" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$OUT"
