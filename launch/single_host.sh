#!/usr/bin/env bash
# Trains on all accelerators (GPUs or TPU chips) of this machine: one process,
# the train step pmapped over every local device. No jax.distributed needed.
#
#   bash launch/single_host.sh --config=configs/sentiment_glove.py --workdir=runs/sentiment_glove
#
# Every argument goes to `python -m lstm_jax.main` unchanged. Settings:
#   DEVICES   which GPUs to use, e.g. "0,1" (default: all; sets CUDA_VISIBLE_DEVICES)
#   PYTHON    the interpreter of the environment with jax[cuda12] or jax[tpu]
# The global batch (train.batch_size, 64 in the study) is split over the devices
# and must divide by their number; `--config.train.num_devices=N` uses only the
# first N. bfloat16 matmuls: `--config.model.dtype=bfloat16`.
# Rerunning the same command resumes from the last checkpoint.
set -euo pipefail
# glibc maps XLA's large per-step scratch afresh every step (page faults);
# huge pages remove most of that cost (docs/PERFORMANCE.md). Opt out by
# setting GLIBC_TUNABLES yourself.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
if [[ -n "${DEVICES:-}" ]]; then
  export CUDA_VISIBLE_DEVICES="$DEVICES"
fi
# Let XLA take GPU memory as it needs it rather than 75% up front, so several
# runs can share a GPU; remove for the last bit of speed on a dedicated GPU.
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
exec "$PYTHON" -m lstm_jax.main "$@"
