#!/usr/bin/env bash
# `make check-vulkan`: builds reasonscope with `--features vulkan` and runs
# the engine tests on lavapipe (Mesa's CPU Vulkan driver), so that the GPU
# code path of the engine (every layer offloaded, the KV cache on the
# device, logits read back from it) is exercised on a machine without a
# GPU, slowly. Not in `make test`: a cold Vulkan build of llama.cpp
# (hundreds of compute shaders) plus a second build of every crate takes
# longer than CI allows; run it before committing engine changes.
#
# Needs Debian's libvulkan-dev (headers with vulkan.hpp, the loader), glslc,
# spirv-headers and mesa-vulkan-drivers (lavapipe); installed when missing.
# Output: target-vulkan/.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in libvulkan-dev glslc spirv-headers mesa-vulkan-drivers; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-vulkan}
start=$(date +%s)
cargo test --release --features vulkan --test engine --test stats_gpu --no-run
echo "Vulkan build took $(( $(date +%s) - start )) s" >&2
# Lavapipe only, and let ggml use it: ggml-vulkan skips CPU-type devices
# unless they are named.
export VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
export VK_ICD_FILENAMES=$VK_DRIVER_FILES
export GGML_VK_VISIBLE_DEVICES=0
export REASONSCOPE_EXPECT_BACKEND=vulkan
start=$(date +%s)
cargo test --release --features vulkan --test engine --test stats_gpu -- --test-threads=1
echo "engine tests on lavapipe took $(( $(date +%s) - start )) s" >&2
