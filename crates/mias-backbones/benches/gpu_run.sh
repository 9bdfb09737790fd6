#!/usr/bin/env bash
# Runs the GPU benches on a machine with an NVIDIA GPU, CUDA 13 and PyTorch but no Rust toolchain
# and no package registry, from binaries built elsewhere (see the GPU section of README.md):
#
#   bash crates/mias-backbones/benches/gpu_run.sh CARRY_DIR [OUT_DIR]
#
# CARRY_DIR holds `gpu-bench.xz` (the stripped, xz-compressed `target/release/deps/gpu-*` of
# `cargo bench -p mias-backbones --features cuda --no-run`) and optionally `mias.xz`. The binaries
# link libcuda.so.1 (the driver), libcudart.so.13, libcublas.so.13 (+ libcublasLt.so.13) and
# libcurand.so.10 at load time; this script looks for them in the CUDA toolkit and in the nvidia-*
# Python wheels that PyTorch installs, and stops with the list of what is missing. Then it runs
# the candle bench and `torch_gpu_reference.py` (PyTorch eager, same GPU), logs into OUT_DIR.
set -euo pipefail
carry=${1:?usage: gpu_run.sh CARRY_DIR [OUT_DIR]}
out=${2:-${OUT:-.}}
here=$(cd "$(dirname "$0")" && pwd)
bin=/tmp/mias-gpu-bin
mkdir -p "$bin" "$out"
for f in "$carry"/*.xz; do
  [ -e "$f" ] || { echo "no .xz binaries in $carry" >&2; exit 1; }
  b="$bin/$(basename "$f" .xz)"
  if command -v xz >/dev/null; then xz -dc "$f" >"$b"; else
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "$b"
  fi
  chmod +x "$b"
done
dirs=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
  $(python3 -c 'import os, nvidia; print(" ".join(os.path.join(p, s, "lib") for p in nvidia.__path__ for s in sorted(os.listdir(p))))' 2>/dev/null || true); do
  [ -d "$d" ] && ls "$d" | grep -qE '^lib(cublas|cudart|curand)\.so' && dirs="$dirs:$d"
done
export LD_LIBRARY_PATH="${dirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
if ldd "$bin/gpu-bench" | grep 'not found'; then
  echo "missing shared libraries (above): nothing run" >&2
  exit 1
fi
set -o pipefail
"$bin/gpu-bench" --bench 2>&1 | tee "$out/gpu-bench.log"
PYTHONUNBUFFERED=1 python3 "$here/torch_gpu_reference.py" 2>&1 | tee "$out/torch-gpu.log"
