"""Equivalence with Keras 3 (JAX backend, float32, CPU).

Random small cases vary batch, time, vocabulary, embedding width, units,
classes, depth, cells (LSTM, GRU both ways, SimpleRNN tanh and relu, mixed in
a stack), direction, masking and padding side. Each case builds its Keras
model once, with random weights, and imports it with `from_keras`. The default
suite runs two of them; `pytest -m keras` the other `NUM_CASES` and `NUM_WIDE_CASES` more.
"""

import dataclasses
import functools
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from keras_testing import KERAS_WARNINGS
from keras_testing import keras_on_jax

keras = keras_on_jax()

from lstm_jax import keras_compat  # noqa: E402
from lstm_jax import recurrent as recurrent_lib  # noqa: E402
from lstm_jax.models import classifier as model_lib  # noqa: E402
from lstm_jax.models import heads  # noqa: E402
from lstm_jax.models import poolings  # noqa: E402
from lstm_jax.optim import optimizers  # noqa: E402

pytestmark = KERAS_WARNINGS

NUM_CASES = 16
NUM_WIDE_CASES = 48
ACTIVATION_NAMES = ("relu", "tanh", "gelu", "elu", "selu", "sigmoid", "linear")


@dataclasses.dataclass(frozen=True)
class Case:
  """A random member of the family. Dropout rates are there to be imported; the
  comparisons run without training, where dropout does nothing."""
  seed: int
  batch: int
  time: int
  vocab: int
  embed: int
  classes: int
  mask_zero: bool
  padding: str
  # (units, bidirectional, merge_mode, dropout after the layer) per recurrent layer.
  layers: tuple[tuple[int, bool, str, float], ...]
  pooling: str  # "last", "max" or "average"
  # (units, activation, dropout after) per hidden Dense.
  hidden: tuple[tuple[int, str, float], ...] = ()
  output: str = "softmax"
  embedding_dropout: Optional[str] = None  # "Dropout", "SpatialDropout1D" or None
  head_dropout: float = 0.0
  # The cell of each recurrent layer; none given: LSTMs.
  cells: tuple[recurrent_lib.Cell, ...] = ()

  def cell(self, index: int) -> recurrent_lib.Cell:
    return self.cells[index] if self.cells else recurrent_lib.LSTMCell()


# Each layer of a random case takes the next of these: every cell and option,
# the LSTM twice as often, neighbours in a stack different.
FAMILY_CELLS = (recurrent_lib.LSTMCell(), recurrent_lib.GRUCell(), recurrent_lib.SimpleRNNCell(),
                recurrent_lib.LSTMCell(), recurrent_lib.GRUCell(reset_after=False),
                recurrent_lib.SimpleRNNCell(activation="relu"))


def make_case(seed: int) -> Case:
  """Sizes and layers are random; the output, pooling, hidden activations,
  masking and padding side cycle so that every one of them appears."""
  rng = np.random.default_rng(seed)
  pooling = ("last", "max", "average")[seed % 3]
  depth = int(rng.integers(1, 4))
  layers = tuple(
      (int(rng.integers(1, 6)), bool(rng.integers(2)), str(rng.choice(list(recurrent_lib.MERGE_MODES))),
       0.1 if rng.random() < 0.3 and (index < depth - 1 or pooling != "last") else 0.0)
      for index in range(depth))
  hidden = tuple((int(rng.integers(1, 6)),
                  ACTIVATION_NAMES[(seed + index) % len(ACTIVATION_NAMES)],
                  0.2 if rng.random() < 0.5 else 0.0)
                 for index in range((seed // 3) % 3))
  output = "sigmoid" if seed % 4 == 3 else "softmax"
  return Case(
      seed=seed,
      batch=int(rng.integers(1, 5)),
      time=int(rng.integers(1, 7)),
      vocab=int(rng.integers(3, 13)),
      embed=int(rng.integers(1, 7)),
      classes=2 if output == "sigmoid" else int(rng.integers(2, 5)),
      mask_zero=seed % 5 != 4,
      padding="pre" if (seed // 2) % 2 == 0 else "post",
      layers=layers,
      pooling=pooling,
      hidden=hidden,
      output=output,
      embedding_dropout=(None, "Dropout", "SpatialDropout1D")[seed % 3 if seed % 2 else 0],
      head_dropout=0.25 if seed % 5 == 1 else 0.0,
      cells=tuple(FAMILY_CELLS[(seed // 2 + index) % len(FAMILY_CELLS)] for index in range(depth)),
  )


def padded_ids(case: Case, rng: np.random.Generator) -> np.ndarray:
  """<int32>[B, T] ids in [1, V) with random lengths, padded with 0. Lengths
  start at 0, except under masked average pooling, where Keras divides a row
  of padding alone by 0 (the classifier gives 0 there)."""
  shortest = 1 if case.pooling == "average" and case.mask_zero else 0
  ids = np.zeros((case.batch, case.time), np.int32)
  for row, length in enumerate(rng.integers(shortest, case.time + 1, case.batch)):
    tokens = rng.integers(1, case.vocab, length)
    if case.padding == "pre":
      ids[row, case.time - length:] = tokens
    else:
      ids[row, :length] = tokens
  return ids


def random_labels(case: Case, rng: np.random.Generator) -> np.ndarray:
  return rng.integers(0, case.classes, case.batch).astype(np.int32)


def randomize_weights(layer_or_model: Any, rng: np.random.Generator) -> None:
  layer_or_model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                              for w in layer_or_model.get_weights()])


def keras_classifier(case: Case) -> Any:
  """The Keras model of a case as a Keras user writes it, built (without
  symbolic tracing, which is slow)."""
  keras.utils.set_random_seed(case.seed)
  L = keras.layers
  layers = [L.Embedding(case.vocab, case.embed, mask_zero=case.mask_zero)]
  if case.embedding_dropout:
    layers.append(getattr(L, case.embedding_dropout)(0.3))
  for index, (units, bidirectional, merge_mode, dropout_after) in enumerate(case.layers):
    returns_sequences = index < len(case.layers) - 1 or case.pooling != "last"
    cell = case.cell(index)
    layer = getattr(L, cell.keras_class)(units, return_sequences=returns_sequences,
                                         **cell.options())
    layers.append(L.Bidirectional(layer, merge_mode=merge_mode) if bidirectional else layer)
    if dropout_after:
      layers.append(L.Dropout(dropout_after))
  if case.pooling != "last":
    layers.append(getattr(L, poolings.POOLINGS.get(case.pooling).keras_layer)())
  if case.head_dropout:
    layers.append(L.Dropout(case.head_dropout))
  for units, activation, dropout_after in case.hidden:
    layers.append(L.Dense(units, activation=activation))
    if dropout_after:
      layers.append(L.Dropout(dropout_after))
  layers.append(L.Dense(1, activation="sigmoid") if case.output == "sigmoid"
                else L.Dense(case.classes, activation="softmax"))
  keras_model = keras.Sequential(layers)
  keras_model.build((None, case.time))
  return keras_model


def expected_model(case: Case) -> model_lib.LSTMClassifier:
  """The classifier a case's Keras model is, written out by hand."""
  return model_lib.LSTMClassifier(
      vocab_size=case.vocab, embed_dim=case.embed, num_classes=case.classes,
      recurrent=tuple(
          model_lib.Recurrent(units, cell=case.cell(index), bidirectional=bidirectional,
                              merge_mode=merge_mode if bidirectional else "concat",
                              dropout_after=dropout_after)
          for index, (units, bidirectional, merge_mode, dropout_after) in enumerate(case.layers)),
      pooling=case.pooling,
      hidden=tuple(model_lib.Hidden(*layer) for layer in case.hidden),
      output=case.output,
      embedding_dropout=0.3 if case.embedding_dropout else 0.0,
      spatial_dropout=case.embedding_dropout == "SpatialDropout1D",
      head_dropout=case.head_dropout,
      mask_zero=case.mask_zero)


def keras_loss(probabilities: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean cross-entropy of Keras's probabilities: categorical for [B, C],
  binary for the [B, 1] of a sigmoid."""
  if probabilities.shape[1] == 1:
    p, y = probabilities[:, 0], labels.astype(probabilities.dtype)
    return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
  return -jnp.mean(jnp.log(jnp.take_along_axis(probabilities, labels[:, None], axis=1)))


def keras_probabilities_and_gradients(keras_model: Any, ids: np.ndarray, labels: np.ndarray
                                      ) -> tuple[np.ndarray, list[jax.Array]]:
  """Keras's probabilities, and the gradients of its mean cross-entropy in
  `keras_model.trainable_variables` order, from one jitted `stateless_call`."""
  non_trainable = [v.value for v in keras_model.non_trainable_variables]

  def loss(trainable):
    probs, _ = keras_model.stateless_call(trainable, non_trainable, ids, training=False)
    return keras_loss(probs, labels), probs

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
  labels = random_labels(case, rng)
  model, variables = keras_compat.from_keras(keras_model)
  return Built(case, keras_model, ids, labels,
               *keras_probabilities_and_gradients(keras_model, ids, labels), model, variables)


@functools.cache
def ours(seed: int) -> tuple[np.ndarray, Any]:
  """Our probabilities and gradients for a case, from one jitted function."""
  b = built(seed)

  def loss(params):
    logits = b.model.apply({"params": params}, b.ids)
    return mean_loss(b.model, logits, b.labels), b.model.head.probabilities(logits)

  grads, probs = jax.jit(jax.grad(loss, has_aux=True))(b.variables["params"])
  return np.asarray(probs), grads


def to_numpy(x: Any) -> np.ndarray:
  return np.asarray(keras.ops.convert_to_numpy(x))


def mean_loss(model: model_lib.LSTMClassifier, logits: jax.Array, labels: jax.Array
              ) -> jax.Array:
  return model.head.losses(logits, labels).mean()


def keras_weights(recurrent_layer: Any) -> dict[str, np.ndarray]:
  cell = recurrent_layer.cell
  return {name: to_numpy(getattr(cell, name).value)
          for name in ("kernel", "recurrent_kernel", "bias")}


def assert_relatively_close(got: Any, want: Any, rtol: float) -> None:
  """Each leaf within `rtol` of the leaf's largest magnitude."""

  def check(path, g, w):
    w = np.asarray(w)
    np.testing.assert_allclose(g, w, atol=rtol * np.abs(w).max() + 1e-9, rtol=0,
                               err_msg=jax.tree_util.keystr(path))

  jax.tree_util.tree_map_with_path(check, got, want)


# Two cases in the default suite (between them the LSTM, the GRU and the SimpleRNN,
# bidirectional and not, pre- and post-padding, the last state and average pooling,
# softmax and sigmoid; each cell's every option by default in the layer cases below); the other
# `NUM_CASES` and `NUM_WIDE_CASES` more in the Keras suite (`pytest -m keras`).
DEFAULT_CASES = (0, 11)
CASES = pytest.mark.parametrize("seed", [
    seed if seed in DEFAULT_CASES else pytest.param(seed, marks=pytest.mark.keras)
    for seed in range(NUM_CASES + NUM_WIDE_CASES)])


@CASES
def test_imported_architecture_matches_the_keras_model(seed):
  b = built(seed)
  assert b.model == expected_model(b.case)


@CASES
def test_probabilities_match_keras(seed):
  b = built(seed)
  probs, _ = ours(seed)
  assert probs.shape == b.keras_probs.shape
  np.testing.assert_allclose(probs, b.keras_probs, atol=1e-5, rtol=0)
  by_method = b.model.apply(b.variables, b.ids, method=b.model.probabilities)
  np.testing.assert_allclose(by_method, probs, atol=1e-7, rtol=0)


def test_the_random_cases_cover_the_family():
  cases = [make_case(seed) for seed in range(NUM_CASES)]
  layers = [layer for case in cases for layer in case.layers]
  assert {case.pooling for case in cases} == {"last", "max", "average"}
  assert {case.output for case in cases} == {"softmax", "sigmoid"}
  assert {case.embedding_dropout for case in cases} == {None, "Dropout", "SpatialDropout1D"}
  assert {merge for _, bidirectional, merge, _ in layers if bidirectional} == set(
      recurrent_lib.MERGE_MODES)
  assert {activation for case in cases for _, activation, _ in case.hidden} == set(
      ACTIVATION_NAMES)
  assert any(len({units for units, *_ in case.layers}) > 1 for case in cases)
  assert {len(case.layers) for case in cases} == {1, 2, 3}
  assert {(case.mask_zero, case.padding) for case in cases} == {
      (mask, padding) for mask in (True, False) for padding in ("pre", "post")}


def test_the_random_cases_cover_every_cell():
  cases = [make_case(seed) for seed in range(NUM_CASES)]
  layers = [(case.cell(index), bidirectional)
            for case in cases for index, (_, bidirectional, _, _) in enumerate(case.layers)]
  assert {cell for cell, _ in layers} == set(FAMILY_CELLS)
  assert {cell for cell, bidirectional in layers if bidirectional} == set(FAMILY_CELLS)
  assert {case.cells[0].name for case in cases if len(case.layers) == 1} == {"gru", "simple_rnn"}
  assert {case.pooling for case in cases if len(set(case.cells)) > 1} == {
      "last", "max", "average"}
  assert {(case.cells[-1].name, case.mask_zero, case.padding) for case in cases} >= {
      (name, True, padding) for name in ("gru", "simple_rnn") for padding in ("pre", "post")}


# (layer, go_backwards, return_sequences, padding); padding None means no mask.
LAYER_CASES = [
    ("rnn", False, True, "pre"),
    ("rnn", False, False, "post"),
    ("rnn", True, True, "pre"),
    ("rnn", True, True, "post"),
    ("rnn", True, False, "post"),
    ("rnn", True, True, None),
    ("bidirectional", False, True, "pre"),
    ("bidirectional", False, True, "post"),
    ("bidirectional", False, False, "post"),
    ("bidirectional", False, True, None),
]
LAYER_CELLS = {"lstm": recurrent_lib.LSTMCell(), "gru": recurrent_lib.GRUCell(),
               "gru_reset_before": recurrent_lib.GRUCell(reset_after=False),
               "simple_rnn": recurrent_lib.SimpleRNNCell(),
               "simple_rnn_relu": recurrent_lib.SimpleRNNCell(activation="relu")}
# Every case for the LSTM and, by default, these for the other cells (all with -m keras).
DEFAULT_LAYER_CASES = (1, 2, 7)


def _layer_case_params():
  for cell in LAYER_CELLS:
    for index, layer_case in enumerate(LAYER_CASES):
      marks = () if cell == "lstm" or index in DEFAULT_LAYER_CASES else pytest.mark.keras
      yield pytest.param(cell, index, marks=marks,
                         id="-".join([cell, *map(str, layer_case)]))


@pytest.mark.parametrize("cell_name, index", list(_layer_case_params()))
def test_layer_outputs_and_final_states_match_keras(cell_name, index):
  kind, go_backwards, return_sequences, padding = LAYER_CASES[index]
  cell = LAYER_CELLS[cell_name]
  case = dataclasses.replace(make_case(index), padding=padding or "pre")
  units = case.layers[0][0]
  rng = np.random.default_rng(2000 + index)
  x = rng.normal(size=(case.batch, case.time, case.embed)).astype(np.float32)
  mask = None if padding is None else padded_ids(case, rng) != 0
  # Zero initialisers skip Keras's slow orthogonal init; the weights are randomized below.
  keras_rnn = getattr(keras.layers, cell.keras_class)(
      units, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards,
      kernel_initializer="zeros", recurrent_initializer="zeros", **cell.options())
  if kind == "bidirectional":
    keras_layer = keras.layers.Bidirectional(keras_rnn)
    layer = recurrent_lib.Bidirectional(units, cell=cell, return_sequences=return_sequences)
  else:
    keras_layer = keras_rnn
    layer = recurrent_lib.RNN(units, cell=cell, return_sequences=return_sequences,
                              go_backwards=go_backwards)
  keras_layer.build(x.shape)
  randomize_weights(keras_layer, rng)
  want, *want_states = [to_numpy(t) for t in keras_layer(x, mask=mask)]

  if kind == "bidirectional":
    params = {"forward": keras_weights(keras_layer.forward_layer),
              "backward": keras_weights(keras_layer.backward_layer)}
  else:
    params = keras_weights(keras_layer)
  got, got_state = jax.jit(layer.apply)({"params": params}, x, mask)
  # Keras order: h (and an LSTM's c) of the forward direction, then of the backward one.
  got_states = jax.tree.leaves(got_state)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
  assert len(got_states) == len(want_states)
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


TRAINING_CASE = Case(seed=7, batch=6, time=5, vocab=11, embed=4, classes=3, mask_zero=True,
                     padding="pre", layers=((3, False, "concat", 0.0),) * 2, pooling="last")
TRAINING_CASES = {
    "stack-clipnorm": ("clipnorm", "per_variable_norm", TRAINING_CASE),
    "bidirectional-global_clipnorm": ("global_clipnorm", "global_norm", dataclasses.replace(
        TRAINING_CASE, layers=((3, True, "concat", 0.0),), padding="post")),
    "pooling-hidden-sigmoid": ("clipnorm", "per_variable_norm", dataclasses.replace(
        TRAINING_CASE, classes=2, output="sigmoid", pooling="average",
        layers=((4, True, "sum", 0.0), (3, False, "concat", 0.0)),
        hidden=((5, "relu", 0.0),))),
    "max-pooling-unmasked": ("global_clipnorm", "global_norm", dataclasses.replace(
        TRAINING_CASE, mask_zero=False, pooling="max", hidden=((4, "tanh", 0.0),))),
    "gru-into-simple_rnn": ("clipnorm", "per_variable_norm", dataclasses.replace(
        TRAINING_CASE, cells=(recurrent_lib.GRUCell(), recurrent_lib.SimpleRNNCell()))),
    "bidirectional-gru-reset_before-relu-rnn": ("global_clipnorm", "global_norm",
                                                dataclasses.replace(
        TRAINING_CASE, layers=((3, True, "ave", 0.0), (3, False, "concat", 0.0)),
        padding="post", cells=(recurrent_lib.GRUCell(reset_after=False),
                               recurrent_lib.SimpleRNNCell(activation="relu")))),
}


# Two curves in the default suite, the others in the Keras suite.
DEFAULT_TRAINING_CASES = ("stack-clipnorm", "gru-into-simple_rnn")


@pytest.mark.parametrize("name", [
    name if name in DEFAULT_TRAINING_CASES else pytest.param(name, marks=pytest.mark.keras)
    for name in TRAINING_CASES])
def test_training_loss_curve_matches_keras_train_on_batch(name):
  keras_clip, clip_mode, case = TRAINING_CASES[name]
  rng = np.random.default_rng(case.seed)
  batches = [(padded_ids(case, rng), random_labels(case, rng)) for _ in range(3)] * 3
  keras_model = keras_classifier(case)
  model, variables = keras_compat.from_keras(keras_model)  # the initial weights
  keras_model.compile(optimizer=keras.optimizers.Adam(0.02, **{keras_clip: 0.05}),
                      loss=heads.HEADS.get(case.output).keras_loss)
  keras_losses = [float(keras_model.train_on_batch(ids, labels[:, None] if case.output ==
                                                   "sigmoid" else labels))
                  for ids, labels in batches]

  tx = optimizers.make_optimizer(learning_rate=0.02, clip_mode=clip_mode, clip_norm=0.05, optimizer="keras_adam")

  @jax.jit
  def train_step(params, opt_state, ids, labels):
    loss, grads = jax.value_and_grad(
        lambda p: mean_loss(model, model.apply({"params": p}, ids), labels))(params)
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
  np.testing.assert_allclose(model.apply(variables, b.ids, method=model.probabilities), want,
                             atol=1e-5)


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
    "conv": (lambda: _sequential(L.Conv1D(3, 2, name="bad"), _dense()),
             r"Conv1D\): expected a recurrent layer \(LSTM / GRU / SimpleRNN\)"),
    "gru_hard_sigmoid": (lambda: _sequential(L.GRU(3, recurrent_activation="hard_sigmoid",
                                                   name="bad"), _dense()),
                         r"GRU\): recurrent_activation='hard_sigmoid' is not supported "
                         r"\(need 'sigmoid'\)"),
    "gru_no_bias": (lambda: _sequential(L.GRU(3, use_bias=False, name="bad"), _dense()),
                    r"GRU\): use_bias=False"),
    "simple_rnn_sigmoid": (lambda: _sequential(L.SimpleRNN(3, activation="sigmoid", name="bad"),
                                               _dense()),
                           r"SimpleRNN\): simple_rnn activation must be one of tanh, relu, "
                           r"got 'sigmoid'"),
    "simple_rnn_go_backwards": (lambda: _sequential(L.SimpleRNN(3, go_backwards=True, name="bad"),
                                                    _dense()), r"go_backwards=True"),
    "bidirectional_of_two_cells": (lambda: _sequential(L.Bidirectional(
        L.LSTM(3), backward_layer=L.GRU(3, go_backwards=True), name="bad"), _dense()),
                                   r"Bidirectional\): forward options .* differ"),
    "relu": (lambda: _sequential(L.LSTM(3, activation="relu", name="bad"), _dense()),
             r"activation='relu'"),
    "no_bias": (lambda: _sequential(L.LSTM(3, use_bias=False, name="bad"), _dense()),
                r"use_bias=False"),
    "go_backwards": (lambda: _sequential(L.LSTM(3, go_backwards=True, name="bad"), _dense()),
                     r"go_backwards=True"),
    "stateful": (lambda: _sequential(L.LSTM(3, stateful=True, name="bad"), _dense(),
                                     batch_size=2), r"stateful=True"),
    "regularizer": (lambda: _sequential(L.LSTM(3, kernel_regularizer="l2", name="bad"),
                                        _dense()), r"kernel_regularizer"),
    "sequences_into_dense": (lambda: _sequential(L.LSTM(3, return_sequences=True, name="bad"),
                                                 _dense()), r"return_sequences"),
    "pooling_keepdims": (lambda: _sequential(L.LSTM(3, return_sequences=True),
                                             L.GlobalAveragePooling1D(keepdims=True, name="bad"),
                                             _dense()), r"keepdims"),
    "two_dropouts": (lambda: _sequential(L.Dropout(0.1), L.Dropout(0.1, name="bad"),
                                         L.LSTM(3), _dense()), r"two Dropout layers in a row"),
    "spatial_dropout_later": (lambda: _sequential(
        L.LSTM(3, return_sequences=True), L.SpatialDropout1D(0.1, name="bad"), L.LSTM(3),
        _dense()), r"SpatialDropout1D is supported only after the Embedding"),
    "gaussian_dropout": (lambda: _sequential(L.LSTM(3), L.GaussianDropout(0.1, name="bad"),
                                             _dense()), r"not supported at this position"),
    "hidden_softmax": (lambda: _sequential(L.LSTM(3), L.Dense(4, activation="softmax",
                                                              name="bad"), _dense()),
                       r"activation='softmax' is not supported"),
    "multi_unit_sigmoid": (lambda: _sequential(L.LSTM(3), L.Dense(3, activation="sigmoid",
                                                                  name="bad")),
                           r"activation='sigmoid' with units=3"),
    "dropout_after_output": (lambda: _sequential(L.LSTM(3), _dense(), L.Dropout(0.1, name="bad")),
                             r"a Dropout after the output Dense"),
    "bfloat16": (lambda: _sequential(L.LSTM(3, dtype="mixed_bfloat16", name="bad"), _dense()),
                 r"dtype policy 'mixed_bfloat16'"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_models_name_the_layer_and_option(name):
  build, message = UNSUPPORTED[name]
  with pytest.raises(ValueError, match=r"layer 'bad' .*" + message):
    keras_compat.from_keras(build())
