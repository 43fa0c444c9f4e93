"""Keras `ReduceLROnPlateau`, all of it: the counting rules, the rate factor in
the optimizer state, the training loop's handle, and the Keras callback.

The counting rules are a pure state machine. After each epoch the monitored
value goes through `update`, which returns the new state, its `learning_rate`
the rate of the next epoch:

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

The optimizer applies the rate as a factor held in its state
(`scale_by_learning_rate_factor`, added by `optimizers.make_optimizer`), which
`Plateau.apply` sets between epochs: being state, it is checkpointed and
restored with the rest of the optimizer. `Plateau` is what the training loop
holds: the `reduce_lr_on_plateau` config section, its resolved mode and the
state; `keras_callback` is the same section as Keras's callback.
"""

import dataclasses
from typing import Any, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

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


class LearningRateFactorState(NamedTuple):
  factor: jax.Array  # <float32>[] what the updates are multiplied by


def scale_by_learning_rate_factor() -> optax.GradientTransformation:
  """Multiplies the updates by a factor held in the optimizer state (1 at the
  start), which the training loop sets between epochs (`with_learning_rate_factor`)."""

  def init_fn(params):
    del params
    return LearningRateFactorState(factor=jnp.ones([], jnp.float32))

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(lambda u: u * state.factor.astype(u.dtype), updates), state

  return optax.GradientTransformation(init_fn, update_fn)


def _is_factor_state(node) -> bool:
  return isinstance(node, LearningRateFactorState)


def with_learning_rate_factor(opt_state: Any, factor: float) -> Any:
  """`opt_state` with the factor of `scale_by_learning_rate_factor` set to `factor`."""
  return jax.tree.map(
      lambda node: LearningRateFactorState(jnp.asarray(factor, jnp.float32))
      if _is_factor_state(node) else node, opt_state, is_leaf=_is_factor_state)


def learning_rate_factor(opt_state: Any) -> float:
  """The factor of `scale_by_learning_rate_factor` in `opt_state`; 1 without one."""
  found = [node.factor for node in jax.tree.leaves(opt_state, is_leaf=_is_factor_state)
           if _is_factor_state(node)]
  return float(found[0]) if found else 1.0


@dataclasses.dataclass(frozen=True)
class Plateau:
  """ReduceLROnPlateau as the training loop runs it.

  Attributes:
    settings: the `reduce_lr_on_plateau` config section.
    mode: "min" or "max", resolved from `settings.mode`.
    learning_rate: the configured rate, which the factor multiplies.
    state: where the reductions stand.
  """
  META_KEY = "reduce_lr_on_plateau"  # its state in the checkpoints' meta
  settings: ml_collections.ConfigDict
  mode: str
  learning_rate: float
  state: PlateauState

  @classmethod
  def start(cls, settings: ml_collections.ConfigDict, learning_rate: float) -> "Plateau":
    """Before the first epoch, at `learning_rate` (`train.learning_rate`)."""
    return cls(settings, early_stopping.resolve_mode(settings.monitor, settings.mode),
               learning_rate, start(learning_rate))

  def restored(self, meta: Mapping[str, Any]) -> "Plateau":
    """With the state a checkpoint's `meta` holds."""
    return dataclasses.replace(self, state=PlateauState.from_dict(meta[self.META_KEY]))

  def update(self, record: Mapping[str, Any]) -> "Plateau":
    """After the epoch of `record` (its monitored metric)."""
    s = self.settings
    return dataclasses.replace(self, state=update(
        self.state, record[s.monitor], mode=self.mode, factor=s.factor, patience=s.patience,
        min_delta=s.min_delta, cooldown=s.cooldown, min_lr=s.min_lr))

  def apply(self, opt_state: Any) -> Any:
    """`opt_state` set to train the next epoch at this state's rate."""
    return with_learning_rate_factor(opt_state, self.state.learning_rate / self.learning_rate)


def keras_callback(settings: ml_collections.ConfigDict) -> Any:
  """Keras's `ReduceLROnPlateau` callback of the `reduce_lr_on_plateau` section."""
  import keras  # pylint: disable=g-import-not-at-top
  return keras.callbacks.ReduceLROnPlateau(
      monitor=settings.monitor, mode=settings.mode, factor=settings.factor,
      patience=settings.patience, min_delta=settings.min_delta, cooldown=settings.cooldown,
      min_lr=settings.min_lr)
