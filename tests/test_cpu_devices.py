"""Several CPU devices in one process: synchronous dispatch trains real sizes;
with asynchronous dispatch such models are refused before they deadlock."""

import csv
import json
import os
import pathlib
import random
import subprocess
import sys

import jax
import pytest

from configs import default
from lstm_jax.config import validation as config_validation
from lstm_jax.training import cpu_devices

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def config_with_units(units: int):
  config = default.get_config()
  config.model.recurrent_layers = ({"units": units},)
  return config


def test_a_study_size_model_on_two_in_process_cpu_devices_is_refused():
  with pytest.raises(config_validation.ConfigError,
                     match=r"2 CPU devices in one process with LSTM units=128 .*"
                           r"DEVICES_PER_PROCESS=1 bash launch/local_multiprocess.sh"):
    cpu_devices.check_in_process_cpu_devices(config_with_units(128), tuple(jax.devices()[:2]))


@pytest.mark.parametrize("units, num_devices", [(128, 1), (cpu_devices.MAX_SAFE_UNITS, 2)])
def test_one_device_or_a_small_model_runs(units, num_devices):
  cpu_devices.check_in_process_cpu_devices(config_with_units(units),
                                           tuple(jax.devices()[:num_devices]))


def write_study_size_texts(path, n: int, seed: int) -> None:
  """n rows of 25 words from a 25,000-word pool (~20k distinct), 2 labels."""
  rng = random.Random(seed)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for _ in range(n):
      label = rng.choice(["pos", "neg"])
      words = [f"w{rng.randrange(25_000)}" for _ in range(25)] + [f"cue{label}"]
      writer.writerow([" ".join(words), label])


def train_in_subprocess(train_file, workdir, num_devices: int) -> dict:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={num_devices}",
             JAX_PLATFORMS="cpu")
  env.pop("JAX_CPU_ENABLE_ASYNC_DISPATCH", None)
  subprocess.run(
      [sys.executable, "-m", "lstm_jax.main", "--config=configs/default.py",
       f"--workdir={workdir}", f"--config.data.train_files={train_file}",
       "--config.data.max_length=30", "--config.train.max_epochs=1"],
      cwd=REPO_ROOT, env=env, check=True, timeout=300)
  return json.loads((workdir / "results.json").read_text())


@pytest.mark.slow
def test_a_study_size_model_trains_on_two_in_process_cpu_devices_like_one(tmp_path):
  """units 128, embedding ~20k x 300, max_length 30: deadlocked with async dispatch."""
  train_file = tmp_path / "train.csv"
  write_study_size_texts(train_file, 1280, seed=0)
  one = train_in_subprocess(train_file, tmp_path / "one", 1)
  two = train_in_subprocess(train_file, tmp_path / "two", 2)
  for key in ("test_loss", "test_accuracy", "best_val_loss", "train_accuracy"):
    assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key
