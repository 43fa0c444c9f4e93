"""Optimizers: gradient clipping, Adam / AdamW / Keras-faithful Adam, learning-rate
schedules, frozen and slower leaves.

Clipping modes and their Keras names:
  "global_norm"        Keras `global_clipnorm` (one norm over all gradients)
  "per_variable_norm"  Keras `clipnorm` (each variable's own L2 norm)
  "value"              Keras `clipvalue` (elementwise to [-clip_norm, clip_norm])
  "none"               no clipping

Learning-rate schedules (`SCHEDULES`), over the run's `max_epochs` x steps per epoch:
  "constant"           the learning rate (after an optional linear warmup from 0)
  "cosine"             warmup, then cosine decay to `final_learning_rate`
  "linear"             warmup, then linear decay to `final_learning_rate`
  "reduce_on_plateau"  constant, lowered between epochs by `reduce_lr` (Keras
                       `ReduceLROnPlateau`) through the optimizer state's factor
"""

from typing import Any, NamedTuple, Optional, Union

import flax
import jax
import jax.numpy as jnp
import optax

CLIP_MODES = ("global_norm", "per_variable_norm", "value", "none")
# "adam": optax.adam; "adamw": optax.adamw (decoupled weight decay, Keras AdamW);
# "keras_adam": Adam as Keras computes it (`keras_adam`).
OPTIMIZERS = ("adam", "adamw", "keras_adam")
# The embedding module of `model.LSTMClassifier`: frozen or slower when configured.
EMBEDDING = "embedding"
SCHEDULES = ("constant", "cosine", "linear", "reduce_on_plateau")

# Keras Adam defaults.
KERAS_BETA_1 = 0.9
KERAS_BETA_2 = 0.999
KERAS_EPSILON = 1e-7


def clip_by_variable_norm(max_norm: float) -> optax.GradientTransformation:
  """Scales each leaf so its own L2 norm is at most `max_norm` (Keras `clipnorm`)."""

  def update_fn(updates, state, params=None):
    del params

    def clip(g):
      norm = jnp.sqrt(jnp.sum(jnp.square(g)))
      return g * max_norm / jnp.maximum(norm, max_norm)

    return jax.tree.map(clip, updates), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


class KerasAdamState(NamedTuple):
  count: jax.Array  # <int32>[] steps taken
  mu: Any  # first moments, like params
  nu: Any  # uncorrected second moments, like params


def keras_adam(
    learning_rate: Union[float, optax.Schedule],
    b1: float = KERAS_BETA_1,
    b2: float = KERAS_BETA_2,
    eps: float = KERAS_EPSILON,
) -> optax.GradientTransformation:
  """Adam as Keras computes it, learning rate included.

  Keras adds `eps` to the square root of the UNcorrected second moment and
  moves the bias correction into the step size:
    lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t),  update = -lr_t * m / (sqrt(v) + eps).
  A schedule is evaluated at the number of steps already taken, as Keras does.
  """

  def init_fn(params):
    zeros = lambda p: jnp.zeros_like(p)
    return KerasAdamState(count=jnp.zeros([], jnp.int32),
                          mu=jax.tree.map(zeros, params), nu=jax.tree.map(zeros, params))

  def update_fn(updates, state, params=None):
    del params
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    count = state.count + 1
    t = count.astype(jnp.float32)
    mu = jax.tree.map(lambda m, g: m + (g - m) * (1 - b1), state.mu, updates)
    nu = jax.tree.map(lambda v, g: v + (jnp.square(g) - v) * (1 - b2), state.nu, updates)
    alpha = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
    new_updates = jax.tree.map(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + eps), mu, nu)
    return new_updates, KerasAdamState(count=count, mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)


def make_clipping(clip_mode: str, clip_norm: float = 1.0) -> optax.GradientTransformation:
  """Returns the gradient clipping of `clip_mode` (one of `CLIP_MODES`).

  `clip_norm` bounds the norm, or each element's magnitude for "value".
  """
  if clip_mode not in CLIP_MODES:
    raise ValueError(f"unknown clip_mode {clip_mode!r}; accepted values: {', '.join(CLIP_MODES)}")
  if clip_mode == "none":
    return optax.identity()
  if not clip_norm > 0:
    raise ValueError(f"clip_norm must be > 0 for clip_mode={clip_mode!r}, got {clip_norm}")
  if clip_mode == "global_norm":
    return optax.clip_by_global_norm(clip_norm)
  if clip_mode == "per_variable_norm":
    return clip_by_variable_norm(clip_norm)
  return optax.clip(clip_norm)


class LearningRateFactorState(NamedTuple):
  factor: jax.Array  # <float32>[] what the updates are multiplied by


def scale_by_learning_rate_factor() -> optax.GradientTransformation:
  """Multiplies the updates by a factor held in the optimizer state (1 at the
  start), which the training loop sets between epochs (`with_learning_rate_factor`).
  Being state, it is checkpointed and restored with the rest of the optimizer."""

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


def scale_leaves(scales: Any) -> optax.GradientTransformation:
  """Multiplies each update by its leaf's factor in `scales` (floats shaped like the params)."""

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(lambda u, s: u if s == 1.0 else u * s, updates, scales), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def make_schedule(kind: str, learning_rate: float, *, total_steps: int, warmup_steps: int = 0,
                  final_learning_rate: float = 0.0) -> Union[float, optax.Schedule]:
  """The learning rate of `kind` (one of `SCHEDULES`) as a function of the step.

  A constant rate without warmup is the float itself, so that the optimizer
  (and its checkpointed state) is the one of runs made before schedules existed.
  The decaying schedules reach `final_learning_rate` at `total_steps`.
  """
  if kind not in SCHEDULES:
    raise ValueError(f"unknown schedule {kind!r}; accepted values: {', '.join(SCHEDULES)}")
  if kind == "reduce_on_plateau" or (kind == "constant" and not warmup_steps):
    return learning_rate
  if not 0 <= warmup_steps < total_steps:
    raise ValueError(f"warmup_steps must be in [0, total_steps={total_steps}), got {warmup_steps}")
  if kind == "cosine":
    return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, total_steps,
                                              final_learning_rate)
  after = (optax.constant_schedule(learning_rate) if kind == "constant" else
           optax.linear_schedule(learning_rate, final_learning_rate, total_steps - warmup_steps))
  if not warmup_steps:
    return after
  return optax.join_schedules(
      [optax.linear_schedule(0.0, learning_rate, warmup_steps), after], [warmup_steps])


def learning_rate_at(schedule: Union[float, optax.Schedule], step: int) -> float:
  """The rate `schedule` gives the update of step `step` (counted from 0)."""
  return float(schedule(step)) if callable(schedule) else float(schedule)


def make_optimizer(
    *,
    learning_rate: Union[float, optax.Schedule],
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    decay_mask: Optional[Any] = None,
    clip_mode: str = "global_norm",
    clip_norm: float = 1.0,
    frozen: Optional[Any] = None,
    leaf_scales: Optional[Any] = None,
    adjustable: bool = False,
) -> optax.GradientTransformation:
  """Builds clipping followed by Adam (or AdamW), then the optional extras.

  Args:
    learning_rate: a float or an optax schedule (`make_schedule`).
    optimizer: one of `OPTIMIZERS`.
    weight_decay: AdamW's decoupled weight decay (optimizer "adamw" only).
    decay_mask: a pytree of bools shaped like the params, True for the leaves
      that decay; None for all of them.
    clip_mode: one of `CLIP_MODES` (see the module docstring).
    clip_norm: the norm bound, or the absolute bound for clip_mode="value".
    frozen: a pytree of bools shaped like the params, True for leaves that must
      not change (they get zero updates and no optimizer state); or None.
    leaf_scales: a pytree of floats shaped like the params multiplying each
      leaf's update (its learning rate relative to the others); or None.
    adjustable: adds `scale_by_learning_rate_factor`, for a rate the training
      loop lowers between epochs.

  Returns:
    The optax transformation.
  """
  if optimizer not in OPTIMIZERS:
    raise ValueError(f"unknown optimizer {optimizer!r}; accepted values: {', '.join(OPTIMIZERS)}")
  if weight_decay and optimizer != "adamw":
    raise ValueError(f"weight_decay={weight_decay} needs optimizer 'adamw', not {optimizer!r}")
  if optimizer == "adam":
    adam = optax.adam(learning_rate)
  elif optimizer == "adamw":
    adam = optax.adamw(learning_rate, weight_decay=weight_decay, mask=decay_mask)
  else:
    adam = keras_adam(learning_rate)
  tx = optax.chain(make_clipping(clip_mode, clip_norm), adam)
  if frozen is not None:
    labels = jax.tree.map(lambda is_frozen: "frozen" if is_frozen else "trainable", frozen)
    tx = optax.multi_transform({"trainable": tx, "frozen": optax.set_to_zero()}, labels)
  extras = [scale_by_learning_rate_factor()] if adjustable else []
  if leaf_scales is not None:
    extras.append(scale_leaves(leaf_scales))
  # Without extras the transformation (and its state) is the one of earlier runs.
  return optax.chain(tx, *extras) if extras else tx


def path_mask(params: Any, names: Any) -> Any:
  """True for each leaf of `params` with one of `names` on its path (a module
  or parameter name, e.g. "embedding" or "bias")."""
  names = set(names)
  return flax.traverse_util.path_aware_map(lambda path, _: bool(names & set(path)), params)


def frozen_mask(params: Any, embedding_trainable: bool) -> Any:
  """True for the parameters the optimizer must leave alone."""
  return jax.tree.map(lambda e: e and not embedding_trainable, path_mask(params, [EMBEDDING]))


def schedule_from_config(train: Any, steps_per_epoch: int) -> Union[float, optax.Schedule]:
  """The learning-rate schedule of `config.train`."""
  return make_schedule(train.lr_schedule, train.learning_rate,
                       total_steps=train.max_epochs * steps_per_epoch,
                       warmup_steps=train.warmup_steps,
                       final_learning_rate=train.final_learning_rate)


def from_config(config: Any, params: Any, steps_per_epoch: int) -> optax.GradientTransformation:
  """The optimizer of `config.train` / `config.embedding` for `params`."""
  train, embedding = config.train, config.embedding
  is_embedding = path_mask(params, [EMBEDDING])
  leaf_scales = None
  if embedding.learning_rate_scale != 1.0:
    leaf_scales = jax.tree.map(lambda e: embedding.learning_rate_scale if e else 1.0,
                               is_embedding)
  return make_optimizer(
      learning_rate=schedule_from_config(train, steps_per_epoch),
      optimizer=train.optimizer,
      weight_decay=train.weight_decay,
      decay_mask=jax.tree.map(lambda excluded: not excluded,
                              path_mask(params, train.weight_decay_exclude)),
      clip_mode=train.clip_mode,
      clip_norm=train.clip_norm,
      frozen=frozen_mask(params, embedding.trainable),
      leaf_scales=leaf_scales,
      adjustable=train.lr_schedule == "reduce_on_plateau",
  )
