"""The Keras twin used for side-by-side results is the same model."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import default
from lstm_jax import keras_compat
from lstm_jax import errors
from lstm_jax.models import classifier as model_lib
from lstm_jax.optim import optimizers
from lstm_jax.optim import schedules
from lstm_jax.study import keras_reference
import keras_testing

pytestmark = keras_testing.KERAS_WARNINGS


def small_config(**model):
  config = default.get_config()
  config.data.max_length = 7
  config.embedding.dim = 6
  config.model.recurrent_layers = ({"units": 5},)
  for key, value in model.items():
    config.model[key] = value
  return config


def shapes(tree):
  return jax.tree.map(jnp.shape, tree)


@pytest.mark.keras
def test_keras_twin_has_the_parameters_of_the_trained_model():
  config = small_config(recurrent_layers=({"units": 5, "bidirectional": True},) * 2,
                        head_dropout=0.2)
  keras_model = keras_compat.build_keras(
      model_lib.from_config(config.model, config.embedding, 40, 3), input_length=7)
  _, variables = keras_compat.from_keras(keras_model)
  ours = model_lib.from_config(config.model, config.embedding, 40, 3)
  params = ours.init(jax.random.PRNGKey(0), jnp.zeros((1, 7), jnp.int32))["params"]
  assert shapes(variables["params"]) == shapes(params)


def test_keras_twin_starts_from_the_glove_matrix_frozen():
  config = small_config()
  config.embedding.trainable = False
  matrix = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
  keras_model = keras_compat.build_keras(
      model_lib.from_config(config.model, config.embedding, 40, 3), input_length=7,
      embedding_matrix=matrix)
  model, variables = keras_compat.from_keras(keras_model)
  np.testing.assert_array_equal(variables["params"]["embedding"]["embedding"], matrix)
  assert not model.embedding_trainable


def _training(**train):
  config = small_config()
  for key, value in train.items():
    config.train[key] = value
  return config


def test_the_keras_twin_follows_the_warmup_cosine_schedule():
  keras = pytest.importorskip("keras")
  config = _training(lr_schedule="cosine", warmup_steps=5, final_learning_rate=1e-4,
                     max_epochs=3)
  theirs = schedules.keras_learning_rate(config.train, steps_per_epoch=10)
  ours = schedules.from_config(config.train, 10)
  for step in (0, 3, 5, 17, 30):
    assert float(keras.ops.convert_to_numpy(theirs(step))) == pytest.approx(
        float(ours(step)), rel=1e-5, abs=1e-9)


def test_the_keras_twin_of_adamw_leaves_the_excluded_variables_undecayed():
  keras = pytest.importorskip("keras")
  optimizer, _ = keras_reference.keras_training(
      _training(optimizer="adamw", weight_decay=0.5, clip_mode="none"), steps_per_epoch=1)
  kernel = keras.Variable(np.ones(3, np.float32), name="kernel")
  embeddings = keras.Variable(np.ones(3, np.float32), name="embeddings")
  zeros = keras.ops.zeros(3)
  optimizer.apply_gradients([(zeros, kernel), (zeros, embeddings)])
  np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel.value), 1 - 1e-3 * 0.5)
  np.testing.assert_array_equal(keras.ops.convert_to_numpy(embeddings.value), 1.0)


def test_the_keras_twin_of_reduce_on_plateau_gets_the_callback():
  keras = pytest.importorskip("keras")
  config = _training(lr_schedule="reduce_on_plateau")
  config.reduce_lr_on_plateau.patience = 2
  _, callbacks = keras_reference.keras_training(config, steps_per_epoch=1)
  plateau = [c for c in callbacks if isinstance(c, keras.callbacks.ReduceLROnPlateau)]
  assert len(plateau) == 1 and plateau[0].patience == 2 and plateau[0].factor == 0.1


@pytest.mark.parametrize("overrides, message", [
    ({"embedding.learning_rate_scale": 0.1}, "no learning rate per layer"),
    ({"train.lr_schedule": "linear", "train.warmup_steps": 3}, "no linear decay after a warmup"),
])
def test_settings_keras_cannot_train_with_are_named(overrides, message):
  pytest.importorskip("keras")
  config = small_config()
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  with pytest.raises(errors.NoKerasEquivalentError, match=message):
    keras_reference.keras_training(config, steps_per_epoch=10)


def _keras_rates(optimizer, steps):
  """The rate the Keras optimizer applies at each of `steps` (updates made before)."""
  import keras  # pylint: disable=g-import-not-at-top
  rates = []
  for step in steps:
    optimizer.iterations.assign(step)
    rates.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
  return rates


def _our_rates(config, steps_per_epoch, steps):
  return [schedules.learning_rate_at(schedules.from_config(config.train, steps_per_epoch), step)
          for step in steps]


KERAS_REFUSES = {("linear", 5)}


@pytest.mark.parametrize("name, warmup_steps", [
    (name, warmup_steps) for name, schedule in schedules.SCHEDULES.items()
    for warmup_steps in ((0, 5) if "warmup_steps" in schedule.keys else (0,))])
def test_the_keras_twin_follows_every_registered_schedule_or_refuses_it_by_name(
    name, warmup_steps):
  pytest.importorskip("keras")
  reads = schedules.SCHEDULES.get(name).keys
  settings = {"warmup_steps": warmup_steps, "final_learning_rate": 1e-4}
  config = _training(lr_schedule=name, max_epochs=3,
                     **{key: value for key, value in settings.items() if key in reads})
  try:
    optimizer, _ = keras_reference.keras_training(config, steps_per_epoch=10)
  except errors.NoKerasEquivalentError as e:
    # Keras has no linear decay after a warmup; every other case has a twin.
    assert (name, warmup_steps) in KERAS_REFUSES, f"{name} is refused: {e}"
    assert f"train.lr_schedule={name!r}" in str(e)
    return
  assert (name, warmup_steps) not in KERAS_REFUSES
  steps = range(0, 31, 3)
  assert _keras_rates(optimizer, steps) == pytest.approx(_our_rates(config, 10, steps),
                                                         rel=1e-5, abs=1e-9)


def _step_down(learning_rate, total_steps):
  return optax.piecewise_constant_schedule(learning_rate, {total_steps // 2: 0.1})


def _keras_step_down(learning_rate, total_steps):
  import keras  # pylint: disable=g-import-not-at-top
  # Keras's boundary is the last step of the first piece, optax's the first of the next.
  return keras.optimizers.schedules.PiecewiseConstantDecay(
      [total_steps // 2 - 1], [learning_rate, learning_rate * 0.1])


def test_a_new_schedule_without_a_keras_equivalent_is_refused_not_run_at_a_constant_rate():
  pytest.importorskip("keras")
  with schedules.SCHEDULES.temporarily("step_down", schedules.Schedule(_step_down)):
    with pytest.raises(errors.NoKerasEquivalentError,
                       match=r"train.lr_schedule='step_down' has no Keras equivalent"):
      keras_reference.keras_training(_training(lr_schedule="step_down"), steps_per_epoch=10)


def test_a_new_schedule_trains_the_keras_twin_with_its_registered_equivalent():
  pytest.importorskip("keras")
  entry = schedules.Schedule(_step_down, keras=_keras_step_down)
  with schedules.SCHEDULES.temporarily("step_down", entry):
    config = _training(lr_schedule="step_down", max_epochs=2)
    optimizer, _ = keras_reference.keras_training(config, steps_per_epoch=10)
    steps = (0, 9, 10, 11, 19)
    assert _keras_rates(optimizer, steps) == pytest.approx(_our_rates(config, 10, steps))
    assert _keras_rates(optimizer, (19,)) == pytest.approx([1e-4])


@pytest.mark.parametrize("key, registry_, entry", [
    ("optimizer", optimizers.OPTIMIZERS,
     optimizers.Optimizer(lambda lr, decay, mask: optax.sgd(lr), None, weight_decay=False,
                          meaning="plain SGD")),
    ("clip_mode", optimizers.CLIP_MODES,
     optimizers.ClipMode(optax.clip_by_block_rms, None, "block RMS")),
])
def test_an_optimizer_or_clipping_without_a_keras_counterpart_is_refused_by_name(
    key, registry_, entry):
  pytest.importorskip("keras")
  with registry_.temporarily("new", entry):
    with pytest.raises(errors.NoKerasEquivalentError,
                       match=rf"train.{key}='new' has no Keras counterpart"):
      keras_reference.keras_training(_training(**{key: "new"}), steps_per_epoch=10)
