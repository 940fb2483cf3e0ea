#!/usr/bin/env bash
# llama.cpp's `llama-server`, the real OpenAI-compatible server the remote
# backend is tested against (in .cache/, git-ignored; built once). Prints
# the binary's path.
exec "$(dirname "$0")/build-llama-target.sh" llama-server .cache/llama-server
