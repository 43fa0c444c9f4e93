"""The Keras twin used for side-by-side results is the same model."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import default
from lstm_jax import keras_compat
from lstm_jax import model as model_lib


def small_config(**model):
  config = default.get_config()
  config.data.max_length = 7
  config.embedding.dim = 6
  config.model.lstm_layers = ({"units": 5},)
  for key, value in model.items():
    config.model[key] = value
  return config


def shapes(tree):
  return jax.tree.map(jnp.shape, tree)


def test_keras_twin_has_the_parameters_of_the_trained_model():
  config = small_config(lstm_layers=({"units": 5, "bidirectional": True},) * 2,
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
