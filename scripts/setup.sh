#!/usr/bin/env bash
# Installs what a fresh Debian machine with the Rust toolchain lacks to build,
# run and test reasonscope: system packages (only those missing) and the
# default model. Safe to run again: it does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# cmake/clang/libclang/g++: llama.cpp is built from source by llama-cpp-2, and
# llama-server (scripts/build-llama-server.sh) by CMake's default C++ compiler.
# mesa-vulkan-drivers/libvulkan1/xvfb/xauth/xdotool: the GUI under a virtual display
# (xdotool drives the real window in the kill test of the app)
# and its headless tests.
PKGS=(cmake clang libclang-dev g++ pkg-config python3-pip unzip mesa-vulkan-drivers libvulkan1 xvfb xauth xdotool)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/fetch-model.sh
# The real llama-server that the remote-backend tests start (built once).
scripts/build-llama-server.sh >/dev/null
