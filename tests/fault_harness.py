"""Runs the real training command in subprocesses, injects faults into them
and compares what they leave in their workdirs.

The command is `python -m lstm_jax.main` on a tiny model and a small generated
CSV, so a process lives a few seconds, most of them start-up. All processes
of a test share a JAX compilation cache, warmed by the first (uninterrupted)
run, so that restarts compile nothing.
"""

import csv
import dataclasses
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Optional

import numpy as np
import orbax.checkpoint as ocp

from lstm_jax.training import run_records

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
# Fields that measure time, which no two runs share.
WALL_CLOCK_KEYS = frozenset({"seconds", "train_seconds", "train_tokens_per_second",
                             "timed_seconds", "timed_tokens"})
ORBAX_TMP = ".orbax-checkpoint-tmp"

GOOD = ["great", "fine", "lovely", "superb", "nice", "bright"]
BAD = ["awful", "poor", "dreadful", "nasty", "grim", "dull"]
FILLER = ["the", "a", "film", "plot", "actor", "scene", "music", "ending", "was", "it"]


def write_reviews(path: pathlib.Path, n: int = 480, seed: int = 0) -> pathlib.Path:
  """A CSV (`text,label`) whose label shows in one word of each text."""
  rng = random.Random(seed)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for _ in range(n):
      label = rng.choice(["good", "bad"])
      words = rng.choices(FILLER, k=rng.randint(3, 10))
      words.append(rng.choice(GOOD if label == "good" else BAD))
      rng.shuffle(words)
      writer.writerow([" ".join(words), label])
  return path


@dataclasses.dataclass
class Runner:
  """Builds and starts the training command for one data file.

  Attributes:
    data: the CSV to train on.
    scratch: a directory for the TFDS data, the compilation cache and logs.
    overrides: extra `--config.key=value` flags.
  """
  data: pathlib.Path
  scratch: pathlib.Path
  overrides: tuple[str, ...] = ()

  def command(self, workdir: pathlib.Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "lstm_jax.main", "--config=configs/default.py",
        f"--workdir={workdir}", f"--config.data.train_files={self.data}",
        f"--config.data.tfds_data_dir={self.scratch / 'tfds'}",
        "--config.embedding.dim=8", '--config.model.recurrent_layers=[{"units": 8}]',
        "--config.data.max_length=12", "--config.model.implementation=scan",
        "--config.train.batch_size=8", "--config.train.num_devices=1",
        "--config.train.learning_rate=0.01", "--config.train.max_epochs=5",
        "--config.early_stopping.patience=2", *self.overrides, *extra,
    ]

  def env(self) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
        "JAX_COMPILATION_CACHE_DIR": str(self.scratch / "jax_cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
        "PYTHONPATH": str(REPO_ROOT),
    })
    return env

  def start(self, workdir: pathlib.Path, *extra: str) -> subprocess.Popen:
    """Starts the command; its output goes to files next to the workdir."""
    log = self.scratch / "logs"
    log.mkdir(parents=True, exist_ok=True)
    stamp = f"{workdir.name}.{time.monotonic_ns()}"
    out, err = log / f"{stamp}.out", log / f"{stamp}.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
      process = subprocess.Popen(self.command(workdir, *extra), cwd=REPO_ROOT,
                                 env=self.env(), stdout=stdout, stderr=stderr)
    process.logs = (out, err)
    return process

  def run(self, workdir: pathlib.Path, *extra: str, timeout: float = 120) -> "Finished":
    """Runs the command to its end."""
    process = self.start(workdir, *extra)
    process.wait(timeout)
    return Finished.of(process)


@dataclasses.dataclass
class Finished:
  returncode: int
  stdout: str
  stderr: str

  @classmethod
  def of(cls, process: subprocess.Popen) -> "Finished":
    out, err = process.logs
    return cls(process.returncode, out.read_text(), err.read_text())


def orbax_tmp_dirs(workdir: pathlib.Path) -> list[str]:
  """Unfinished orbax writes under the workdir's checkpoints."""
  found = []
  for root in (workdir / "checkpoints", workdir / "checkpoints" / "interrupted"):
    try:
      found += [str(root / name) for name in os.listdir(root) if ORBAX_TMP in name]
    except FileNotFoundError:  # not yet written, or deleted meanwhile
      pass
  return found


def kill_when(process: subprocess.Popen, workdir: pathlib.Path, trigger: Callable[[], bool],
              *, signum: int = signal.SIGKILL, timeout: float = 120) -> Optional[str]:
  """Sends `signum` to `process` as soon as `trigger()` is true.

  Returns:
    What the signal hit: "checkpoint write" when an unfinished orbax
    directory was on disk at that moment, else "elsewhere"; None when the
    process had ended first.
  """
  deadline = time.monotonic() + timeout
  while process.poll() is None:
    if time.monotonic() > deadline:
      process.kill()
      raise TimeoutError(f"{process.args} ran longer than {timeout}s")
    writing = bool(orbax_tmp_dirs(workdir))
    if trigger():
      process.send_signal(signum)
      if signum != signal.SIGSTOP:
        process.wait(timeout)
      return "checkpoint write" if writing or orbax_tmp_dirs(workdir) else "elsewhere"
    time.sleep(0.002)
  return None


def after(seconds: float) -> Callable[[], bool]:
  """A trigger: `seconds` from now."""
  fire_at = time.monotonic() + seconds
  return lambda: time.monotonic() >= fire_at


def writing_checkpoint(workdir: pathlib.Path) -> Callable[[], bool]:
  """A trigger: while orbax writes a checkpoint."""
  return lambda: bool(orbax_tmp_dirs(workdir))


def epoch_saved(workdir: pathlib.Path, epoch: int, then: float = 0.0) -> Callable[[], bool]:
  """A trigger: `then` seconds after the checkpoint of `epoch` appears."""
  seen = []

  def fire() -> bool:
    if not seen and (workdir / "checkpoints" / str(epoch)).is_dir():
      seen.append(time.monotonic())
    return bool(seen) and time.monotonic() >= seen[0] + then

  return fire


def checkpoint_states(workdir: pathlib.Path) -> dict[int, Any]:
  """Epoch → the saved items of the training state (numpy arrays), for every
  kept epoch (the best alone has no optimizer item)."""
  root = workdir / "checkpoints"
  checkpointer = ocp.StandardCheckpointer()
  return {int(p.name): {item: checkpointer.restore(p / item)
                        for item in ("parameters", "optimizer") if (p / item).is_dir()}
          for p in sorted(root.iterdir()) if p.name.isdigit()}


def without_wall_clock(record: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in record.items() if k not in WALL_CLOCK_KEYS}


def history(workdir: pathlib.Path) -> list[dict[str, Any]]:
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [without_wall_clock(json.loads(line)) for line in lines]


def results(workdir: pathlib.Path) -> dict[str, Any]:
  return without_wall_clock(json.loads((workdir / "results.json").read_text()))


def differences(workdir: pathlib.Path, reference: pathlib.Path) -> list[str]:
  """How a finished workdir differs from the reference run's (empty: none).

  Compared exactly: the kept checkpoints (every array of the state),
  `metrics.jsonl` (one line per epoch), `steps.jsonl` (one line per step) and
  `results.json`, leaving out wall-clock fields.
  """
  found = []
  if history(workdir) != history(reference):
    found.append(f"metrics.jsonl: {history(workdir)} != {history(reference)}")
  if run_records.read_steps(workdir) != run_records.read_steps(reference):
    found.append(f"steps.jsonl: {run_records.read_steps(workdir)} != "
                 f"{run_records.read_steps(reference)}")
  if results(workdir) != results(reference):
    found.append(f"results.json: {results(workdir)} != {results(reference)}")
  states, expected = checkpoint_states(workdir), checkpoint_states(reference)
  if states.keys() != expected.keys():
    found.append(f"kept epochs {sorted(states)} != {sorted(expected)}")
  for epoch in states.keys() & expected.keys():
    flat = _flatten(states[epoch])
    for key, value in _flatten(expected[epoch]).items():
      if not np.array_equal(flat.get(key), value):
        found.append(f"epoch {epoch} {key} differs")
  leftovers = orbax_tmp_dirs(workdir) + [
      name for name in ("checkpoints/interrupted",) if (workdir / name).exists()]
  if leftovers:
    found.append(f"left behind: {leftovers}")
  return found


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, dict):
    out = {}
    for k, v in tree.items():
      out.update(_flatten(v, f"{prefix}/{k}"))
    return out
  if isinstance(tree, (list, tuple)):
    return _flatten(dict(enumerate(tree)), prefix)
  return {prefix: tree}
