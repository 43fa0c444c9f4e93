"""Stopping a run cleanly on Ctrl-C (SIGINT) or preemption (SIGTERM).

The first signal only sets a flag. The training loop sees it before its next
step, saves where it is inside the epoch (an "interrupted" checkpoint: the
state after the last finished step, the step position and the metric sums of
the steps done) and raises `Interrupted`; the command exits with code
128 + the signal number (130 for SIGINT, 143 for SIGTERM). Rerunning the same
command restores the epoch's checkpoint, then this one, and continues at the
next step, so the run ends exactly as an uninterrupted one would.

A second signal acts as if no handler were installed (SIGINT raises
KeyboardInterrupt, SIGTERM ends the process at once): a run that must stop
now can, and it resumes from the last epoch's checkpoint.

The interrupted checkpoint lives in `checkpoints/interrupted/`, numbered by
optimizer step, and is deleted once its epoch's checkpoint is written.
"""

import dataclasses
import logging
import math
import os
import shutil
import signal
import sys
import threading
from typing import Any, Optional

import jax
import numpy as np
from jax.experimental import multihost_utils

from lstm_jax.training import checkpoints

PyTree = Any
INTERRUPTED_DIR = "interrupted"
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_log = logging.getLogger(__name__)


class Interrupted(Exception):
  """The run stopped on a signal after saving where it was."""

  def __init__(self, signum: int, message: str):
    super().__init__(message)
    self.signum = signum

  @property
  def exit_code(self) -> int:
    return 128 + self.signum


class StopRequest:
  """Turns the first SIGINT / SIGTERM into a flag the training loop polls.

  `install()` does nothing outside the main thread, where Python cannot
  handle signals; `uninstall()` puts the previous handlers back.
  """

  def __init__(self):
    self.signum: Optional[int] = None
    self._previous: dict[int, Any] = {}

  def install(self) -> None:
    if threading.current_thread() is not threading.main_thread():
      return
    for signum in SIGNALS:
      self._previous[signum] = signal.signal(signum, self._handle)

  def uninstall(self) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous.clear()

  def _handle(self, signum: int, unused_frame: Any) -> None:
    self.signum = signum
    # The next signal of this kind stops at once.
    signal.signal(signum, self._previous.pop(signum))
    print(f"\n{signal.Signals(signum).name}: stopping after the current step and saving "
          "a checkpoint (send it again to stop at once).", file=sys.stderr, flush=True)

  def interrupted(self, message: str) -> Interrupted:
    """The exception ending the run; another process's signal counts as SIGTERM."""
    signum = self.signum or signal.SIGTERM
    return Interrupted(signum, f"{signal.Signals(signum).name}: {message}")

  def requested(self) -> bool:
    """Whether any process of the run got a stop signal (all agree)."""
    local = self.signum is not None
    if jax.process_count() == 1:
      return local
    return bool(np.any(multihost_utils.process_allgather(np.int32(local))))


@dataclasses.dataclass
class EpochProgress:
  """How far an interrupted epoch got."""
  epoch: int
  steps_done: int = 0
  per_step: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)
  seconds: float = 0.0
  timed_seconds: float = 0.0
  timed_tokens: int = 0

  def to_meta(self) -> dict[str, Any]:
    meta = dataclasses.asdict(self)
    keys = self.per_step[0].keys() if self.per_step else ()
    meta["per_step"] = {
        k: {"dtype": np.asarray(self.per_step[0][k]).dtype.name,
            "values": [np.asarray(m[k]).tolist() for m in self.per_step]} for k in keys}
    return meta

  @classmethod
  def from_meta(cls, meta: dict[str, Any]) -> "EpochProgress":
    columns = {k: [np.asarray(v, column["dtype"]) for v in column["values"]]
               for k, column in meta["per_step"].items()}
    per_step = [{k: columns[k][i] for k in columns} for i in range(meta["steps_done"])]
    return cls(**{**meta, "per_step": per_step})


def save_progress(directory: os.PathLike, state: PyTree, progress: EpochProgress) -> None:
  """Writes the interrupted checkpoint (every process must call it)."""
  with checkpoints.Checkpointer(directory, keep_latest=1) as ckpt:
    ckpt.save(int(jax.device_get(state.step)), state, progress.to_meta(), math.nan)


def restore_progress(directory: os.PathLike, target: PyTree,
                     epoch: int) -> Optional[tuple[PyTree, EpochProgress]]:
  """The state and progress of an interrupted `epoch`, None if there is none.

  An interrupted checkpoint of another epoch is stale (its epoch finished
  after it was written) and is deleted. A damaged one is only a loss of
  progress within the epoch: it is logged and the epoch starts over.
  """
  if not os.path.isdir(directory):
    return None
  try:
    with checkpoints.Checkpointer(directory, keep_latest=1) as ckpt:
      restored = ckpt.restore_latest_intact(target)
  except checkpoints.DamagedCheckpointError as error:
    _log.warning("%s; epoch %d starts from its first step", error, epoch)
    restored = None
  if restored is not None and restored[2]["epoch"] == epoch:
    _, state, meta = restored
    return state, EpochProgress.from_meta(meta)
  discard_progress(directory)
  return None


def discard_progress(directory: os.PathLike) -> None:
  """Deletes the interrupted checkpoint once its epoch is saved."""
  if jax.process_index() == 0 and os.path.isdir(directory):
    shutil.rmtree(directory)
