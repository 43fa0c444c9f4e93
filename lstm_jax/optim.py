"""Optimizers: gradient clipping modes, optax or Keras-faithful Adam, frozen leaves.

Clipping modes and their Keras names:
  "global_norm"        Keras `global_clipnorm` (one norm over all gradients)
  "per_variable_norm"  Keras `clipnorm` (each variable's own L2 norm)
  "value"              Keras `clipvalue` (elementwise to [-clip_norm, clip_norm])
  "none"               no clipping
"""

from typing import Any, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import optax

CLIP_MODES = ("global_norm", "per_variable_norm", "value", "none")
ADAM_FLAVOURS = ("optax", "keras")

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


def make_optimizer(
    *,
    learning_rate: Union[float, optax.Schedule],
    clip_mode: str = "global_norm",
    clip_norm: float = 1.0,
    adam: str = "optax",
    frozen: Optional[Any] = None,
) -> optax.GradientTransformation:
  """Builds clipping followed by Adam.

  Args:
    learning_rate: a float or an optax schedule.
    clip_mode: one of `CLIP_MODES` (see the module docstring).
    clip_norm: the norm bound, or the absolute bound for clip_mode="value".
    adam: "optax" (`optax.adam`) or "keras" (`keras_adam`, Keras's exact update).
    frozen: a pytree of bools shaped like the params, True for leaves that must
      not change (they get zero updates and no optimizer state); or None.

  Returns:
    The optax transformation.
  """
  if adam not in ADAM_FLAVOURS:
    raise ValueError(f"unknown adam {adam!r}; accepted values: {', '.join(ADAM_FLAVOURS)}")
  adam_fn = optax.adam(learning_rate) if adam == "optax" else keras_adam(learning_rate)
  tx = optax.chain(make_clipping(clip_mode, clip_norm), adam_fn)
  if frozen is None:
    return tx
  labels = jax.tree.map(lambda is_frozen: "frozen" if is_frozen else "trainable", frozen)
  return optax.multi_transform({"trainable": tx, "frozen": optax.set_to_zero()}, labels)
