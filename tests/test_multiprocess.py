"""Multi-process runs on CPU: K processes on 127.0.0.1 joined by jax.distributed.

2 processes x 2 CPU devices (gloo collectives) must train exactly as 1 process
x 4 devices on the same global batches; process 0 alone writes the workdir; a
process that dies or fails stops the others within a bounded time, and
rerunning the launch resumes from the last checkpoint.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from configs import default
from lstm_jax import workdir as workdir_lib
from lstm_jax.training import batching
from lstm_jax.training import run_records
from lstm_jax.training import steps
from lstm_jax.training import train
from test_cpu_devices import mr_one_device, study_run_flags  # pylint: disable=unused-import
from test_data_parallel import write_texts
from conftest import REPO_ROOT

LAUNCH = REPO_ROOT / "launch"
HEARTBEAT_SECONDS = 5
# Read by process 0 only; any other process writing one of these would race.
WORKDIR_FILES = {"checkpoints", "command.txt", "config.json", "dataset_report.json",
                 "labels.json", "metrics.jsonl", "results.json", "steps.jsonl", "tensorboard",
                 "tokenizer.json"}


def run_settings(tmp: pathlib.Path, **overrides) -> dict:
  """Config overrides of a tiny run on generated data in `tmp`."""
  train_file = tmp / "train.csv"
  if not train_file.exists():
    write_texts(train_file, 150, seed=0)
  return {"data.train_files": (str(train_file),), "data.tfds_data_dir": str(tmp / "tfds"),
          "data.max_length": 10, "embedding.dim": 8, "model.recurrent_layers": ({"units": 8},),
          "model.implementation": "scan", "train.batch_size": 16,
          "train.learning_rate": 0.05, "train.max_epochs": 2, **overrides}


def flag_value(value):
  """A config value as a --config flag writes it: layer lists as JSON, other
  lists comma-separated."""
  if isinstance(value, tuple):
    return json.dumps(value) if value and isinstance(value[0], dict) else ",".join(value)
  return value


def as_flags(settings: dict, workdir: pathlib.Path) -> list[str]:
  """The `lstm_jax.main` command line of `settings`."""
  return ["--config=configs/default.py", f"--workdir={workdir}",
          *(f"--config.{k}={flag_value(v)}"
            for k, v in settings.items())]


def as_config(settings: dict):
  config = default.get_config()
  for key, value in settings.items():
    section, name = key.split(".")
    config[section][name] = value
  return config


def launch(flags: list[str], timeout: float = 300, **env) -> subprocess.CompletedProcess:
  """Runs launch/local_multiprocess.sh (2 processes x 2 devices by default)."""
  env = {**os.environ, "PYTHON": sys.executable,
         "HEARTBEAT_TIMEOUT": str(HEARTBEAT_SECONDS), **env}
  return subprocess.run(["bash", str(LAUNCH / "local_multiprocess.sh"), *flags],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                        timeout=timeout, check=False)


def final_params(workdir: pathlib.Path) -> dict:
  directory = workdir / "checkpoints"
  last = max(int(p.name) for p in directory.iterdir() if p.name.isdigit())
  return ocp.StandardCheckpointer().restore(directory / str(last) / "parameters")


def test_each_process_builds_only_its_shards_of_the_global_batches():
  rng = np.random.default_rng(0)
  ids = rng.integers(1, 30, (43, 5)).astype(np.int32)
  labels = np.arange(43, dtype=np.int32)  # the label is the example's index
  options = dict(batch_size=16, num_devices=4, shuffle=True, seed=0, epoch=1)
  processes = [steps.Topology(devices=tuple(range(4)), num_local_devices=2, process_index=p)
               for p in range(2)]
  # What make_batches agrees on with one all-gather per epoch.
  sizes = np.max([batching.batch_vocab_sizes(ids, labels, shards=t.local_shards, **options)
                  for t in processes], axis=0)
  built = [list(batching.batches(ids, labels, distinct_tokens=True, shards=t.local_shards,
                                 largest_vocab_sizes=sizes, **options)) for t in processes]
  whole = list(batching.batches(ids, labels, distinct_tokens=True, **options))
  assert len(built[0]) == len(built[1]) == len(whole) == 3
  for index, batch in enumerate(whole):
    assert built[0][index]["token_ids"].shape == (2, 4, 5)
    for key, value in batch.items():
      np.testing.assert_array_equal(
          np.concatenate([built[0][index][key], built[1][index][key]]), value, err_msg=key)
  fed = [[label for b in batches for label in b["label"][b["weight"] > 0]] for batches in built]
  assert not set(fed[0]) & set(fed[1]) and fed[0] and fed[1]
  assert sorted(fed[0] + fed[1]) == labels.tolist()


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("multiprocess")
  workdir = tmp / "two_processes"
  done = launch(as_flags(run_settings(tmp), workdir))
  assert done.returncode == 0, done.stderr[-3000:]
  return tmp, workdir, done


def test_two_processes_train_as_one_process_with_four_devices(two_process_run):
  tmp, workdir, _ = two_process_run
  one = train.train_and_evaluate(as_config(run_settings(tmp, **{"train.num_devices": 4})),
                                 tmp / "one_process")
  two = workdir_lib.read_json(workdir / "results.json")
  assert one["num_train"] % 16  # the last batch of each epoch is padded
  for a, b in zip(run_records.read_history(tmp / "one_process"),
                  run_records.read_history(workdir), strict=True):
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
      assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
  for key in ("test_loss", "test_accuracy", "test_macro_f1", "num_train", "best_epoch"):
    assert one[key] == pytest.approx(two[key], rel=1e-5, abs=1e-6), key
  assert one["confusion_matrix"] == two["confusion_matrix"]
  one_params = final_params(tmp / "one_process")
  two_params = final_params(workdir)
  assert jax.tree.structure(one_params) == jax.tree.structure(two_params)
  # The all-reduce sums in another order across processes; Adam's m / sqrt(v)
  # amplifies that rounding where gradients are near zero (a few 1e-6 here).
  for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(one_params),
                          jax.tree.leaves(two_params)):
    np.testing.assert_allclose(b, a, rtol=2e-5, atol=1e-5, err_msg=jax.tree_util.keystr(path))


def test_only_process_0_reports_and_writes(two_process_run):
  _, workdir, done = two_process_run
  assert done.stdout.count("Epoch 1/2") == 1
  assert done.stdout.count("test_accuracy:") == 1
  # Temporary files of concurrent writers would be left beside these.
  assert {p.name for p in workdir.iterdir()} == WORKDIR_FILES
  assert len(list((workdir / "tensorboard").iterdir())) == 1
  assert len(run_records.read_history(workdir)) == 2


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start_process(index: int, port: int, flags: list[str], log: pathlib.Path) -> subprocess.Popen:
  """One process of a 2 x 2 run, started as launch/local_multiprocess.sh does."""
  env = {**os.environ, "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  with open(log, "w", encoding="utf-8") as out:
    return subprocess.Popen(
        [sys.executable, "-m", "lstm_jax.main", f"--coordinator_address=127.0.0.1:{port}",
         "--num_processes=2", f"--process_id={index}",
         f"--heartbeat_timeout_seconds={HEARTBEAT_SECONDS}", *flags],
        cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for_epochs(workdir: pathlib.Path, n: int, processes, timeout: float) -> list[str]:
  deadline = time.monotonic() + timeout
  path = workdir / "metrics.jsonl"
  while time.monotonic() < deadline:
    lines = path.read_text().splitlines() if path.exists() else []
    if len(lines) >= n:
      return lines
    assert all(p.poll() is None for p in processes), "a process ended early"
    time.sleep(0.05)
  raise TimeoutError(f"no epoch {n} in {path} after {timeout}s")


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0])
def test_a_dead_process_stops_the_other_and_the_rerun_resumes(tmp_path, victim):
  # Enough epochs that the run is still going when a process is killed.
  settings = run_settings(tmp_path, **{"train.max_epochs": 40,
                                       "early_stopping.patience": 40})
  workdir = tmp_path / "workdir"
  flags = as_flags(settings, workdir)
  port = free_port()
  processes = [start_process(i, port, flags, tmp_path / f"process_{i}.log") for i in range(2)]
  try:
    first_epoch = wait_for_epochs(workdir, 1, processes, timeout=240)[0]
    processes[victim].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    survivor = processes[1 - victim]
    survivor.wait(timeout=HEARTBEAT_SECONDS + 60)
    stopped_after = time.monotonic() - killed
  finally:
    for p in processes:
      p.kill()
      p.wait()
  assert survivor.returncode != 0
  assert stopped_after < HEARTBEAT_SECONDS + 30
  log = (tmp_path / f"process_{1 - victim}.log").read_text()
  assert any(s in log for s in ("another task died", "unhealthy", "Connection reset by peer",
                                "Connection closed by peer")), log[-3000:]
  assert not (workdir / "results.json").exists()

  done = launch(flags)
  assert done.returncode == 0, done.stderr[-3000:]
  history = (workdir / "metrics.jsonl").read_text().splitlines()
  assert history[0] == first_epoch  # resumed: epoch 1 was not trained again
  results = workdir_lib.read_json(workdir / "results.json")
  assert results["epochs_run"] == 40
  assert [json.loads(line)["epoch"] for line in history] == list(range(1, 41))


def test_an_error_in_one_process_stops_the_other_promptly(tmp_path):
  """Only process 0 checks the workdir's config; process 1 must not wait for it."""
  workdir = tmp_path / "workdir"
  workdir.mkdir()
  (workdir / "config.json").write_text(json.dumps({"name": "another run"}))
  (workdir / "results.json").write_text(json.dumps({"test_accuracy": 0.5}))
  start = time.monotonic()
  done = launch(as_flags(run_settings(tmp_path), workdir), timeout=120)
  assert done.returncode != 0
  assert "was written by a run with another config" in done.stderr
  assert time.monotonic() - start < 60 + HEARTBEAT_SECONDS


@pytest.mark.parametrize("script", sorted(p.name for p in LAUNCH.iterdir()
                                          if p.suffix in (".sh", ".sbatch")))
def test_launch_script_parses(script):
  done = subprocess.run(["bash", "-n", str(LAUNCH / script)], capture_output=True, text=True,
                        check=False)
  assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("devices_per_process", [1, 2])
def test_two_processes_train_a_study_size_model_as_one_device(tmp_path, mr_one_device,
                                                              devices_per_process):
  """`configs/default.py` (vocabulary 20k x 300, LSTM 128) on MR, one epoch of
  ~135 steps of the same global batches: 2 processes (gloo) equal 1 device."""
  train_file, one = mr_one_device
  workdir = tmp_path / "two_processes"
  done = launch(study_run_flags(train_file, workdir), timeout=900,
                DEVICES_PER_PROCESS=str(devices_per_process))
  assert done.returncode == 0, done.stderr[-3000:]
  two = workdir_lib.read_json(workdir / "results.json")
  # Equal to the last digit on the 2-core machine; the tolerance allows another
  # order of float additions elsewhere.
  for key in ("test_loss", "test_accuracy", "best_val_loss", "train_accuracy"):
    assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
