"""Keras `ReduceLROnPlateau` counting rules as a pure state machine.

After each epoch the monitored value goes through `update`, which returns the
new state, its `learning_rate` the rate of the next epoch:

  cooldown     while cooldown epochs remain after a reduction, one is used up
               and the wait is reset;
  improvement  as early stopping counts it (`early_stopping.is_improvement`,
               strict beyond |min_delta|; a NaN never improves); resets the wait;
  wait         += 1 for an epoch without improvement outside the cooldown;
  reduce       when wait >= patience and the rate is above min_lr: the rate
               becomes max(rate * factor, min_lr), the cooldown starts, wait = 0.

The rate is kept as the float32 that Keras's optimizer variable holds. The
state goes into checkpoints like `early_stopping.EarlyStoppingState`, so a
resumed run lowers its rate exactly where an uninterrupted one would.
"""

import dataclasses
from typing import Optional

import numpy as np

from lstm_jax.training import early_stopping


@dataclasses.dataclass(frozen=True)
class PlateauState(early_stopping.CheckpointedState):
  """Where the reductions stand after the last epoch seen.

  Attributes:
    learning_rate: the rate of the next epoch.
    best: the best monitored value so far, None before the first.
    wait: epochs without improvement since the last improvement or reduction.
    cooldown_counter: epochs of cooldown left.
  """
  learning_rate: float
  best: Optional[float] = None
  wait: int = 0
  cooldown_counter: int = 0


def _float32(value: float) -> float:
  return float(np.float32(value))


def start(learning_rate: float) -> PlateauState:
  """The state before the first epoch."""
  return PlateauState(learning_rate=_float32(learning_rate))


def update(state: PlateauState, value: float, *, mode: str, factor: float, patience: int,
           min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> PlateauState:
  """Returns the state after an epoch whose monitored metric is `value`.

  Args:
    state: the state after the previous epoch.
    value: this epoch's monitored metric.
    mode: "min" or "max" (`early_stopping.resolve_mode`).
    factor: what a reduction multiplies the rate by, in (0, 1).
    patience: epochs without improvement before a reduction (>= 0).
    min_delta: the smallest change that counts as an improvement.
    cooldown: epochs after a reduction during which no waiting is counted.
    min_lr: the rate is never lowered below this.
  """
  if not 0.0 < factor < 1.0:
    raise ValueError(f"factor must be in (0, 1), not {factor}")
  wait, cooldown_counter, best = state.wait, state.cooldown_counter, state.best
  if cooldown_counter > 0:
    cooldown_counter -= 1
    wait = 0
  if early_stopping.is_improvement(value, best, mode=mode, min_delta=min_delta):
    return dataclasses.replace(state, best=float(value), wait=0,
                               cooldown_counter=cooldown_counter)
  learning_rate = state.learning_rate
  if cooldown_counter == 0:
    wait += 1
    if wait >= patience and learning_rate > _float32(min_lr):
      learning_rate = _float32(max(learning_rate * factor, min_lr))
      cooldown_counter, wait = cooldown, 0
  return PlateauState(learning_rate=learning_rate, best=best, wait=wait,
                      cooldown_counter=cooldown_counter)
