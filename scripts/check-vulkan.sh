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
# Debian 12's Vulkan headers (1.3.239) lack VK_EXT_layer_settings, which
# ggml-vulkan uses: the headers of Debian 13's libvulkan-dev (1.4.309 here) are
# then unpacked into .cache/vulkan-headers (a private apt list, nothing of
# the system changed) and put first on the compiler's include path; the
# system's loader runs them. Output: target-vulkan/.
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
if ! grep -qs LayerSettingEXT /usr/include/vulkan/vulkan_handles.hpp; then
  hdr=$PWD/.cache/vulkan-headers
  if ! grep -qs LayerSettingEXT "$hdr/usr/include/vulkan/vulkan_handles.hpp"; then
    echo "the system's Vulkan headers are too old: unpacking Debian 13's into $hdr" >&2
    apt_tmp=$(mktemp -d)
    echo "deb http://deb.debian.org/debian trixie main" > "$apt_tmp/sources.list"
    mkdir -p "$apt_tmp/lists/partial"
    opts=(-o "Dir::Etc::SourceList=$apt_tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_tmp/lists" -o "Dir::Cache::archives=$apt_tmp")
    apt-get "${opts[@]}" update -qq
    (cd "$apt_tmp" && apt-get "${opts[@]}" download libvulkan-dev 2>/dev/null)
    mkdir -p "$hdr"
    dpkg-deb -x "$apt_tmp"/libvulkan-dev_*.deb "$hdr"
    rm -rf "$apt_tmp"
  fi
  export CPATH=$hdr/usr/include${CPATH:+:$CPATH}
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
# Debian 12's lavapipe (Mesa 22.3, LLVM 15) crashes in its own worker
# thread on ggml-vulkan's faster paths (SIGSEGV inside libvulkan_lvp.so
# during the first batched decode); with these off it runs. Not bisected.
for f in F16 FUSION MMVQ DOT2 INTEGER_DOT_PRODUCT COOPMAT ASYNC MULTI_ADD GRAPH_OPTIMIZE; do
  export "GGML_VK_DISABLE_$f=1"
done
export REASONSCOPE_EXPECT_BACKEND=vulkan
start=$(date +%s)
cargo test --release --features vulkan --test engine --test stats_gpu -- --test-threads=1
echo "engine tests on lavapipe took $(( $(date +%s) - start )) s" >&2
