#!/usr/bin/env bash
# `make check-cuda`: builds reasonscope with `--features cuda` on a machine
# without a GPU, to prove that the CUDA build compiles and links. The CUDA
# toolkit comes from NVIDIA's PyPI wheels, pinned to CUDA 13.0 (runs on
# drivers >= 580, the H200 machine's), into .cache/cuda13 (git-ignored).
# CUDA_ARCHS picks the GPU architectures (default 90: H100/H200; add e.g.
# "80;86;89;90" for A100, RTX 30xx, RTX 40xx/L4). Output: target-cuda/.
#
# Why these settings (measured, ../shared/gpu-notes.md):
# - the wheels have no static cuBLAS, so llama.cpp is built as shared
#   libraries (LLAMA_BUILD_SHARED_LIBS=1) next to the binary;
# - they have no libcuda.so stub: GGML_CUDA_NO_VMM=ON, so nothing links
#   the driver library and the binary starts on a machine without one;
# - CMake wants lib64 and unversioned .so links; the linker needs the
#   toolkit's lib for the libraries' own needs (-rpath-link).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-env.sh
start=$(date +%s)
cargo build --release --features cuda --bin reasonscope
echo "CUDA build (archs $CMAKE_CUDA_ARCHITECTURES) took $(( $(date +%s) - start )) s" >&2
bin=$CARGO_TARGET_DIR/release/reasonscope
# The build script leaves only unversioned links next to the binary: copy
# the libraries themselves (the binary's runpath is $ORIGIN).
cp -P "$CARGO_TARGET_DIR"/release/build/llama-cpp-sys-2-*/out/build/bin/*.so* "$CARGO_TARGET_DIR/release/"
ls -l "$bin" "$CARGO_TARGET_DIR"/release/*.so.*.* 2>/dev/null || true
"$bin" --version
# Without a GPU (or its driver) the CUDA build must run on the CPU and say
# so; CUDA's own libraries come from the toolkit (LD_LIBRARY_PATH above).
out=$(mktemp -d)
"$bin" sample --prompt "What is 2+3?" -n 2 --max-tokens 8 -o "$out/run.json" --model models/SmolLM2-135M-Instruct.Q4_1.gguf
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('backend recorded:', r['model']['backend'])" "$out/run.json"
rm -rf "$out"
