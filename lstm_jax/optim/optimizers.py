"""Optimizers: gradient clipping and Adam variants, each an entry of a registry
(`CLIP_MODES`, `OPTIMIZERS`) with its Keras counterpart; frozen and slower leaves.

An entry's Keras counterpart is what the Keras comparison run
(`study/keras_reference.py`) builds for it, so a new clipping mode or optimizer
is never swapped for another there: without a counterpart it is refused by
name. The values `train.clip_mode` / `train.optimizer` accept and the docs'
table (`markdown_table`) come from the registries too. The learning rate over
time is `schedules.py`'s; the factor ReduceLROnPlateau sets, `plateau.py`'s.
"""

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from lstm_jax import errors
from lstm_jax import registry
from lstm_jax.optim import plateau
from lstm_jax.optim import schedules

# The embedding module of `model.LSTMClassifier`: frozen or slower when configured.
EMBEDDING = "embedding"

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
    learning_rate: schedules.LearningRate,
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


@dataclasses.dataclass(frozen=True)
class ClipMode:
  """A gradient clipping.

  Attributes:
    make: `train.clip_norm` → the optax transformation.
    keras: `train.clip_norm` → the arguments of a Keras optimizer that clip the
      same way. None: Keras has none, and the Keras comparison run refuses it.
    meaning: what it does, for the docs' table.
    keras_meaning: its Keras counterpart, for the docs' table.
    uses_norm: it reads `train.clip_norm`, which must then be > 0.
  """
  make: Callable[[float], optax.GradientTransformation]
  keras: Optional[Callable[[float], dict[str, float]]]
  meaning: str
  keras_meaning: str = "none"
  uses_norm: bool = True


def _keras_clipping(argument: str) -> Callable[[float], dict[str, float]]:
  return lambda clip_norm: {argument: clip_norm}


CLIP_MODES: registry.Registry[ClipMode] = registry.Registry(
    "clipping mode", key="train.clip_mode")
CLIP_MODES.register("global_norm", ClipMode(
    optax.clip_by_global_norm, _keras_clipping("global_clipnorm"),
    "scales all gradients by one factor, to a global norm of at most `clip_norm`",
    "`global_clipnorm=clip_norm`"))
CLIP_MODES.register("per_variable_norm", ClipMode(
    clip_by_variable_norm, _keras_clipping("clipnorm"),
    "scales each variable's gradient to an L2 norm of at most `clip_norm`",
    "`clipnorm=clip_norm`"))
CLIP_MODES.register("value", ClipMode(
    optax.clip, _keras_clipping("clipvalue"),
    "clips each element to [-`clip_norm`, `clip_norm`]", "`clipvalue=clip_norm`"))
CLIP_MODES.register("none", ClipMode(
    lambda clip_norm: optax.identity(), lambda clip_norm: {}, "no clipping",
    "no clipping argument", uses_norm=False))


def make_clipping(clip_mode: str, clip_norm: float = 1.0) -> optax.GradientTransformation:
  """Returns the gradient clipping of `clip_mode` (a name of `CLIP_MODES`).

  `clip_norm` bounds the norm, or each element's magnitude for "value".
  """
  mode = CLIP_MODES.get(clip_mode)
  if mode.uses_norm and not clip_norm > 0:
    raise ValueError(f"clip_norm must be > 0 for clip_mode={clip_mode!r}, got {clip_norm}")
  return mode.make(clip_norm)


@dataclasses.dataclass(frozen=True)
class Optimizer:
  """An Adam variant.

  Attributes:
    make: (learning_rate, weight_decay, decay_mask) → the optax transformation.
    keras: (learning_rate, weight_decay, excluded, clipping) → the Keras
      optimizer that updates the same way: `excluded` the Keras names of the
      variables that do not decay, `clipping` the Keras clipping argument. None:
      Keras has none, and the Keras comparison run refuses it.
    weight_decay: it has a decoupled weight decay (`train.weight_decay`); the
      others refuse one.
    meaning: what it is, for the docs' table.
    keras_meaning: its Keras counterpart, for the docs' table.
  """
  make: Callable[[schedules.LearningRate, float, Optional[Any]], optax.GradientTransformation]
  keras: Optional[Callable[[Any, float, list[str], Mapping[str, float]], Any]]
  weight_decay: bool
  meaning: str
  keras_meaning: str = "none"


def _keras_adam(learning_rate: Any, weight_decay: float, excluded: list[str],
                clipping: Mapping[str, float]) -> Any:
  del weight_decay, excluded  # Adam does not decay.
  import keras  # pylint: disable=g-import-not-at-top
  return keras.optimizers.Adam(learning_rate, **clipping)


def _keras_adamw(learning_rate: Any, weight_decay: float, excluded: list[str],
                 clipping: Mapping[str, float]) -> Any:
  import keras  # pylint: disable=g-import-not-at-top
  optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **clipping)
  optimizer.exclude_from_weight_decay(var_names=excluded)
  return optimizer


OPTIMIZERS: registry.Registry[Optimizer] = registry.Registry(
    "optimizer name", key="train.optimizer")
OPTIMIZERS.register("adam", Optimizer(
    lambda learning_rate, weight_decay, decay_mask: optax.adam(learning_rate),
    _keras_adam, weight_decay=False, meaning="optax's Adam", keras_meaning="`Adam`"))
OPTIMIZERS.register("adamw", Optimizer(
    lambda learning_rate, weight_decay, decay_mask: optax.adamw(
        learning_rate, weight_decay=weight_decay, mask=decay_mask),
    _keras_adamw, weight_decay=True,
    meaning="Adam with decoupled weight decay (`train.weight_decay`, e.g. 0.004); "
            "parameters with a name of `train.weight_decay_exclude` on their path "
            "(default `embedding,bias`) do not decay",
    keras_meaning="`AdamW` + `exclude_from_weight_decay(var_names=[\"embeddings\", \"bias\"])`"))
OPTIMIZERS.register("keras_adam", Optimizer(
    lambda learning_rate, weight_decay, decay_mask: keras_adam(learning_rate),
    _keras_adam, weight_decay=False,
    meaning="Adam as Keras computes it (ε on the uncorrected second moment)",
    keras_meaning="`Adam`"))


def decaying_optimizers() -> list[str]:
  """The names of the optimizers with a decoupled weight decay."""
  return [name for name, entry in OPTIMIZERS.items() if entry.weight_decay]


def keras_optimizer(train: ml_collections.ConfigDict, learning_rate: Any,
                    excluded: list[str]) -> Any:
  """The Keras optimizer of the `train` config section at `learning_rate` (a Keras
  rate or schedule); `excluded`: Keras names of the variables that do not decay.

  Raises:
    errors.NoKerasEquivalentError: the optimizer or the clipping has no Keras
      counterpart.
  """
  optimizer = OPTIMIZERS.get(train.optimizer)
  clipping = CLIP_MODES.get(train.clip_mode)
  for setting, entry in ((f"train.optimizer={train.optimizer!r}", optimizer),
                         (f"train.clip_mode={train.clip_mode!r}", clipping)):
    if entry.keras is None:
      raise errors.NoKerasEquivalentError(
          f"{setting} has no Keras counterpart registered (lstm_jax/optim/optimizers.py), "
          "so there is no Keras twin of this run")
  return optimizer.keras(learning_rate, train.weight_decay, excluded,
                         clipping.keras(train.clip_norm))


def scale_leaves(scales: Any) -> optax.GradientTransformation:
  """Multiplies each update by its leaf's factor in `scales` (floats shaped like the params)."""

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(lambda u, s: u if s == 1.0 else u * s, updates, scales), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def make_optimizer(
    *,
    learning_rate: schedules.LearningRate,
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
    learning_rate: a float or an optax schedule (`schedules.make_schedule`).
    optimizer: a name of `OPTIMIZERS`.
    weight_decay: AdamW's decoupled weight decay (optimizer "adamw" only).
    decay_mask: a pytree of bools shaped like the params, True for the leaves
      that decay; None for all of them.
    clip_mode: a name of `CLIP_MODES`.
    clip_norm: the norm bound, or the absolute bound for clip_mode="value".
    frozen: a pytree of bools shaped like the params, True for leaves that must
      not change (they get zero updates and no optimizer state); or None.
    leaf_scales: a pytree of floats shaped like the params multiplying each
      leaf's update (its learning rate relative to the others); or None.
    adjustable: adds `plateau.scale_by_learning_rate_factor`, for a rate the
      training loop lowers between epochs.

  Returns:
    The optax transformation.
  """
  entry = OPTIMIZERS.get(optimizer)
  if weight_decay and not entry.weight_decay:
    raise ValueError(f"weight_decay={weight_decay} needs an optimizer with weight decay "
                     f"({', '.join(decaying_optimizers())}), not {optimizer!r}")
  tx = optax.chain(make_clipping(clip_mode, clip_norm),
                   entry.make(learning_rate, weight_decay, decay_mask))
  if frozen is not None:
    labels = jax.tree.map(lambda is_frozen: "frozen" if is_frozen else "trainable", frozen)
    tx = optax.multi_transform({"trainable": tx, "frozen": optax.set_to_zero()}, labels)
  extras = [plateau.scale_by_learning_rate_factor()] if adjustable else []
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


def from_config(train: ml_collections.ConfigDict, params: Any, steps_per_epoch: int, *,
                embedding_trainable: bool = True,
                embedding_learning_rate_scale: float = 1.0) -> optax.GradientTransformation:
  """The optimizer of the `train` config section for `params`.

  Args:
    train: the `train` section: the optimizer, its clipping and its schedule.
    params: the model's parameters (their paths name the embedding and biases).
    steps_per_epoch: updates per epoch; the schedule spans `train.max_epochs` of them.
    embedding_trainable: `embedding.trainable`; False freezes the embedding.
    embedding_learning_rate_scale: `embedding.learning_rate_scale`, the
      embedding's rate as a multiple of the others'.
  """
  leaf_scales = None
  if embedding_learning_rate_scale != 1.0:
    leaf_scales = jax.tree.map(lambda e: embedding_learning_rate_scale if e else 1.0,
                               path_mask(params, [EMBEDDING]))
  return make_optimizer(
      learning_rate=schedules.from_config(train, steps_per_epoch),
      optimizer=train.optimizer,
      weight_decay=train.weight_decay,
      decay_mask=jax.tree.map(lambda excluded: not excluded,
                              path_mask(params, train.weight_decay_exclude)),
      clip_mode=train.clip_mode,
      clip_norm=train.clip_norm,
      frozen=frozen_mask(params, embedding_trainable),
      leaf_scales=leaf_scales,
      adjustable=schedules.SCHEDULES.get(train.lr_schedule).lowered_on_plateau,
  )


def markdown_table() -> str:
  """The docs' table of the registered optimizers and clipping modes."""
  rows = ["| key | what it does | Keras counterpart |", "|---|---|---|"]
  for name, entry in OPTIMIZERS.items():
    rows.append(f"| `train.optimizer={name}` | {entry.meaning} | {entry.keras_meaning} |")
  for name, mode in CLIP_MODES.items():
    rows.append(f"| `train.clip_mode={name}` | {mode.meaning} | {mode.keras_meaning} |")
  return "\n".join(rows) + "\n"
