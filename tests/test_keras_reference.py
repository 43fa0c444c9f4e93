"""The Keras twin used for side-by-side results is the same model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from lstm_jax import keras_compat
from lstm_jax.models import classifier as model_lib
from lstm_jax.optim import optimizers
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
  keras_model = keras_compat.build_keras(model_lib.from_config(config, 40, 3), input_length=7)
  _, variables = keras_compat.from_keras(keras_model)
  ours = model_lib.from_config(config, 40, 3)
  params = ours.init(jax.random.PRNGKey(0), jnp.zeros((1, 7), jnp.int32))["params"]
  assert shapes(variables["params"]) == shapes(params)


def test_keras_twin_starts_from_the_glove_matrix_frozen():
  config = small_config()
  config.embedding.trainable = False
  matrix = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
  keras_model = keras_compat.build_keras(model_lib.from_config(config, 40, 3),
                                         input_length=7, embedding_matrix=matrix)
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
  theirs = keras_reference.keras_learning_rate(config, steps_per_epoch=10)
  ours = optimizers.schedule_from_config(config.train, 10)
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
  with pytest.raises(keras_reference.NoKerasEquivalentError, match=message):
    keras_reference.keras_training(config, steps_per_epoch=10)
