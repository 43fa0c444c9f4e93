"""Several CPU devices in one process train a study-size model like one device.

They used to abort (exit 134, "Expected N threads to join the rendezvous"):
the host queued more than XLA:CPU's 32 computations per device, and launches
blocked on that limit took the pool threads the step's other devices needed
(`lstm_jax/training/dispatch.py`). The host now stays a few steps ahead.
"""

import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from conftest import data_dir
from lstm_jax.training import dispatch


class Step:
  """A stand-in for a step's output that records when the host waits for it."""

  def __init__(self, index: int, waited: list[int]):
    self.index, self.waited = index, waited

  def block_until_ready(self):
    self.waited.append(self.index)
    return self


def test_the_host_keeps_at_most_max_steps_ahead_unfinished():
  waited, outputs = [], []
  for index in range(10):
    outputs.append(Step(index, waited))
    dispatch.wait_for_room(outputs)
    # The steps after the last one waited for are the unfinished ones.
    assert len(outputs) - 1 - max(waited, default=-1) <= dispatch.MAX_STEPS_AHEAD
  assert waited == list(range(10 - dispatch.MAX_STEPS_AHEAD))
  # XLA:CPU queues 32 computations per device; a launch past them blocks a pool thread.
  assert dispatch.MAX_STEPS_AHEAD < 32


def write_mr_csv(path: pathlib.Path) -> None:
  """The MR sentence polarity data as one CSV (text, label), as a user has it."""
  folder = data_dir() / "sentiment_mr_polarity"
  if not folder.exists():
    pytest.skip(f"real data not found: {folder} (set LSTM_JAX_DATA_DIR)")
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for label in ("pos", "neg"):
      for line in (folder / f"rt-polarity.{label}").read_text(encoding="latin-1").splitlines():
        writer.writerow([line.strip(), label])


def study_run_flags(train_file: pathlib.Path, workdir: pathlib.Path) -> list[str]:
  """`python -m lstm_jax.main` flags of one epoch of `configs/default.py`
  (vocabulary 20k x 300, LSTM 128) with `max_length` 30 on a CSV."""
  return ["--config=configs/default.py", f"--workdir={workdir}", "--config.data.source=files",
          f"--config.data.train_files={train_file}", "--config.data.text_fields=text",
          "--config.data.label_field=label", "--config.data.max_length=30",
          "--config.train.max_epochs=1"]


def train_in_subprocess(train_file: pathlib.Path, workdir: pathlib.Path,
                        num_devices: int) -> dict:
  """`study_run_flags` in one process with `num_devices` CPU devices."""
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={num_devices}",
             JAX_PLATFORMS="cpu")
  env.pop("JAX_CPU_ENABLE_ASYNC_DISPATCH", None)  # JAX's default: asynchronous
  done = subprocess.run([sys.executable, "-m", "lstm_jax.main",
                         *study_run_flags(train_file, workdir)],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
                        check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  return json.loads((workdir / "results.json").read_text())


@pytest.fixture(scope="module")
def mr_one_device(tmp_path_factory) -> tuple[pathlib.Path, dict]:
  """MR as one CSV, and the results of `study_run_flags` on one CPU device."""
  tmp = tmp_path_factory.mktemp("mr")
  write_mr_csv(tmp / "mr.csv")
  return tmp / "mr.csv", train_in_subprocess(tmp / "mr.csv", tmp / "one_device", 1)


@pytest.mark.slow
@pytest.mark.parametrize("num_devices", [2, 4])
def test_a_study_size_model_trains_on_in_process_cpu_devices_like_on_one(
    tmp_path, mr_one_device, num_devices):
  """MR (10,662 sentences): ~135 steps an epoch, more than the 32 that XLA:CPU
  queues per device, past which 2 and 4 devices used to abort."""
  train_file, one = mr_one_device
  assert one["num_train"] // 64 > 32
  many = train_in_subprocess(train_file, tmp_path / "workdir", num_devices)
  for key in ("test_loss", "test_accuracy", "best_val_loss", "train_accuracy"):
    assert many[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
