#!/usr/bin/env bash
# Starts K training processes on this machine, each driving D CPU devices, as
# one multi-process JAX run on 127.0.0.1: the same code path as several hosts
# (jax.distributed, cross-process collectives over gloo, process 0 writing the
# workdir), runnable anywhere without accelerators.
#
#   bash launch/local_multiprocess.sh --config=configs/default.py --workdir=runs/local \
#     --config.data.train_files=reviews.csv
#
# Every argument goes to `python -m lstm_jax.main` unchanged. Settings:
#   NUM_PROCESSES (K, default 2)   DEVICES_PER_PROCESS (D, default 2)
#   PORT (coordinator port; default: a free one)   PYTHON (default: python)
#   HEARTBEAT_TIMEOUT (seconds before a silent process counts as dead, default 30)
# The global batch (train.batch_size) is split over all K*D devices, so it must
# divide by K*D. Process 0 prints the run's lines; the others print only errors.
# If one process dies the others stop within HEARTBEAT_TIMEOUT seconds; the
# exit status is then non-zero, and rerunning the same command resumes from
# the last checkpoint.
set -euo pipefail
# glibc maps XLA's large per-step scratch afresh every step (page faults);
# huge pages remove most of that cost (docs/PERFORMANCE.md). Opt out by
# setting GLIBC_TUNABLES yourself.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
cd "$(dirname "$0")/.."
NUM_PROCESSES="${NUM_PROCESSES:-2}"
DEVICES_PER_PROCESS="${DEVICES_PER_PROCESS:-2}"
PYTHON="${PYTHON:-python}"
HEARTBEAT_TIMEOUT="${HEARTBEAT_TIMEOUT:-30}"
# A port the kernel reports free now; process 0 binds it a moment later.
PORT="${PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM

for ((i = 0; i < NUM_PROCESSES; i++)); do
  # One XLA CPU client per process, with D devices; JAX_PLATFORMS keeps any
  # accelerator out of the run so it is CPU-only wherever it is started.
  XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=$DEVICES_PER_PROCESS" \
  JAX_PLATFORMS=cpu \
    "$PYTHON" -m lstm_jax.main \
      --coordinator_address="127.0.0.1:$PORT" \
      --num_processes="$NUM_PROCESSES" --process_id="$i" \
      --heartbeat_timeout_seconds="$HEARTBEAT_TIMEOUT" "$@" &
  pids+=("$!")
done

# The run's status is the first non-zero status of any process.
status=0
for pid in "${pids[@]}"; do
  if wait "$pid"; then :; else
    code=$?
    if ((status == 0)); then status=$code; fi
  fi
done
exit "$status"
