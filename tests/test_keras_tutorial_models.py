"""The recurrent classifiers of public Keras tutorials and examples (LSTM, GRU,
SimpleRNN), written as their authors write them, saved to .keras, reloaded and
imported: the import predicts what Keras predicts, serves at the same values,
and exports back exactly, on Keras's JAX and torch backends."""

import importlib.util
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from keras_testing import KERAS_WARNINGS
from keras_testing import keras_on_jax

keras = keras_on_jax()

from lstm_jax import keras_compat  # noqa: E402
from lstm_jax import serving  # noqa: E402

pytestmark = KERAS_WARNINGS

L = keras.layers
VOCAB, TIME = 300, 12


def keras_io_imdb_bidirectional():
  """keras-io's "Bidirectional LSTM on IMDB" example."""
  inputs = keras.Input(shape=(None,), dtype="int32")
  x = L.Embedding(VOCAB, 16)(inputs)
  x = L.Bidirectional(L.LSTM(8, return_sequences=True))(x)
  x = L.Bidirectional(L.LSTM(8))(x)
  outputs = L.Dense(1, activation="sigmoid")(x)
  return keras.Model(inputs, outputs)


def keras_imdb_lstm():
  """Keras's classic imdb_lstm example (its 128 units made smaller)."""
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16),
      L.LSTM(8, dropout=0.2, recurrent_dropout=0.2), L.Dense(1, activation="sigmoid")])


def news_dropout_after_embedding():
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True), L.Dropout(0.5),
      L.Bidirectional(L.LSTM(8)), L.Dense(6, activation="softmax")])


def hidden_dense_head():
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16), L.LSTM(8),
      L.Dense(32, activation="relu"), L.Dropout(0.5), L.Dense(6, activation="softmax")])


def huffpost_spatial_dropout():
  """The Kaggle HuffPost kernels' model (100 units made smaller)."""
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16), L.SpatialDropout1D(0.2),
      L.LSTM(10, dropout=0.2, recurrent_dropout=0.2), L.Dense(41, activation="softmax")])


def unequal_stack():
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True),
      L.LSTM(12, return_sequences=True), L.LSTM(6), L.Dense(3, activation="softmax")])


def bidirectional_into_smaller_lstm():
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True),
      L.Bidirectional(L.LSTM(8, return_sequences=True)), L.LSTM(4),
      L.Dense(4, activation="softmax")])


def max_pooling():
  inputs = keras.Input(shape=(TIME,))
  x = L.Embedding(VOCAB, 16, mask_zero=True)(inputs)
  x = L.Bidirectional(L.LSTM(8, return_sequences=True))(x)
  x = L.GlobalMaxPooling1D()(x)
  outputs = L.Dense(5, activation="softmax")(L.Dense(16, activation="relu")(x))
  return keras.Model(inputs, outputs)


def masked_average_pooling():
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True),
      L.Bidirectional(L.LSTM(8, return_sequences=True), merge_mode="sum"),
      L.GlobalAveragePooling1D(), L.Dropout(0.3), L.Dense(5, activation="softmax")])


def gru_sentiment():
  """A GRU sentiment classifier, Keras's `GRU` defaults (reset_after=True)."""
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True), L.GRU(8),
      L.Dense(1, activation="sigmoid")])


def rnn_guide_gru_into_simple_rnn():
  """Keras's "Working with RNNs" guide stack, GRU(return_sequences) → SimpleRNN
  (sizes made smaller, a softmax output instead of logits)."""
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16), L.GRU(12, return_sequences=True),
      L.SimpleRNN(6), L.Dense(10, activation="softmax")])


def gru_reset_before_stack():
  """The original GRU (TF1 / CuDNN-less form), stacked, with dropout."""
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True),
      L.GRU(8, reset_after=False, return_sequences=True, dropout=0.2), L.Dropout(0.3),
      L.GRU(4, reset_after=False), L.Dense(3, activation="softmax")])


def bidirectional_gru_max_pooling():
  inputs = keras.Input(shape=(None,), dtype="int32")
  x = L.Embedding(VOCAB, 16, mask_zero=True)(inputs)
  x = L.Bidirectional(L.GRU(8, return_sequences=True), merge_mode="mul")(x)
  x = L.GlobalMaxPooling1D()(x)
  outputs = L.Dense(5, activation="softmax")(x)
  return keras.Model(inputs, outputs)


def relu_simple_rnn_average_pooling():
  return keras.Sequential([
      keras.Input(shape=(TIME,)), L.Embedding(VOCAB, 16, mask_zero=True),
      L.Bidirectional(L.SimpleRNN(6, activation="relu", return_sequences=True),
                      merge_mode="ave"),
      L.GlobalAveragePooling1D(), L.Dense(4, activation="softmax")])


LSTM_MODELS = [keras_io_imdb_bidirectional, keras_imdb_lstm, news_dropout_after_embedding,
               hidden_dense_head, huffpost_spatial_dropout, unequal_stack,
               bidirectional_into_smaller_lstm, max_pooling, masked_average_pooling]
GRU_AND_SIMPLE_RNN_MODELS = [gru_sentiment, rnn_guide_gru_into_simple_rnn,
                             gru_reset_before_stack, bidirectional_gru_max_pooling,
                             relu_simple_rnn_average_pooling]
TUTORIAL_MODELS = LSTM_MODELS + GRU_AND_SIMPLE_RNN_MODELS


def token_ids(seed: int) -> np.ndarray:
  """Pre-padded rows of 1 to TIME tokens, as `pad_sequences` makes them."""
  rng = np.random.default_rng(seed)
  ids = np.zeros((9, TIME), np.int32)
  for row, length in enumerate(rng.integers(1, TIME + 1, len(ids))):
    ids[row, TIME - length:] = rng.integers(1, VOCAB, length)
  return ids


# Two models in the default suite, all of them in the Keras suite (`pytest -m keras`).
DEFAULT_MODELS = (keras_io_imdb_bidirectional, masked_average_pooling)


@pytest.fixture(scope="module", ids=lambda f: f.__name__, params=[
    model if model in DEFAULT_MODELS else pytest.param(model, marks=pytest.mark.keras)
    for model in TUTORIAL_MODELS])
def reloaded(request, tmp_path_factory):
  """(the Keras model after a save and a load, its path, its predictions)."""
  keras.utils.set_random_seed(0)
  path = tmp_path_factory.mktemp("keras") / f"{request.param.__name__}.keras"
  request.param().save(path)
  keras_model = keras.saving.load_model(path)
  ids = token_ids(1)
  return keras_model, path, ids, keras_model.predict(ids, verbose=0)


def test_imported_model_predicts_what_keras_predicts(reloaded):
  _, path, ids, want = reloaded
  model, variables = keras_compat.from_keras(path)
  got = model.apply(variables, ids, method=model.probabilities)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_served_model_gives_the_class_probabilities_keras_predicts(reloaded):
  keras_model, _, ids, want = reloaded
  model, variables = keras_compat.from_keras(keras_model)
  classifier = serving.from_model(model, variables, batch_size=4)
  got = classifier.predict_proba_ids(ids)
  if want.shape[1] == 1:  # a sigmoid: Keras gives the second class's probability
    want = np.concatenate([1 - want, want], axis=1)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_export_and_reimport_give_back_the_same_parameters(reloaded):
  keras_model, _, ids, want = reloaded
  model, variables = keras_compat.from_keras(keras_model)
  exported = keras_compat.to_keras(model, variables)
  np.testing.assert_allclose(exported.predict(ids, verbose=0), want, atol=1e-6, rtol=0)
  again, again_variables = keras_compat.from_keras(exported)
  assert again == model
  jax.tree.map(np.testing.assert_array_equal, again_variables, variables)


# Loads each .keras file named on the command line with plain Keras on the backend
# KERAS_BACKEND names and prints its predictions of the ids on stdin, as JSON.
KERAS_PREDICT = """
import json, sys
import keras
import numpy as np
ids = np.asarray(json.loads(sys.stdin.read()), np.int32)
print(json.dumps({"backend": keras.backend.backend(),
                  "probabilities": [keras.saving.load_model(path).predict(ids, verbose=0).tolist()
                                    for path in sys.argv[1:]]}))
"""


def test_exports_of_gru_and_simple_rnn_models_predict_the_same_on_the_torch_backend(tmp_path):
  if importlib.util.find_spec("torch") is None:
    pytest.skip("torch is not installed (requirements-bench.txt installs torch)")
  keras.utils.set_random_seed(0)
  ids = token_ids(2)
  paths, ours = [], []
  for build in GRU_AND_SIMPLE_RNN_MODELS:
    model, variables = keras_compat.from_keras(build())
    path = tmp_path / f"{build.__name__}.keras"
    keras_compat.to_keras(model, variables).save(path)
    paths.append(str(path))
    ours.append(np.asarray(model.apply(variables, ids, method=model.probabilities)))
  done = subprocess.run([sys.executable, "-c", KERAS_PREDICT, *paths],
                        input=json.dumps(ids.tolist()), capture_output=True, text=True,
                        timeout=300, env={**os.environ, "KERAS_BACKEND": "torch"})
  assert done.returncode == 0, done.stderr
  keras_output = json.loads(done.stdout.splitlines()[-1])
  assert keras_output["backend"] == "torch"
  for path, got, want in zip(paths, keras_output["probabilities"], ours, strict=True):
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5, rtol=0, err_msg=path)
