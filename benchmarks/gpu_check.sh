#!/usr/bin/env bash
# The GPU acceptance run in one command: gpu-marked tests, bf16 training, a real CUDA out-of-memory
# retry, worker recycling, two workers on one device, samples/s vs Hugging Face Trainer; one table.
#   bash benchmarks/gpu_check.sh            # on a CUDA machine, from the repository root
#   bash benchmarks/gpu_check.sh --dry-run  # anywhere: tiny sizes on the CPU, GPU-only steps skipped
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" PYTHONUNBUFFERED=1
exec "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
