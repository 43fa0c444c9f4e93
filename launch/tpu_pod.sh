#!/usr/bin/env bash
# Trains on a Cloud TPU VM pod slice (e.g. v4-32: 4 hosts x 4 chips): the same
# command runs on every host; with --distributed, jax.distributed finds the
# coordinator and each host's index in the TPU VM metadata, so no flag names them.
#
#   TPU=my-v4-32 ZONE=us-central2-b bash launch/tpu_pod.sh \
#     --config=configs/sentiment_glove.py --workdir=/mnt/shared/runs/sentiment_glove
#
# Prerequisites: the repository checked out at $REPO on every host with
# `pip install -r requirements.txt "jax[tpu]"`, and the data at the same path on
# every host. The workdir is a plain directory that every host must see (an NFS
# or Filestore mount; gs:// paths are not supported): process 0 writes the logs
# and results, every host takes part in checkpointing. train.batch_size is split
# over all chips and must divide by their number (64 on a v4-32 gives 4 per chip;
# raise it for speed). bfloat16 matmuls suit TPUs: --config.model.dtype=bfloat16.
# If a host dies the others stop within the heartbeat timeout; running this
# again resumes from the last checkpoint.
set -euo pipefail
: "${TPU:?set TPU to the pod slice name}"
: "${ZONE:?set ZONE to its zone}"
REPO="${REPO:-lstm_jax}"
PYTHON="${PYTHON:-python3}"
# Quote every argument for the remote shell.
args=$(printf ' %q' "$@")
gcloud compute tpus tpu-vm ssh "$TPU" --zone="$ZONE" --worker=all \
  --command="cd $REPO && $PYTHON -m lstm_jax.main --distributed --heartbeat_timeout_seconds=120$args"
