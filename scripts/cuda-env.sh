# Sourced by check-cuda.sh and gpu-bundle.sh: the CUDA 13.0 toolkit from
# NVIDIA's PyPI wheels in .cache/cuda13 (installed when missing) and the
# environment that builds `--features cuda` with it into target-cuda/.
# Why these settings: see check-cuda.sh.
root=$PWD/.cache/cuda13
cu=$root/nvidia/cu13
if [ ! -x "$cu/bin/nvcc" ]; then
  echo "installing the CUDA 13.0 toolkit wheels into $root" >&2
  python3 -m pip install -q --target "$root" \
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl \
    nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cublas==13.0.0.19
fi
[ -e "$cu/lib64" ] || ln -s lib "$cu/lib64"
for l in cudart cublas cublasLt; do
  [ -e "$cu/lib/lib$l.so" ] || ln -s "lib$l.so.13" "$cu/lib/lib$l.so"
done
export PATH=$cu/bin:$PATH
export CUDA_PATH=$cu CUDAToolkit_ROOT=$cu
export CMAKE_CUDA_COMPILER=$cu/bin/nvcc
export CMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-90}
export GGML_CUDA_NO_VMM=ON
export LLAMA_BUILD_SHARED_LIBS=1
export LD_LIBRARY_PATH=$cu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-rpath-link,$cu/lib -C link-arg=-Wl,-rpath,\$ORIGIN"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-cuda}
