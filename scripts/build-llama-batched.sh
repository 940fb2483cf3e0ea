#!/usr/bin/env bash
# llama.cpp's own `llama-batched` example, the baseline of `make bench`
# (in .bench/, git-ignored). Prints the binary's path.
exec "$(dirname "$0")/build-llama-target.sh" llama-batched .bench/llama-batched
