#!/usr/bin/env bash
# The GPU check (issue: GPU builds proven, the engine as fast as llama.cpp on
# a GPU). Runs on the borrowed GPU machine (no Rust, no network, 64 MiB per
# command, kept warm ~30 s between commands), from the repository root, on
# what scripts/gpu-bundle.sh prepared here in .bench/gpu/:
#
#   1. carry .bench/gpu/bundle.tar.xz   scripts/gpu-check.sh unpack
#   2. carry .bench/gpu/model.part1     scripts/gpu-check.sh part1
#   3. carry .bench/gpu/model.part2     scripts/gpu-check.sh measure
#
# (files outside the repository, in $GPU_DIR, stay while the machine is
# warm). `scripts/gpu-check.sh all` does the three at once: the rehearsal
# on this machine, where the CUDA build runs on the CPU and the GPU-only
# figures say so. Prints, measured in one run:
#   - our engine (every statistic recorded) vs llama-batched on the same
#     llama.cpp libraries, model, prompt length and sampler, N = 16, 64, 256;
#   - our engine on the GPU vs on this machine's CPU cores (N = 64);
#   - the statistics recorded on the GPU vs on the CPU for the same greedy
#     tokens (max |Δ| of logprob, entropy, confidence, self-certainty).
# GPU_CHECK_PATHS (default 16,64,256) and GPU_CHECK_CPU_PATHS (64) set the
# path counts: smaller ones make a quick rehearsal on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=${GPU_DIR:-/tmp/reasonscope-gpu}
mode=${1:-all}
rs=$GPU_DIR/rs
model=$GPU_DIR/model.gguf

unpack() {
  mkdir -p "$GPU_DIR"
  tar -C "$GPU_DIR" -xJf .bench/gpu/bundle.tar.xz
  cp .bench/gpu/model.sha256 "$GPU_DIR/" 2>/dev/null || true
  echo "unpacked: $(cat "$rs/BACKEND") bundle in $rs ($(du -sh "$rs" | cut -f1))"
}
part1() { cp .bench/gpu/model.part1 "$GPU_DIR/"; echo "model part 1 in $GPU_DIR"; }
join_model() {
  [ -f .bench/gpu/model.part2 ] && cp .bench/gpu/model.part2 "$GPU_DIR/"
  cat "$GPU_DIR/model.part1" "$GPU_DIR/model.part2" > "$model"
  if [ -f "$GPU_DIR/model.sha256" ]; then
    [ "$(sha256sum "$model" | cut -d' ' -f1)" = "$(cat "$GPU_DIR/model.sha256")" ] ||
      { echo "the joined model's sha256 differs" >&2; exit 1; }
  fi
}

measure() {
  join_model
  # CUDA's runtime and cuBLAS (13.x) from the machine's toolkit or wheels.
  local libs=$rs
  # (CUDA_LIBS names a folder; .cache/cuda13 is `make check-cuda`'s, here.)
  for d in ${CUDA_LIBS:-} "$PWD/.cache/cuda13/nvidia/cu13/lib" /usr/local/cuda/lib64 \
    /usr/local/cuda-13*/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -e "$d/libcublas.so.13" ] && libs=$libs:$d
  done
  local wheels
  wheels=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)
  if [ -n "$wheels" ]; then
    for f in $(find "$wheels/nvidia" -name 'libcublas.so.13' -o -name 'libcudart.so.13' 2>/dev/null); do
      libs=$libs:$(dirname "$f")
    done
  fi
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi -L
  else
    echo "no NVIDIA GPU here: a rehearsal; the CUDA build runs on the CPU"
  fi
  "$rs/reasonscope" --version
  local tmp
  tmp=$(mktemp -d)
  "$rs/reasonscope" sample --model "$model" --prompt "What is 2+3?" -n 1 --max-tokens 1 \
    -o "$tmp/probe.json" 2>&1 | grep -iE "cuda|cpu|vulkan|metal|offload" | head -3 || true
  local cores
  cores=$(nproc)

  local paths=${GPU_CHECK_PATHS:-16,64,256} cpu_n=${GPU_CHECK_CPU_PATHS:-64}
  echo "== our engine vs llama-batched (same libraries), N = $paths"
  ENGINE_BENCH_PATHS=$paths ENGINE_BENCH_MODEL=$model LLAMA_BATCHED=$rs/llama-batched \
    BENCH_THREADS=$cores "$rs/engine-bench" | tee "$tmp/gpu.txt"

  echo "== our engine on the GPU vs on $cores CPU cores, N = $cpu_n"
  REASONSCOPE_GPU_LAYERS=0 ENGINE_BENCH_PATHS=$cpu_n ENGINE_BENCH_MODEL=$model \
    LLAMA_BATCHED=$rs/llama-batched BENCH_THREADS=$cores "$rs/engine-bench" | tee "$tmp/cpu.txt"
  python3 - "$tmp/gpu.txt" "$tmp/cpu.txt" "$cpu_n" <<'PY'
import re, sys
def ours(path, n):
    for line in open(path):
        m = re.match(rf"N={n}\s+ours\s+([\d.]+)", line)
        if m:
            return float(m.group(1))
n = sys.argv[3]
g, c = ours(sys.argv[1], n), ours(sys.argv[2], n)
if g and c:
    print(f"ours at N={n}: GPU {g:.1f} tokens/s vs CPU {c:.1f} tokens/s: {g / c:.2f}x")
else:
    print(f"ours at N={n}: no GPU figure (N={n} not among GPU_CHECK_PATHS)")
PY

  echo "== statistics on the GPU vs on the CPU, same greedy tokens"
  for where in gpu cpu; do
    layers=()
    [ "$where" = cpu ] && layers=(env REASONSCOPE_GPU_LAYERS=0)
    "${layers[@]}" "$rs/reasonscope" sample --model "$model" --prompt "What is 17 times 23?" \
      -n 4 --max-tokens 64 --temperature 0 --seed 1 -o "$tmp/$where.json" --quiet
  done
  python3 - "$tmp/gpu.json" "$tmp/cpu.json" <<'PY'
import json, sys
g, c = (json.load(open(p)) for p in sys.argv[1:3])
worst = {k: 0.0 for k in ("logprob", "entropy", "confidence", "self_certainty")}
n = 0
for pg, pc in zip(g["paths"], c["paths"]):
    tg, tc = pg["turns"][0]["tokens"], pc["turns"][0]["tokens"]
    same = 0
    for a, b in zip(tg["id"], tc["id"]):
        if a != b:
            break
        same += 1
    for k in worst:
        for i in range(same):
            worst[k] = max(worst[k], abs(tg[k][i] - tc[k][i]))
    n += same
print(f"{g['model']['backend']} vs {c['model']['backend']} over {n} tokens: max |Δ| " +
      ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
PY
  rm -rf "$tmp"
}

case $mode in
  unpack) unpack ;;
  part1) part1 ;;
  measure) measure ;;
  all) unpack; part1; measure ;;
  *) echo "usage: $0 unpack|part1|measure|all" >&2; exit 2 ;;
esac
