"""What a run records in its workdir epoch by epoch: its history,
`metrics.jsonl` (one line per epoch, read back by `read_history`), every
optimizer step's loss and gradient norm, `steps.jsonl` (`read_steps`), and
TensorBoard events. What it prints is `console`'s; the workdir's file names
and JSON files are `workdir`'s.

Every write is atomic (`workdir.write_text_atomic`), so a run killed at any
moment leaves either the old or the new file, never half of one.
"""

import json
import math
import os
import pathlib
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib

# An epoch's record in metrics.jsonl, as Keras names the figures; `grad_norm` is
# the mean over the epoch's steps of the gradient's global norm before clipping
# (the record also holds its largest, `grad_norm_max`).
EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
              "grad_norm", "seconds")
# A step's record in steps.jsonl: the optimizer step (1-based, over the run), its
# epoch, the batch's mean training loss and the gradient's global norm before clipping.
STEP_KEYS = ("step", "epoch", "loss", "grad_norm")


def write_history(workdir: os.PathLike, history: Iterable[dict[str, Any]]) -> None:
  """Rewrites `metrics.jsonl` with one JSON object per epoch."""
  lines = [json.dumps(record, sort_keys=True) for record in history]
  workdir_lib.write_text_atomic(pathlib.Path(workdir) / workdir_lib.METRICS_FILE,
                                "".join(line + "\n" for line in lines))


def read_history(workdir: os.PathLike) -> list[dict[str, Any]]:
  """The epochs of `metrics.jsonl` in order, [] without the file; a line that
  is not a JSON object with an `epoch` is a `UserError` naming file:line.
  The last line of an epoch wins (a resumed run may repeat one)."""
  path = pathlib.Path(workdir) / workdir_lib.METRICS_FILE
  if not path.exists():
    return []
  by_epoch = {}
  for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
    if not line.strip():
      continue
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      raise errors.BadValueError(f"{path}:{number}: not valid JSON ({e.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
      raise errors.BadValueError(f"{path}:{number}: not an epoch record (a JSON object "
                                 "with an integer 'epoch')")
    by_epoch[record["epoch"]] = record
  return [by_epoch[e] for e in sorted(by_epoch)]


def step_records(epoch: int, last_step: int,
                 per_step: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
  """The `STEP_KEYS` records of an epoch's steps.

  Args:
    epoch: the epoch.
    last_step: the optimizer step count after the epoch's last step.
    per_step: each step's outputs on the host: the metric sums (`loss_sum`,
      `count`) and `grad_norm` (NaN where absent: progress saved by a version
      that did not record it).
  """
  first = last_step - len(per_step) + 1
  return [{"step": first + i, "epoch": epoch,
           "loss": float(m["loss_sum"]) / max(float(m["count"]), 1.0),
           "grad_norm": float(m.get("grad_norm", math.nan))}
          for i, m in enumerate(per_step)]


def grad_norm_summary(steps: Sequence[Mapping[str, Any]]) -> dict[str, float]:
  """`grad_norm` (the mean) and `grad_norm_max` of an epoch's step records."""
  norms = np.array([s["grad_norm"] for s in steps], np.float64)
  return {"grad_norm": float(np.mean(norms)), "grad_norm_max": float(np.max(norms))}


def write_steps(workdir: os.PathLike, steps: Sequence[Mapping[str, Any]]) -> None:
  """Writes an epoch's step records into `steps.jsonl`, replacing the records
  of that epoch and any later one (a resumed run redoes them)."""
  epoch = steps[0]["epoch"]
  kept = [s for s in read_steps(workdir) if s["epoch"] < epoch]
  lines = [json.dumps(record, sort_keys=True) for record in [*kept, *steps]]
  workdir_lib.write_text_atomic(pathlib.Path(workdir) / workdir_lib.STEPS_FILE,
                                "".join(line + "\n" for line in lines))


def read_steps(workdir: os.PathLike) -> list[dict[str, Any]]:
  """The step records of `steps.jsonl` in order, [] without the file; a line
  that is not a record is a `UserError` naming file:line."""
  path = pathlib.Path(workdir) / workdir_lib.STEPS_FILE
  if not path.exists():
    return []
  records = []
  for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      raise errors.BadValueError(f"{path}:{number}: not valid JSON ({e.msg})") from None
    if not isinstance(record, dict) or not set(STEP_KEYS) <= record.keys():
      raise errors.BadValueError(f"{path}:{number}: not a step record (a JSON object with "
                                 f"{', '.join(STEP_KEYS)})")
    records.append(record)
  return records


class TensorBoard:
  """Scalars per epoch, and the loss and gradient norm per step, under
  `workdir/tensorboard` (tensorboardX writer)."""

  def __init__(self, workdir: os.PathLike):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self._writer = SummaryWriter(str(pathlib.Path(workdir) / workdir_lib.TENSORBOARD_DIR))

  def write_epoch(self, record: dict[str, Any]) -> None:
    for key in EPOCH_KEYS[1:]:
      self._writer.add_scalar(key, record[key], record["epoch"])
    self._writer.flush()

  def write_steps(self, steps: Iterable[Mapping[str, Any]]) -> None:
    for record in steps:
      for key in ("loss", "grad_norm"):
        self._writer.add_scalar(f"step/{key}", record[key], record["step"])
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()
