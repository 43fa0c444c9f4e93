"""Keras `EarlyStopping` counting rules as a pure state machine.

Each epoch's monitored value goes through `update`, which returns a new state:

  improvement  (mode "min") value + |min_delta| < best
               (mode "max") value - |min_delta| > best
               strict; the first value seen always improves.
  wait         += 1 every epoch, reset to 0 on an improvement.
  stop         when an epoch does not improve and wait >= patience.

So a run stops at best_epoch + patience (best_epoch + 1 when patience is 0).
One deliberate difference from Keras: a NaN value is never an improvement,
not even on the first epoch (Keras 3 takes a first NaN as the best and then
can never improve on it); it counts toward patience like any worse value.

The state is small and immutable and goes into checkpoints with
`to_dict` / `from_dict`, so a resumed run stops exactly where an uninterrupted
one would. Epochs are numbered from 1, as Keras prints them. `EarlyStopping`
is what the training loop holds: the `early_stopping` config section, its
resolved mode and the state.
"""

import dataclasses
import math
from typing import Any, Iterable, Mapping, Optional

import ml_collections

MODES = ("min", "max")
# Metric names whose larger values are better; "auto" mode needs the name.
_HIGHER_IS_BETTER = ("acc", "macro_f1", "f1", "precision", "recall", "auc")


def resolve_mode(monitor: str, mode: str = "auto") -> str:
  """Returns "min" or "max" for `monitor`, inferring it in "auto" mode.

  As in Keras, "auto" reads the name without its `val_` prefix: `loss` (or
  a name ending in `_loss`) is minimized, accuracy-like names are maximized.

  Raises:
    ValueError: an unknown mode, or "auto" with a name it cannot place.
  """
  if mode in MODES:
    return mode
  if mode != "auto":
    raise ValueError(
        f"early_stopping mode {mode!r} is not one of 'auto', 'min', 'max'")
  name = monitor.removeprefix("val_")
  if name == "loss" or name.endswith("_loss"):
    return "min"
  if name in _HIGHER_IS_BETTER or name.endswith("accuracy"):
    return "max"
  raise ValueError(
      f"cannot tell whether early_stopping.monitor={monitor!r} should go up "
      "or down; set the mode to 'min' or 'max'")


class CheckpointedState:
  """A frozen dataclass of JSON values that goes into checkpoints' meta."""

  def to_dict(self) -> dict[str, Any]:
    """A JSON-able copy, for checkpoints."""
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, data: Mapping[str, Any]):
    """Inverse of `to_dict`.

    Raises:
      ValueError: keys are missing or unknown.
    """
    fields = {field.name for field in dataclasses.fields(cls)}
    missing, unknown = fields - set(data), set(data) - fields
    if missing or unknown:
      raise ValueError(
          f"{cls.__name__} has missing keys {sorted(missing)} and "
          f"unknown keys {sorted(unknown)}; it was not written by to_dict")
    return cls(**data)


@dataclasses.dataclass(frozen=True)
class EarlyStoppingState(CheckpointedState):
  """Where early stopping stands after `last_epoch`.

  Attributes:
    best: the best value so far, None before the first improvement.
    best_epoch: the epoch of `best`, None before the first improvement.
    wait: epochs since the last improvement.
    last_epoch: the last epoch seen, 0 before the first.
    stopped: True once the patience ran out (at `last_epoch`).
  """
  best: Optional[float] = None
  best_epoch: Optional[int] = None
  wait: int = 0
  last_epoch: int = 0
  stopped: bool = False


def is_improvement(value: float, best: Optional[float], *, mode: str,
                   min_delta: float = 0.0) -> bool:
  """True when `value` beats `best` by more than |min_delta| (strictly)."""
  if math.isnan(value):
    return False
  if best is None:
    return True
  if mode == "min":
    return value + abs(min_delta) < best
  return value - abs(min_delta) > best


def update(state: EarlyStoppingState, value: float, epoch: int, *,
           mode: str = "min", min_delta: float = 0.0,
           patience: int = 3) -> EarlyStoppingState:
  """Returns the state after seeing `value` at the end of `epoch`.

  Args:
    state: the state after the previous epoch.
    value: the monitored metric of this epoch.
    epoch: this epoch's number, `state.last_epoch + 1`.
    mode: "min" or "max" (see `resolve_mode`).
    min_delta: the smallest change that counts as an improvement.
    patience: epochs without improvement before stopping (>= 0).

  Raises:
    ValueError: bad arguments, an epoch out of order, or a stopped state.
  """
  if mode not in MODES:
    raise ValueError(f"mode must be 'min' or 'max', not {mode!r}; "
                     "use resolve_mode for 'auto'")
  if patience < 0:
    raise ValueError(f"patience must be >= 0, not {patience}")
  if state.stopped:
    raise ValueError(f"early stopping already stopped at epoch "
                     f"{state.last_epoch}; no further epochs should run")
  if epoch != state.last_epoch + 1:
    raise ValueError(f"epoch {epoch} does not follow the last epoch seen, "
                     f"{state.last_epoch}; restore the state saved with the "
                     "checkpoint being resumed")
  value = float(value)
  if is_improvement(value, state.best, mode=mode, min_delta=min_delta):
    return EarlyStoppingState(best=value, best_epoch=epoch, wait=0,
                              last_epoch=epoch)
  wait = state.wait + 1
  return dataclasses.replace(state, wait=wait, last_epoch=epoch,
                             stopped=wait >= patience)


def should_stop(state: EarlyStoppingState) -> bool:
  """True when training should end after `state.last_epoch`."""
  return state.stopped


def replay(values: Iterable[float], *, mode: str = "min", min_delta: float = 0.0,
           patience: int = 3) -> list[EarlyStoppingState]:
  """The states after epochs 1, 2, ... saw `values`, up to the epoch whose
  patience ran out: fewer states than values when the run would have stopped
  before its last epoch. Arguments as for `update`."""
  states = []
  state = EarlyStoppingState()
  for epoch, value in enumerate(values, start=1):
    if state.stopped:
      break
    state = update(state, value, epoch, mode=mode, min_delta=min_delta, patience=patience)
    states.append(state)
  return states


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
  """Early stopping as the training loop runs it.

  Attributes:
    settings: the `early_stopping` config section.
    mode: "min" or "max", resolved from `settings.mode`.
    state: where it stands.
  """
  META_KEY = "early_stopping"  # its state in the checkpoints' meta
  settings: ml_collections.ConfigDict
  mode: str
  state: EarlyStoppingState = EarlyStoppingState()

  @classmethod
  def start(cls, settings: ml_collections.ConfigDict) -> "EarlyStopping":
    """Before the first epoch."""
    return cls(settings, resolve_mode(settings.monitor, settings.mode))

  @property
  def monitor(self) -> str:
    return self.settings.monitor

  def update(self, record: Mapping[str, Any]) -> "EarlyStopping":
    """After the epoch of `record` (its `epoch` and monitored metric)."""
    return dataclasses.replace(self, state=update(
        self.state, record[self.monitor], record["epoch"], mode=self.mode,
        min_delta=self.settings.min_delta, patience=self.settings.patience))
