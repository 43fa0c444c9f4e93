"""Optimizers: clipping modes by hand, Keras Adam against Keras, frozen leaves."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lstm_jax.optim import optimizers
from lstm_jax.optim import plateau
from lstm_jax.optim import schedules

# Norms: a is 5, b is 1, the global norm is sqrt(26).
GRADS = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([[0.6, 0.8]])}


def _clip(mode, clip_norm):
  tx = optimizers.make_clipping(mode, clip_norm)
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
  tx = optimizers.make_optimizer(learning_rate=0.01, clip_mode=clip_mode, clip_norm=0.5, optimizer="keras_adam")
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
  tx = optimizers.keras_adam(optax.exponential_decay(0.1, transition_steps=2, decay_rate=0.5))
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
  for optimizer in ("keras_adam", "adam"):
    tx = optimizers.make_optimizer(learning_rate=1.0, clip_mode="none", optimizer=optimizer)
    steps.append(tx.update(grads, tx.init(grads))[0]["w"])
  # epsilon on the uncorrected second moment matters for tiny gradients.
  assert abs(float(steps[0][0]) - float(steps[1][0])) > 1e-3
  np.testing.assert_allclose(steps[0][1], steps[1][1], rtol=1e-5)


def test_frozen_leaves_do_not_move_and_hold_no_state():
  params = {"embedding": jnp.ones((50, 4)), "dense": jnp.ones((4, 2))}
  frozen = {"embedding": True, "dense": False}
  tx = optimizers.make_optimizer(learning_rate=0.1, optimizer="keras_adam", frozen=frozen)
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
  tx = optimizers.make_optimizer(learning_rate=1.0, clip_mode="global_norm", clip_norm=1.0,
                            optimizer="adam", frozen=frozen)
  unclipped = optimizers.make_optimizer(learning_rate=1.0, clip_mode="none", optimizer="adam")
  got, _ = tx.update(grads, tx.init(params), params)
  want, _ = unclipped.update({"dense": grads["dense"]}, unclipped.init({"dense": params["dense"]}))
  np.testing.assert_allclose(got["dense"], want["dense"], rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"clip_mode": "clipnorm"},
     r"clip_mode='clipnorm'.*global_norm, per_variable_norm, value, none"),
    ({"optimizer": "adamax"}, r"optimizer='adamax'.*adam, adamw, keras_adam"),
    ({"weight_decay": 0.01}, r"weight_decay=0.01 needs an optimizer with weight decay \(adamw\)"),
    ({"clip_norm": 0.0}, r"clip_norm must be > 0 for clip_mode='global_norm'"),
])
def test_bad_options_are_clear_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    optimizers.make_optimizer(learning_rate=0.1, **kwargs)


TOTAL = 100


@pytest.mark.parametrize("kind", ["constant", "cosine", "linear"])
def test_warmup_rises_linearly_from_zero(kind):
  schedule = schedules.make_schedule(kind, 0.01, total_steps=TOTAL, warmup_steps=10)
  np.testing.assert_allclose([schedule(0), schedule(5), schedule(10)], [0.0, 0.005, 0.01],
                             rtol=1e-6)


def test_a_constant_rate_without_warmup_is_the_plain_float():
  # So that such runs keep the optimizer state of runs made before schedules.
  assert schedules.make_schedule("constant", 0.01, total_steps=TOTAL) == 0.01
  assert schedules.make_schedule("reduce_on_plateau", 0.01, total_steps=TOTAL) == 0.01


@pytest.mark.parametrize("kind, halfway", [("cosine", 0.5 * (0.01 + 0.001)),
                                           ("linear", 0.5 * (0.01 + 0.001))])
def test_decay_reaches_the_final_rate_at_the_last_step(kind, halfway):
  schedule = schedules.make_schedule(kind, 0.01, total_steps=TOTAL, warmup_steps=20,
                                 final_learning_rate=0.001)
  np.testing.assert_allclose([schedule(20), schedule(60), schedule(TOTAL)],
                             [0.01, halfway, 0.001], rtol=1e-5)


def test_warmup_cosine_follows_keras_cosine_decay():
  keras = pytest.importorskip("keras")
  ours = schedules.make_schedule("cosine", 0.01, total_steps=TOTAL, warmup_steps=10,
                             final_learning_rate=0.002)
  theirs = keras.optimizers.schedules.CosineDecay(
      0.0, decay_steps=TOTAL - 10, alpha=0.2, warmup_target=0.01, warmup_steps=10)
  steps = np.arange(0, TOTAL + 1, 7)
  np.testing.assert_allclose([float(ours(s)) for s in steps],
                             [float(keras.ops.convert_to_numpy(theirs(s))) for s in steps],
                             rtol=1e-5, atol=1e-9)


def _params():
  return {"embedding": {"embedding": jnp.ones((5, 2))},
          "dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}}


def _one_update(tx, grads=None):
  params = _params()
  grads = grads or jax.tree.map(jnp.ones_like, params)
  updates, _ = tx.update(grads, tx.init(params), params)
  return updates


def test_adamw_decays_only_the_leaves_its_mask_names():
  params = _params()
  decay = jax.tree.map(lambda excluded: not excluded,
                       optimizers.path_mask(params, ["embedding", "bias"]))
  tx = optimizers.make_optimizer(learning_rate=0.1, optimizer="adamw", weight_decay=0.5,
                            decay_mask=decay, clip_mode="none")
  zero_grads = jax.tree.map(jnp.zeros_like, params)
  updates = _one_update(tx, zero_grads)
  np.testing.assert_allclose(updates["dense"]["kernel"], -0.1 * 0.5 * np.ones((2, 2)))
  np.testing.assert_array_equal(updates["dense"]["bias"], 0.0)
  np.testing.assert_array_equal(updates["embedding"]["embedding"], 0.0)


def test_adamw_follows_keras_adamw_with_excluded_variables():
  keras = pytest.importorskip("keras")
  init = [np.ones((3, 2), np.float32), np.full((4,), -0.5, np.float32)]
  keras_vars = [keras.Variable(init[0], name="kernel"), keras.Variable(init[1], name="bias")]
  keras_opt = keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=1e-8)
  keras_opt.exclude_from_weight_decay(var_names=["bias"])
  params = {"kernel": jnp.asarray(init[0]), "bias": jnp.asarray(init[1])}
  tx = optimizers.make_optimizer(learning_rate=0.01, optimizer="adamw", weight_decay=0.1,
                            decay_mask={"kernel": True, "bias": False}, clip_mode="none")
  state = tx.init(params)
  for step in range(20):
    grads = _toy_gradients(step)
    keras_opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], keras_vars))
    updates, state = tx.update({"kernel": jnp.asarray(grads[0]), "bias": jnp.asarray(grads[1])},
                               state, params)
    params = optax.apply_updates(params, updates)
  for ours, theirs in zip([params["kernel"], params["bias"]], keras_vars):
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs.value), rtol=1e-4,
                               atol=1e-6)


def test_leaf_scales_slow_down_their_leaves_only():
  scales = {"embedding": {"embedding": 0.1}, "dense": {"kernel": 1.0, "bias": 1.0}}
  plain = _one_update(optimizers.make_optimizer(learning_rate=0.1))
  scaled = _one_update(optimizers.make_optimizer(learning_rate=0.1, leaf_scales=scales))
  np.testing.assert_allclose(scaled["embedding"]["embedding"],
                             0.1 * plain["embedding"]["embedding"], rtol=1e-6)
  np.testing.assert_array_equal(scaled["dense"]["kernel"], plain["dense"]["kernel"])


def test_the_learning_rate_factor_lives_in_the_optimizer_state():
  tx = optimizers.make_optimizer(learning_rate=0.1, adjustable=True)
  params = _params()
  grads = jax.tree.map(jnp.ones_like, params)
  state = tx.init(params)
  assert plateau.learning_rate_factor(state) == 1.0
  full, _ = tx.update(grads, state, params)
  state = plateau.with_learning_rate_factor(state, 0.25)
  assert plateau.learning_rate_factor(state) == 0.25
  quarter, _ = tx.update(grads, state, params)
  jax.tree.map(lambda q, f: np.testing.assert_allclose(q, 0.25 * f, rtol=1e-6), quarter, full)


def test_without_extras_the_optimizer_state_is_that_of_earlier_runs():
  params = _params()
  frozen = optimizers.frozen_mask(params, embedding_trainable=False)
  before = optax.multi_transform(
      {"trainable": optax.chain(optimizers.make_clipping("global_norm", 1.0), optax.adam(0.1)),
       "frozen": optax.set_to_zero()},
      jax.tree.map(lambda f: "frozen" if f else "trainable", frozen))
  now = optimizers.make_optimizer(learning_rate=0.1, frozen=frozen)
  assert (jax.tree.structure(now.init(params)) == jax.tree.structure(before.init(params)))
