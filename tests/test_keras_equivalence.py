"""Equivalence with Keras 3 (JAX backend, float32, CPU).

Random small cases vary batch, time, vocabulary, embedding width, units,
classes, depth, direction, masking and padding side. Each case builds its Keras
model once, with random weights, and imports it with `from_keras`.
"""

import dataclasses
import functools
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
  pytest.skip("the Keras equivalence tests need KERAS_BACKEND=jax", allow_module_level=True)

from lstm_jax import keras_compat  # noqa: E402
from lstm_jax import lstm  # noqa: E402
from lstm_jax import optim  # noqa: E402

pytestmark = [
    # Keras's own variables trip a numpy 2 deprecation inside get_weights / set_weights.
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
    # The unsupported-layer models include a pooling layer that drops the mask.
    pytest.mark.filterwarnings("ignore:Layer 'bad' .* does not support masking:UserWarning"),
]

NUM_CASES = 12


@dataclasses.dataclass(frozen=True)
class Case:
  seed: int
  batch: int
  time: int
  vocab: int
  embed: int
  units: int
  classes: int
  num_layers: int
  bidirectional: bool
  mask_zero: bool
  padding: str
  dropout: Optional[float]


def make_case(seed: int) -> Case:
  """Sizes are random; the structural options cycle so every combination appears."""
  rng = np.random.default_rng(seed)
  return Case(
      seed=seed,
      batch=int(rng.integers(1, 5)),
      time=int(rng.integers(1, 7)),
      vocab=int(rng.integers(3, 13)),
      embed=int(rng.integers(1, 7)),
      units=int(rng.integers(1, 6)),
      classes=int(rng.integers(2, 5)),
      num_layers=1 + (seed // 4) % 2,
      bidirectional=seed % 2 == 1,
      mask_zero=seed % 3 != 2,
      padding="pre" if (seed // 2) % 2 == 0 else "post",
      dropout=0.25 if seed % 5 == 4 else None,
  )


def padded_ids(case: Case, rng: np.random.Generator) -> np.ndarray:
  """<int32>[B, T] ids in [1, V) with random lengths (0 to T), padded with 0."""
  ids = np.zeros((case.batch, case.time), np.int32)
  for row, length in enumerate(rng.integers(0, case.time + 1, case.batch)):
    tokens = rng.integers(1, case.vocab, length)
    if case.padding == "pre":
      ids[row, case.time - length:] = tokens
    else:
      ids[row, :length] = tokens
  return ids


def randomize_weights(layer_or_model: Any, rng: np.random.Generator) -> None:
  layer_or_model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                              for w in layer_or_model.get_weights()])


def keras_classifier(case: Case) -> Any:
  """The Keras model of a case, built (without symbolic tracing, which is slow)."""
  keras.utils.set_random_seed(case.seed)
  layers = [keras.layers.Embedding(case.vocab, case.embed, mask_zero=case.mask_zero)]
  for index in range(case.num_layers):
    layer = keras.layers.LSTM(case.units, return_sequences=index < case.num_layers - 1)
    layers.append(keras.layers.Bidirectional(layer) if case.bidirectional else layer)
  if case.dropout is not None:
    layers.append(keras.layers.Dropout(case.dropout))
  layers.append(keras.layers.Dense(case.classes, activation="softmax"))
  keras_model = keras.Sequential(layers)
  keras_model.build((None, case.time))
  return keras_model


def keras_probabilities_and_gradients(keras_model: Any, ids: np.ndarray, labels: np.ndarray
                                      ) -> tuple[np.ndarray, list[jax.Array]]:
  """Keras's class probabilities, and the gradients of the mean cross-entropy in
  `keras_model.trainable_variables` order, from one jitted `stateless_call`."""
  non_trainable = [v.value for v in keras_model.non_trainable_variables]

  def loss(trainable):
    probs, _ = keras_model.stateless_call(trainable, non_trainable, ids, training=False)
    return -jnp.mean(jnp.log(jnp.take_along_axis(probs, labels[:, None], axis=1))), probs

  grads, probs = jax.jit(jax.grad(loss, has_aux=True))(
      [v.value for v in keras_model.trainable_variables])
  return np.asarray(probs), grads


@dataclasses.dataclass(frozen=True)
class Built:
  case: Case
  keras_model: Any
  ids: np.ndarray
  labels: np.ndarray
  keras_probs: np.ndarray
  keras_grads: list[jax.Array]
  model: Any
  variables: Any


@functools.cache
def built(seed: int) -> Built:
  case = make_case(seed)
  rng = np.random.default_rng(1000 + seed)
  keras_model = keras_classifier(case)
  randomize_weights(keras_model, rng)
  ids = padded_ids(case, rng)
  labels = rng.integers(0, case.classes, case.batch).astype(np.int32)
  model, variables = keras_compat.from_keras(keras_model)
  return Built(case, keras_model, ids, labels,
               *keras_probabilities_and_gradients(keras_model, ids, labels), model, variables)


@functools.cache
def ours(seed: int) -> tuple[np.ndarray, Any]:
  """Our class probabilities and gradients for a case, from one jitted function."""
  b = built(seed)

  def loss(params):
    logits = b.model.apply({"params": params}, b.ids)
    return cross_entropy(logits, b.labels), jax.nn.softmax(logits)

  grads, probs = jax.jit(jax.grad(loss, has_aux=True))(b.variables["params"])
  return np.asarray(probs), grads


def to_numpy(x: Any) -> np.ndarray:
  return np.asarray(keras.ops.convert_to_numpy(x))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def keras_weights(lstm_layer: Any) -> dict[str, np.ndarray]:
  cell = lstm_layer.cell
  return {name: to_numpy(getattr(cell, name).value)
          for name in ("kernel", "recurrent_kernel", "bias")}


def assert_relatively_close(got: Any, want: Any, rtol: float) -> None:
  """Each leaf within `rtol` of the leaf's largest magnitude."""

  def check(path, g, w):
    w = np.asarray(w)
    np.testing.assert_allclose(g, w, atol=rtol * np.abs(w).max() + 1e-9, rtol=0,
                               err_msg=jax.tree_util.keystr(path))

  jax.tree_util.tree_map_with_path(check, got, want)


CASES = pytest.mark.parametrize("seed", range(NUM_CASES))


@CASES
def test_imported_architecture_matches_the_keras_model(seed):
  b = built(seed)
  c = b.case
  assert (b.model.vocab_size, b.model.embed_dim, b.model.num_classes, b.model.units) == (
      c.vocab, c.embed, c.classes, c.units)
  assert (b.model.num_layers, b.model.bidirectional, b.model.mask_zero) == (
      c.num_layers, c.bidirectional, c.mask_zero)
  assert b.model.dropout == (c.dropout or 0.0)


@CASES
def test_class_probabilities_match_keras(seed):
  probs, _ = ours(seed)
  np.testing.assert_allclose(probs, built(seed).keras_probs, atol=1e-5, rtol=0)


# (layer, go_backwards, return_sequences, padding); padding None means no mask.
LAYER_CASES = [
    ("lstm", False, True, "pre"),
    ("lstm", False, False, "post"),
    ("lstm", True, True, "pre"),
    ("lstm", True, True, "post"),
    ("lstm", True, False, "post"),
    ("lstm", True, True, None),
    ("bidirectional", False, True, "pre"),
    ("bidirectional", False, True, "post"),
    ("bidirectional", False, False, "post"),
    ("bidirectional", False, True, None),
]


@pytest.mark.parametrize("index", range(len(LAYER_CASES)),
                         ids=["-".join(map(str, c)) for c in LAYER_CASES])
def test_layer_outputs_and_final_states_match_keras(index):
  kind, go_backwards, return_sequences, padding = LAYER_CASES[index]
  case = dataclasses.replace(make_case(index), padding=padding or "pre")
  rng = np.random.default_rng(2000 + index)
  x = rng.normal(size=(case.batch, case.time, case.embed)).astype(np.float32)
  mask = None if padding is None else padded_ids(case, rng) != 0
  # Zero initialisers skip Keras's slow orthogonal init; the weights are randomized below.
  keras_lstm = keras.layers.LSTM(case.units, return_sequences=return_sequences,
                                 return_state=True, go_backwards=go_backwards,
                                 kernel_initializer="zeros", recurrent_initializer="zeros")
  if kind == "bidirectional":
    keras_layer = keras.layers.Bidirectional(keras_lstm)
    layer = lstm.Bidirectional(case.units, return_sequences=return_sequences)
  else:
    keras_layer = keras_lstm
    layer = lstm.LSTM(case.units, return_sequences=return_sequences, go_backwards=go_backwards)
  keras_layer.build(x.shape)
  randomize_weights(keras_layer, rng)
  want, *want_states = [to_numpy(t) for t in keras_layer(x, mask=mask)]

  if kind == "bidirectional":
    params = {"forward": keras_weights(keras_layer.forward_layer),
              "backward": keras_weights(keras_layer.backward_layer)}
    got, (state_fw, state_bw) = jax.jit(layer.apply)({"params": params}, x, mask)
    got_states = [*state_fw, *state_bw]  # Keras order: h_fw, c_fw, h_bw, c_bw
  else:
    got, got_states = jax.jit(layer.apply)({"params": keras_weights(keras_layer)}, x, mask)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  for got_state, want_state in zip(got_states, want_states, strict=True):
    np.testing.assert_allclose(got_state, want_state, atol=1e-5, rtol=0)


@CASES
def test_gradients_of_every_weight_match_keras(seed):
  b = built(seed)
  assert [v.path for v in b.keras_model.trainable_variables] == [
      v.path for v in b.keras_model.weights]
  # Load the Keras gradients into a twin model so from_keras lays them out like our params.
  twin = keras.models.clone_model(b.keras_model)
  twin.set_weights([np.asarray(g) for g in b.keras_grads])
  _, want = keras_compat.from_keras(twin)
  _, got = ours(seed)
  assert_relatively_close(got, want["params"], rtol=1e-4)


TRAINING_CASE = Case(seed=7, batch=6, time=5, vocab=11, embed=4, units=3, classes=3,
                     num_layers=2, bidirectional=False, mask_zero=True, padding="pre",
                     dropout=0.0)


@pytest.mark.parametrize("keras_clip, clip_mode, case", [
    ("clipnorm", "per_variable_norm", TRAINING_CASE),
    ("global_clipnorm", "global_norm",
     dataclasses.replace(TRAINING_CASE, num_layers=1, bidirectional=True, padding="post")),
])
def test_training_loss_curve_matches_keras_train_on_batch(keras_clip, clip_mode, case):
  rng = np.random.default_rng(case.seed)
  batches = [(padded_ids(case, rng), rng.integers(0, case.classes, case.batch).astype(np.int32))
             for _ in range(3)] * 3
  keras_model = keras_classifier(case)
  model, variables = keras_compat.from_keras(keras_model)  # the initial weights
  keras_model.compile(optimizer=keras.optimizers.Adam(0.02, **{keras_clip: 0.05}),
                      loss="sparse_categorical_crossentropy")
  keras_losses = [float(keras_model.train_on_batch(ids, labels)) for ids, labels in batches]

  tx = optim.make_optimizer(learning_rate=0.02, clip_mode=clip_mode, clip_norm=0.05, adam="keras")

  @jax.jit
  def train_step(params, opt_state, ids, labels):
    loss, grads = jax.value_and_grad(
        lambda p: cross_entropy(model.apply({"params": p}, ids), labels))(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  params = variables["params"]
  opt_state = tx.init(params)
  losses = []
  for ids, labels in batches:
    params, opt_state, loss = train_step(params, opt_state, ids, labels)
    losses.append(float(loss))
  # The batches repeat: the first one's loss has come down by its third visit.
  assert keras_losses[6] < keras_losses[0] - 0.05
  np.testing.assert_allclose(losses, keras_losses, atol=1e-3, rtol=0)


def test_saved_keras_file_loads_and_predicts_identically(tmp_path):
  b = built(5)
  path = tmp_path / "classifier.keras"
  b.keras_model.save(path)
  model, variables = keras_compat.from_keras(str(path))
  assert model == b.model
  jax.tree.map(np.testing.assert_array_equal, variables, b.variables)
  want = b.keras_model.predict(b.ids, verbose=0)
  np.testing.assert_allclose(jax.nn.softmax(model.apply(variables, b.ids)), want, atol=1e-5)


def test_unbuilt_keras_model_is_a_clear_error():
  unbuilt = keras.Sequential([L.Embedding(9, 3), L.LSTM(3), _dense()])
  with pytest.raises(ValueError, match="not built"):
    keras_compat.from_keras(unbuilt)


def test_missing_keras_file_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match="no Keras model file at"):
    keras_compat.from_keras(tmp_path / "absent.keras")


def _sequential(*layers, time=4, batch_size=None):
  keras_model = keras.Sequential([keras.layers.Embedding(9, 3, mask_zero=True), *layers])
  keras_model.build((batch_size, time))
  return keras_model


def _dense():
  return keras.layers.Dense(2, activation="softmax")


L = keras.layers
UNSUPPORTED = {
    "gru": (lambda: _sequential(L.GRU(3, name="bad"), _dense()), r"GRU\): expected an LSTM"),
    "relu": (lambda: _sequential(L.LSTM(3, activation="relu", name="bad"), _dense()),
             r"activation='relu'"),
    "no_bias": (lambda: _sequential(L.LSTM(3, use_bias=False, name="bad"), _dense()),
                r"use_bias=False"),
    "merge_sum": (lambda: _sequential(L.Bidirectional(L.LSTM(3), merge_mode="sum", name="bad"),
                                      _dense()), r"merge_mode='sum'"),
    "go_backwards": (lambda: _sequential(L.LSTM(3, go_backwards=True, name="bad"), _dense()),
                     r"go_backwards=True"),
    "stateful": (lambda: _sequential(L.LSTM(3, stateful=True, name="bad"), _dense(),
                                     batch_size=2), r"stateful=True"),
    "units_differ": (lambda: _sequential(L.LSTM(3, return_sequences=True),
                                         L.LSTM(4, name="bad"), _dense()), r"'units': 4"),
    "sequences_into_dense": (lambda: _sequential(L.LSTM(3, return_sequences=True, name="bad"),
                                                 _dense()), r"return_sequences"),
    "pooling": (lambda: _sequential(L.LSTM(3, return_sequences=True), L.GlobalMaxPooling1D(
        name="bad"), _dense()), r"GlobalMaxPooling1D\).*not supported"),
    "dropout_between": (lambda: _sequential(L.LSTM(3, return_sequences=True),
                                            L.Dropout(0.1, name="bad"), L.LSTM(3), _dense()),
                        r"Dropout between recurrent layers"),
    "sigmoid_head": (lambda: _sequential(L.LSTM(3), L.Dense(1, activation="sigmoid", name="bad")),
                     r"activation='sigmoid'"),
    "bfloat16": (lambda: _sequential(L.LSTM(3, dtype="mixed_bfloat16", name="bad"), _dense()),
                 r"dtype policy 'mixed_bfloat16'"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_models_name_the_layer_and_option(name):
  build, message = UNSUPPORTED[name]
  with pytest.raises(ValueError, match=r"layer 'bad' .*" + message):
    keras_compat.from_keras(build())
