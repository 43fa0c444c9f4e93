"""What a run tells the user and leaves in its workdir: epoch lines, progress,
`metrics.jsonl`, `results.json`, TensorBoard events.

Every write is atomic (temporary file, then rename), so a run killed at any
moment leaves either the old or the new file, never half of one.
"""

import json
import os
import pathlib
import sys
import time
from typing import Any, Iterable, Optional, TextIO

from lstm_jax import workdir as workdir_lib
# The atomic writes live with the workdir; re-exported for the modules that report.
from lstm_jax.workdir import read_json, write_json_atomic, write_text_atomic  # pylint: disable=unused-import

EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


def epoch_line(record: dict[str, float], max_epochs: int) -> str:
  """Formats one epoch like Keras's `fit` log.

  >>> epoch_line({"epoch": 2, "loss": 0.5, "accuracy": 0.75, "val_loss": 0.6,
  ...             "val_accuracy": 0.7, "seconds": 3.2}, 10)
  'Epoch 2/10 - 3.2s - loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.6000 - val_accuracy: 0.7000'
  """
  parts = [f"Epoch {record['epoch']}/{max_epochs}", f"{record['seconds']:.1f}s"]
  parts += [f"{k}: {record[k]:.4f}" for k in EPOCH_KEYS[1:-1]]
  return " - ".join(parts)


def write_history(workdir: os.PathLike, history: Iterable[dict[str, Any]]) -> None:
  """Rewrites `metrics.jsonl` with one JSON object per epoch."""
  lines = [json.dumps(record, sort_keys=True) for record in history]
  write_text_atomic(pathlib.Path(workdir) / workdir_lib.METRICS_FILE,
                    "".join(line + "\n" for line in lines))


def read_history(workdir: os.PathLike) -> list[dict[str, Any]]:
  path = pathlib.Path(workdir) / workdir_lib.METRICS_FILE
  if not path.exists():
    return []
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]


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


class ProgressBar:
  """A one-line progress bar inside an epoch; silent when not on a terminal."""

  def __init__(self, total: int, stream: Optional[TextIO] = None, width: int = 30):
    self._total = max(total, 1)
    self._stream = stream or sys.stderr
    self._enabled = self._stream.isatty()
    self._width = width
    self._start = time.monotonic()
    self._last_draw = 0.0

  def update(self, done: int) -> None:
    now = time.monotonic()
    if not self._enabled or (now - self._last_draw < 0.2 and done < self._total):
      return
    self._last_draw = now
    filled = self._width * done // self._total
    eta = (now - self._start) / max(done, 1) * (self._total - done)
    self._stream.write(f"\r{done}/{self._total} [{'=' * filled}{'.' * (self._width - filled)}]"
                       f" ETA {eta:.0f}s ")
    self._stream.flush()

  def close(self) -> None:
    if self._enabled:
      self._stream.write("\r" + " " * (self._width + 40) + "\r")
      self._stream.flush()
