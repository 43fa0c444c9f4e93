"""What a run records in its workdir epoch by epoch: its history,
`metrics.jsonl` (one line per epoch, read back by `read_history`), and
TensorBoard events. What it prints is `console`'s; the workdir's file names
and JSON files are `workdir`'s.

Every write is atomic (`workdir.write_text_atomic`), so a run killed at any
moment leaves either the old or the new file, never half of one.
"""

import json
import os
import pathlib
from typing import Any, Iterable

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib

# An epoch's record in metrics.jsonl, as Keras names the figures.
EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
              "seconds")


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


class TensorBoard:
  """Scalars per epoch under `workdir/tensorboard` (tensorboardX writer)."""

  def __init__(self, workdir: os.PathLike):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self._writer = SummaryWriter(str(pathlib.Path(workdir) / workdir_lib.TENSORBOARD_DIR))

  def write_epoch(self, record: dict[str, Any]) -> None:
    for key in EPOCH_KEYS[1:]:
      self._writer.add_scalar(key, record[key], record["epoch"])
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()
