"""Per-epoch checkpoints with orbax: keep the latest (resume) and the best.

Each epoch is one orbax step holding five items (named in `workdir.py`):

  parameters the `params` of the training pytree: arrays only;
  optimizer  the rest of it (optimizer state, step, ...);
  meta       a JSON dict of everything else needed to resume exactly (epoch,
             early-stopping state, RNG key data, data-order seed, metrics);
  metrics    the monitored value that ranks the epoch for "best" (orbax's);
  tree       the key paths, shapes and dtypes of the whole pytree, to tell a
             checkpoint of another model apart from a damaged one.

Kept: the `keep_latest` newest epochs (2 by default, so a damaged newest has
an intact fallback) and the best by the monitored metric. An epoch kept only as
the best loses its `optimizer` item (Adam's two moments are twice the size of
the parameters): it serves and tests, and the newest epochs resume. Checkpoints
written before the split hold the whole pytree in one item, `state`, and are
read as before.

The best is found with orbax's `best_fn`; a non-finite metric ranks last and ties go to the
earlier epoch, which is the epoch Keras's EarlyStopping calls best when
`min_delta` is 0. (With `min_delta` > 0 early stopping may name an earlier,
slightly worse epoch than `best_epoch()`; restore by `best_epoch()`.)

Opening a directory drops epochs that this policy no longer keeps (left
behind by a run killed between writing an epoch and deleting the ones it
displaced). Saves are synchronous: an error (disk full, ...) surfaces in `save` as a
`CheckpointWriteError` while the previous checkpoints stay intact, since orbax
writes into a temporary directory renamed only when complete. A run killed
mid-write leaves only that temporary directory, which orbax ignores and
removes.

`restore_latest_intact` walks back from the newest epoch; a damaged one
(a file missing or truncated) is logged, moved to `damaged/` (so that the
resumed run can write that epoch again) and skipped. When checkpoints exist
but none is intact it raises, and moves nothing: never a silent fresh start
over earlier work.

With several processes (multi-host), every process must call `save` and the
restore methods, as orbax requires.
"""

import dataclasses
import datetime
import json
import logging
import math
import os
import shutil
import time
from typing import Any, Callable, Mapping, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib

PyTree = Any
DAMAGED_DIR = "damaged"
_MODES = ("min", "max")

_log = logging.getLogger(__name__)


class CheckpointError(errors.UserError):
  """Base class of checkpoint errors."""


class CheckpointWriteError(CheckpointError):
  """A checkpoint could not be written (the previous ones are intact)."""


class DamagedCheckpointError(CheckpointError):
  """A checkpoint cannot be read, or no intact checkpoint is left."""


class IncompatibleCheckpointError(CheckpointError):
  """A checkpoint holds a different state structure (another config)."""


class ParamsOnlyCheckpointError(CheckpointError):
  """An epoch kept as the best holds its parameters only; it cannot resume."""


def split_params(state: PyTree) -> tuple[PyTree, PyTree]:
  """(the `params` of a train state, the rest of it with params None)."""
  if isinstance(state, Mapping):
    return state["params"], {**state, "params": None}
  return state.params, state.replace(params=None)


def join_params(params: PyTree, rest: PyTree) -> PyTree:
  """The inverse of `split_params`."""
  if isinstance(rest, Mapping):
    return {**rest, "params": params}
  return rest.replace(params=params)


def tree_layout(state: PyTree) -> dict[str, dict[str, Any]]:
  """Key path → {shape, dtype} of every leaf (an array) of `state`."""
  return {
      jax.tree_util.keystr(path): {
          "shape": list(np.shape(leaf)),
          "dtype": np.dtype(leaf.dtype).name,
      } for path, leaf in jax.tree_util.tree_leaves_with_path(state)
  }


def params_layout(layout: Mapping[str, Any]) -> dict[str, Any]:
  """The part of a train state's `tree_layout` under `.params`, keyed as the
  `tree_layout` of the params alone."""
  prefix = ".params"
  return {key[len(prefix):]: value for key, value in layout.items()
          if key.startswith(prefix + "[")}


def layout_differences(saved: Mapping[str, Any],
                       wanted: Mapping[str, Any]) -> list[str]:
  """Human-readable differences between two `tree_layout`s."""
  differences = [f"{key}: missing in the checkpoint"
                 for key in sorted(set(wanted) - set(saved))]
  differences += [f"{key}: only in the checkpoint"
                  for key in sorted(set(saved) - set(wanted))]
  differences += [
      f"{key}: checkpoint has {saved[key]['dtype']}{saved[key]['shape']}, "
      f"expected {wanted[key]['dtype']}{wanted[key]['shape']}"
      for key in sorted(set(saved) & set(wanted)) if saved[key] != wanted[key]
  ]
  return differences


def _ranking_fn(mode: str) -> Callable[[Mapping[str, Any]], tuple[float, int]]:
  """orbax `best_fn`: sorts checkpoints so that the best one comes last.

  orbax sorts by this key, descending in "min" mode and ascending in "max"
  mode, and takes the last. Non-finite values become the worst value; the
  epoch breaks ties in favour of the earlier epoch.
  """
  worst = math.inf if mode == "min" else -math.inf

  def rank(metrics: Mapping[str, Any]) -> tuple[float, int]:
    value = float(metrics["value"])
    value = value if math.isfinite(value) else worst
    epoch = int(metrics["epoch"])
    return (value, epoch) if mode == "min" else (value, -epoch)

  return rank


@dataclasses.dataclass(frozen=True)
class _SavedEpoch:
  """What orbax's preservation policies read of a checkpoint (`PolicyCheckpointInfo`)."""
  step: int
  metrics: Optional[dict[str, Any]]
  time: datetime.datetime


class Checkpointer:
  """Saves one checkpoint per epoch; keeps the latest ones and the best.

  Args:
    directory: where the checkpoints live (created if missing).
    monitor_mode: "min" or "max": whether a lower or a higher monitored
      value is better.
    keep_latest: how many of the newest epochs to keep (>= 1).
  """

  def __init__(self, directory: str, *, monitor_mode: str = "min",
               keep_latest: int = 2):
    if monitor_mode not in _MODES:
      raise ValueError(
          f"monitor_mode must be 'min' or 'max', not {monitor_mode!r}")
    if keep_latest < 1:
      raise ValueError(f"keep_latest must be >= 1, not {keep_latest}")
    self.directory = os.path.abspath(directory)
    self._keep_latest = keep_latest
    rank = _ranking_fn(monitor_mode)
    policy = checkpoint_managers.AnyPreservationPolicy([
        checkpoint_managers.LatestN(n=keep_latest),
        # reverse=True sorts descending, so the lowest value is kept in
        # "min" mode; it must agree with best_mode below.
        checkpoint_managers.BestN(get_metric_fn=rank,
                                  reverse=monitor_mode == "min", n=1,
                                  keep_checkpoints_without_metrics=False),
    ])
    self._options = ocp.CheckpointManagerOptions(
        preservation_policy=policy, best_fn=rank, best_mode=monitor_mode,
        enable_async_checkpointing=False, create=True)
    self._manager = self._open()
    self._drop_unkept()

  def _open(self) -> ocp.CheckpointManager:
    """Opens the manager; moves aside epochs whose metrics file is damaged.

    orbax reads every step's metrics when it opens a directory and fails as a
    whole on one unreadable file, so that file's epoch is set aside first,
    unless no epoch would be left.
    """
    try:
      return ocp.CheckpointManager(self.directory, options=self._options)
    except (OSError, ValueError) as error:
      on_disk = self._epochs_on_disk()
      damaged = [epoch for epoch in on_disk
                 if not self._metrics_readable(epoch)]
      if not damaged:
        raise CheckpointError(
            f"cannot open the checkpoints in {self.directory}: {error}"
        ) from error
      if damaged == on_disk:
        raise DamagedCheckpointError(
            f"no intact checkpoint in {self.directory}: the metrics files of "
            f"epochs {damaged} are unreadable ({error}). Nothing was changed; "
            "repair or remove the directory to start over.") from error
    for epoch in damaged:
      self._set_aside(epoch, "its metrics file is unreadable")
    return ocp.CheckpointManager(self.directory, options=self._options)

  def _drop_unkept(self) -> None:
    """Deletes epochs the policy no longer keeps.

    orbax drops them after writing the epoch that displaces them; a run
    killed in between leaves them behind, and if that was its last epoch no
    later save would ever drop them.
    """
    saved = [_SavedEpoch(epoch, self._manager.metrics(epoch),
                         datetime.datetime.fromtimestamp(
                             os.path.getmtime(os.path.join(self.directory, str(epoch)))))
             for epoch in self.epochs()]
    keep = self._options.preservation_policy.should_preserve(
        saved, context=checkpoint_managers.PreservationContext())
    for info, kept in zip(saved, keep):
      if not kept:
        self._manager.delete(info.step)

  def _epochs_on_disk(self) -> list[int]:
    return sorted(int(name) for name in os.listdir(self.directory)
                  if name.isdigit())

  def _metrics_readable(self, epoch: int) -> bool:
    path = os.path.join(self.directory, str(epoch), workdir_lib.METRICS_ITEM,
                        workdir_lib.METRICS_ITEM)
    try:
      with open(path) as f:
        json.load(f)
    except FileNotFoundError:
      return True  # orbax treats it as a checkpoint without metrics
    except (OSError, ValueError):
      return False
    return True

  def _set_aside(self, epoch: int, reason: str) -> None:
    """Moves a damaged epoch into `damaged/`, keeping it for inspection."""
    target = os.path.join(self.directory, DAMAGED_DIR,
                          f"{epoch}.{time.strftime('%Y%m%dT%H%M%S')}")
    if jax.process_index() == 0:
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(os.path.join(self.directory, str(epoch)), target)
    ocp.multihost.sync_global_processes(f"lstm_jax_set_aside_{epoch}")
    _log.warning("checkpoint of epoch %d in %s is damaged (%s); moved to %s",
                 epoch, self.directory, reason, target)

  def save(self, epoch: int, state: PyTree, meta: Mapping[str, Any],
           metric_value: float) -> None:
    """Writes the checkpoint of `epoch` and drops the ones no longer kept.

    Args:
      epoch: the epoch just finished (>= 1), larger than any saved before.
      state: a train state (a mapping or a dataclass with `params`) of
        arrays: jax.Arrays (from jit or pmap) or numpy arrays; PRNG keys as
        `jax.random.key_data`.
      meta: JSON-serializable dict saved alongside.
      metric_value: the monitored metric; NaN / inf are saved but rank last.

    Raises:
      ValueError: `meta` is not JSON-serializable or the epoch already exists.
      CheckpointWriteError: writing failed (e.g. disk full); the earlier
        checkpoints are intact. Stop the run; rerunning resumes from them.
    """
    try:
      json.dumps(meta, allow_nan=True)
    except (TypeError, ValueError) as error:
      raise ValueError(
          f"checkpoint meta of epoch {epoch} is not JSON-serializable: "
          f"{error}; convert arrays with .tolist() and numbers with float()"
      ) from error
    if epoch in self._manager.all_steps():
      raise ValueError(f"a checkpoint of epoch {epoch} already exists in "
                       f"{self.directory}")
    params, rest = split_params(state)
    args = ocp.args.Composite(
        **{workdir_lib.PARAMS_ITEM: ocp.args.StandardSave(params),
           workdir_lib.OPTIMIZER_ITEM: ocp.args.StandardSave(rest),
           workdir_lib.META_ITEM: ocp.args.JsonSave(dict(meta)),
           workdir_lib.LAYOUT_ITEM: ocp.args.JsonSave(tree_layout(state))})
    metrics = {"value": float(metric_value), "epoch": epoch}
    try:
      self._manager.save(epoch, args=args, metrics=metrics)
    except (OSError, ValueError) as error:
      previous = self._manager.latest_step()
      kept = (f"the checkpoint of epoch {previous} is intact"
              if previous is not None else "no earlier checkpoint exists")
      raise CheckpointWriteError(
          f"could not write the checkpoint of epoch {epoch} in "
          f"{self.directory}: {error}. {kept}; free disk space and rerun the "
          "same command to resume.") from error
    self._drop_optimizer_of_older_epochs()

  def _drop_optimizer_of_older_epochs(self) -> None:
    """Deletes the `optimizer` item of the epochs kept only as the best."""
    older = self.epochs()[:-self._keep_latest]
    for epoch in older:
      path = self._item_path(epoch, workdir_lib.OPTIMIZER_ITEM)
      if jax.process_index() == 0 and os.path.isdir(path):
        shutil.rmtree(path)
    if older:
      ocp.multihost.sync_global_processes("lstm_jax_drop_optimizer")

  def _item_path(self, epoch: int, item: str) -> str:
    return os.path.join(self.directory, str(epoch), item)

  def epochs(self) -> list[int]:
    """The saved epochs, oldest first."""
    return sorted(self._manager.all_steps())

  def latest_epoch(self) -> Optional[int]:
    """The newest saved epoch, None if there is none."""
    return self._manager.latest_step()

  def best_epoch(self) -> Optional[int]:
    """The epoch with the best finite metric (earliest on ties), else None."""
    best = self._manager.best_step()
    if best is None:
      return None
    value = float(self._manager.metrics(best)["value"])
    return best if math.isfinite(value) else None

  def restore(self, epoch: int,
              target: PyTree) -> tuple[PyTree, dict[str, Any]]:
    """Reads the checkpoint of `epoch` onto the structure of `target`.

    Args:
      epoch: a saved epoch.
      target: a pytree like the saved state; leaves are arrays or
        `jax.ShapeDtypeStruct`s whose shardings place the restored arrays.

    Returns:
      (state, meta).

    Raises:
      IncompatibleCheckpointError: the checkpoint has another structure,
        shapes or dtypes (a checkpoint of another config).
      DamagedCheckpointError: a file of the checkpoint is missing or damaged.
      ParamsOnlyCheckpointError: the epoch was kept as the best only.
    """
    meta = self._checked_meta(epoch, target)
    if os.path.isdir(self._item_path(epoch, workdir_lib.STATE_ITEM)):
      return self._restore_items(epoch, {
          workdir_lib.STATE_ITEM: ocp.args.StandardRestore(target)})[
              workdir_lib.STATE_ITEM], meta
    if not os.path.isdir(self._item_path(epoch, workdir_lib.OPTIMIZER_ITEM)):
      raise ParamsOnlyCheckpointError(
          f"the checkpoint of epoch {epoch} in {self.directory} holds the "
          "parameters only (kept as the best epoch): a run resumes from a "
          "newer one")
    params, rest = split_params(target)
    items = self._restore_items(epoch, {
        workdir_lib.PARAMS_ITEM: ocp.args.StandardRestore(params),
        workdir_lib.OPTIMIZER_ITEM: ocp.args.StandardRestore(rest)})
    return join_params(items[workdir_lib.PARAMS_ITEM],
                       items[workdir_lib.OPTIMIZER_ITEM]), meta

  def restore_params(self, epoch: int, target: PyTree) -> PyTree:
    """Reads only the parameters of `epoch`; `target` as for `restore`."""
    if os.path.isdir(self._item_path(epoch, workdir_lib.STATE_ITEM)):
      return split_params(self.restore(epoch, target)[0])[0]
    self._checked_meta(epoch, target)
    params, _ = split_params(target)
    return self._restore_items(epoch, {
        workdir_lib.PARAMS_ITEM: ocp.args.StandardRestore(params)})[
            workdir_lib.PARAMS_ITEM]

  def _checked_meta(self, epoch: int, target: PyTree) -> dict[str, Any]:
    """The meta of `epoch`, after checking its layout against `target`'s."""
    if epoch not in self._manager.all_steps():
      raise DamagedCheckpointError(
          f"no checkpoint of epoch {epoch} in {self.directory}; saved epochs: "
          f"{self.epochs()}")
    items = self._restore_items(epoch, {
        workdir_lib.META_ITEM: ocp.args.JsonRestore(),
        workdir_lib.LAYOUT_ITEM: ocp.args.JsonRestore()})
    differences = layout_differences(items[workdir_lib.LAYOUT_ITEM], tree_layout(target))
    if differences:
      raise IncompatibleCheckpointError(
          f"checkpoint of epoch {epoch} in {self.directory} does not fit the "
          f"current model ({len(differences)} differences, e.g. "
          f"{'; '.join(differences[:5])}). It was written with another "
          "config: rerun with that config or use a new workdir.")
    return items[workdir_lib.META_ITEM]

  def _restore_items(self, epoch: int, args: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
      return self._manager.restore(epoch, args=ocp.args.Composite(**args))
    except (OSError, ValueError) as error:
      raise DamagedCheckpointError(
          f"checkpoint of epoch {epoch} in {self.directory} is damaged: "
          f"{error}") from error

  def restore_latest_intact(
      self, target: PyTree) -> Optional[tuple[int, PyTree, dict[str, Any]]]:
    """Restores the newest intact checkpoint, setting damaged newer ones aside.

    Epochs kept as the best only (parameters alone) are passed over.

    Returns:
      (epoch, state, meta), or None when there is no checkpoint at all.

    Raises:
      DamagedCheckpointError: checkpoints exist but none is intact; nothing
        is moved, so no earlier work is lost.
      IncompatibleCheckpointError: see `restore`.
    """
    damaged = []
    for epoch in reversed(self.epochs()):
      try:
        state, meta = self.restore(epoch, target)
      except ParamsOnlyCheckpointError:
        continue
      except DamagedCheckpointError as error:
        _log.warning("%s; trying the previous checkpoint", error)
        damaged.append((epoch, str(error)))
        continue
      for damaged_epoch, reason in damaged:
        self._set_aside(damaged_epoch, reason)
      if damaged:
        self._manager.reload()
      return epoch, state, meta
    if self.epochs():
      raise DamagedCheckpointError(
          f"no intact checkpoint to resume from in {self.directory}: "
          + "; ".join([reason for _, reason in damaged]
                      or ["the epochs left hold parameters only"])
          + ". Nothing was changed; repair or remove the directory to start "
          "over.")
    return None

  def wait_until_finished(self) -> None:
    """Waits for orbax's pending work (saves here are synchronous)."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()

  def __enter__(self) -> "Checkpointer":
    return self

  def __exit__(self, *exc_info: Any) -> None:
    self.close()
