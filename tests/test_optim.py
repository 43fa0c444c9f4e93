"""Optimizers: clipping modes by hand, Keras Adam against Keras, frozen leaves."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lstm_jax import optim

# Norms: a is 5, b is 1, the global norm is sqrt(26).
GRADS = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([[0.6, 0.8]])}


def _clip(mode, clip_norm):
  tx = optim.make_clipping(mode, clip_norm)
  clipped, _ = tx.update(GRADS, tx.init(GRADS))
  return clipped


def _assert_tree_close(got, want, **kwargs):
  jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, **kwargs), got, want)


def test_global_norm_clipping_scales_every_leaf_by_one_factor():
  scale = 2.0 / np.sqrt(26.0)
  _assert_tree_close(_clip("global_norm", 2.0),
                     {"a": [3 * scale, -4 * scale], "b": [[0.6 * scale, 0.8 * scale]]}, rtol=1e-6)


def test_per_variable_norm_clipping_scales_each_leaf_by_its_own_norm():
  _assert_tree_close(_clip("per_variable_norm", 2.0),
                     {"a": [3 * 2 / 5, -4 * 2 / 5], "b": [[0.6, 0.8]]}, rtol=1e-6)


def test_value_clipping_bounds_each_element():
  _assert_tree_close(_clip("value", 0.7), {"a": [0.7, -0.7], "b": [[0.6, 0.7]]}, rtol=1e-6)


def test_no_clipping_leaves_gradients_alone():
  _assert_tree_close(_clip("none", 0.0), GRADS)


def _keras_clip_options(clip_mode, clip_norm):
  return {"global_norm": {"global_clipnorm": clip_norm},
          "per_variable_norm": {"clipnorm": clip_norm},
          "value": {"clipvalue": clip_norm},
          "none": {}}[clip_mode]


def _toy_gradients(step):
  """Gradients of a two-variable toy problem at a step, varying in scale over time."""
  rng = np.random.default_rng(step)
  return [rng.normal(0, 3.0, (3, 2)).astype(np.float32),
          rng.normal(0, 0.1, (4,)).astype(np.float32)]


@pytest.mark.parametrize("clip_mode", ["none", "global_norm", "per_variable_norm", "value"])
def test_keras_adam_follows_keras_own_adam(clip_mode):
  keras = pytest.importorskip("keras")
  init = [np.ones((3, 2), np.float32), np.full((4,), -0.5, np.float32)]
  keras_vars = [keras.Variable(v) for v in init]
  keras_opt = keras.optimizers.Adam(learning_rate=0.01, **_keras_clip_options(clip_mode, 0.5))
  tx = optim.make_optimizer(learning_rate=0.01, clip_mode=clip_mode, clip_norm=0.5, adam="keras")
  params = [jnp.asarray(v) for v in init]
  state = tx.init(params)
  for step in range(20):
    grads = _toy_gradients(step)
    keras_opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], keras_vars))
    updates, state = tx.update([jnp.asarray(g) for g in grads], state, params)
    params = optax.apply_updates(params, updates)
  for ours, theirs in zip(params, keras_vars):
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs.value), rtol=1e-5, atol=1e-6)


def test_keras_adam_evaluates_a_schedule_like_keras():
  keras = pytest.importorskip("keras")
  keras_var = keras.Variable(np.ones(3, np.float32))
  keras_schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
  keras_opt = keras.optimizers.Adam(learning_rate=keras_schedule)
  tx = optim.keras_adam(optax.exponential_decay(0.1, transition_steps=2, decay_rate=0.5))
  params = jnp.ones(3)
  state = tx.init(params)
  for step in range(6):
    grad = np.array([1.0, -2.0, 0.5 * step], np.float32)
    keras_opt.apply_gradients([(keras.ops.convert_to_tensor(grad), keras_var)])
    updates, state = tx.update(jnp.asarray(grad), state)
    params = params + updates
  np.testing.assert_allclose(params, keras.ops.convert_to_numpy(keras_var.value), rtol=1e-6)


def test_keras_adam_differs_from_optax_adam_early_on():
  grads = {"w": jnp.array([1e-6, 1.0])}
  steps = []
  for adam in ("keras", "optax"):
    tx = optim.make_optimizer(learning_rate=1.0, clip_mode="none", adam=adam)
    steps.append(tx.update(grads, tx.init(grads))[0]["w"])
  # epsilon on the uncorrected second moment matters for tiny gradients.
  assert abs(float(steps[0][0]) - float(steps[1][0])) > 1e-3
  np.testing.assert_allclose(steps[0][1], steps[1][1], rtol=1e-5)


def test_frozen_leaves_do_not_move_and_hold_no_state():
  params = {"embedding": jnp.ones((50, 4)), "dense": jnp.ones((4, 2))}
  frozen = {"embedding": True, "dense": False}
  tx = optim.make_optimizer(learning_rate=0.1, adam="keras", frozen=frozen)
  state = tx.init(params)
  state_sizes = [leaf.size for leaf in jax.tree.leaves(state)]
  assert 50 * 4 not in state_sizes  # no moments for the embedding
  assert state_sizes.count(4 * 2) == 2  # first and second moments for dense
  grads = {"embedding": jnp.full((50, 4), 1e3), "dense": jnp.full((4, 2), 0.1)}
  updates, state = tx.update(grads, state, params)
  new = optax.apply_updates(params, updates)
  np.testing.assert_array_equal(new["embedding"], params["embedding"])
  assert not np.allclose(new["dense"], params["dense"])


def test_frozen_leaves_are_left_out_of_the_global_norm():
  params = {"embedding": jnp.zeros(3), "dense": jnp.zeros(2)}
  grads = {"embedding": jnp.full(3, 1e3), "dense": jnp.array([0.3, 0.4])}  # dense norm 0.5
  frozen = {"embedding": True, "dense": False}
  tx = optim.make_optimizer(learning_rate=1.0, clip_mode="global_norm", clip_norm=1.0,
                            adam="optax", frozen=frozen)
  unclipped = optim.make_optimizer(learning_rate=1.0, clip_mode="none", adam="optax")
  got, _ = tx.update(grads, tx.init(params), params)
  want, _ = unclipped.update({"dense": grads["dense"]}, unclipped.init({"dense": params["dense"]}))
  np.testing.assert_allclose(got["dense"], want["dense"], rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"clip_mode": "clipnorm"},
     r"clip_mode 'clipnorm'.*global_norm, per_variable_norm, value, none"),
    ({"adam": "adamw"}, r"adam 'adamw'.*optax, keras"),
    ({"clip_norm": 0.0}, r"clip_norm must be > 0 for clip_mode='global_norm'"),
])
def test_bad_options_are_clear_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    optim.make_optimizer(learning_rate=0.1, **kwargs)
