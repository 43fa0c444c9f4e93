"""Keras 3 recurrent classifiers in and out: `from_keras`, `to_keras`, `build_keras`.

The family both directions cover (a linear chain of layers, Sequential or
functional, `keras.Input` of fixed or `None` length):

  Embedding(mask_zero=True|False)
  → optional Dropout | SpatialDropout1D
  → LSTM | GRU | SimpleRNN, or Bidirectional(one of them, merge_mode
    concat|sum|mul|ave), one or more, cells mixed, each layer its own options,
    a Dropout allowed after each that returns sequences
  → optional GlobalMaxPooling1D | GlobalAveragePooling1D
  → optional Dropout
  → Dense(units, activation) (+ optional Dropout), zero or more
  → Dense(C, "softmax") | Dense(1, "sigmoid")

The recurrent layers Keras calls LSTM, GRU and SimpleRNN are the cells of
`recurrent.CELLS` (each cell's `keras_class`); a cell's options are the Keras
layer's arguments of the same names (GRU `reset_after`, SimpleRNN
`activation`), and its `keras_requires` the arguments it supports one value of.
`model.apply(variables, ids, method=model.probabilities)` then equals
`keras_model.predict(ids)`. Anything the classifier cannot represent is refused
with a ValueError naming the layer and the option.

Keras is a test / reference dependency: it is imported only when this module
is used, on the JAX backend unless KERAS_BACKEND says otherwise.
"""

import dataclasses
import os
from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from lstm_jax import recurrent as recurrent_lib
from lstm_jax.models import classifier as model_lib
from lstm_jax.models import poolings


def _cell_classes() -> list[type[recurrent_lib.Cell]]:
  """The registered cells Keras has a layer of."""
  return [cell for cell in map(recurrent_lib.CELLS.get, recurrent_lib.CELLS.names())
          if cell.keras_class]


# The Keras recurrent layers of the family, by name ("LSTM / GRU / SimpleRNN").
RECURRENT_LAYERS = " / ".join(cell.keras_class for cell in _cell_classes())

SUPPORTED = (f"Embedding → optional Dropout / SpatialDropout1D → {RECURRENT_LAYERS}, or "
             "Bidirectional of one (one or more, optional Dropout between) → optional "
             "GlobalMaxPooling1D / GlobalAveragePooling1D → optional Dropout → Dense "
             "(+ Dropout), zero or more → Dense(softmax) or Dense(1, sigmoid)")


def import_keras():
  """The `keras` module, on the JAX backend unless KERAS_BACKEND names another."""
  os.environ.setdefault("KERAS_BACKEND", "jax")
  import keras  # pylint: disable=g-import-not-at-top
  return keras


def _fail(layer: Any, problem: str) -> ValueError:
  return ValueError(f"from_keras: layer {layer.name!r} ({type(layer).__name__}): {problem}. "
                    f"Supported models: {SUPPORTED}.")


def _value(variable: Any) -> jnp.ndarray:
  return jnp.asarray(import_keras().ops.convert_to_numpy(variable.value), jnp.float32)


def _check_plain(layer: Any) -> None:
  """Refuses mixed precision, quantized and LoRA-adapted layers, regularizers
  and constraints (they change training, which the classifier would not)."""
  if layer.dtype_policy.name != "float32":
    raise _fail(layer, f"dtype policy {layer.dtype_policy.name!r} is not supported, use float32")
  if getattr(layer, "lora_enabled", False):
    raise _fail(layer, "LoRA-adapted weights are not supported")
  for option, value in layer.get_config().items():
    if option.endswith(("_regularizer", "_constraint")) and value is not None:
      raise _fail(layer, f"{option} is not supported")


def _rate(layer: Any) -> float:
  L = import_keras().layers
  if type(layer) not in (L.Dropout, L.SpatialDropout1D):  # pylint: disable=unidiomatic-typecheck
    raise _fail(layer, "only Dropout and SpatialDropout1D are supported")
  if layer.noise_shape is not None:
    raise _fail(layer, f"noise_shape={layer.noise_shape} is not supported")
  return float(layer.rate)


def _keras_cell(layer: Any) -> Optional[type[recurrent_lib.Cell]]:
  """The cell class of a Keras recurrent layer of the family, or None."""
  L = import_keras().layers
  return next((cell for cell in _cell_classes() if isinstance(layer, getattr(L, cell.keras_class))),
              None)


def _recurrent_options(layer: Any, expect_backwards: bool = False) -> dict[str, Any]:
  """Checks one Keras LSTM / GRU / SimpleRNN and returns what the classifier needs of it."""
  cell_class = _keras_cell(layer)
  if cell_class is None:
    raise _fail(layer, f"only {RECURRENT_LAYERS} recurrent layers are supported")
  _check_plain(layer)
  config = layer.get_config()
  required = {**cell_class.keras_requires, "stateful": False, "return_state": False,
              "go_backwards": expect_backwards}
  for option, expected in required.items():
    if config[option] != expected:
      raise _fail(layer, f"{option}={config[option]!r} is not supported (need {expected!r})")
  cell = cell_class(**{name: config[name] for name in cell_class.option_names()})
  try:
    cell.check()
  except ValueError as e:
    raise _fail(layer, str(e)) from None
  return {"units": config["units"], "cell": cell, "dropout": float(config["dropout"]),
          "recurrent_dropout": float(config["recurrent_dropout"]),
          "return_sequences": config["return_sequences"],
          "zero_output_for_mask": config["zero_output_for_mask"]}


def _recurrent_params(layer: Any) -> dict[str, jnp.ndarray]:
  cell = layer.cell
  return {"kernel": _value(cell.kernel), "recurrent_kernel": _value(cell.recurrent_kernel),
          "bias": _value(cell.bias)}


def _recurrent_layer(layer: Any) -> tuple[model_lib.Recurrent, bool, dict[str, Any]]:
  """(the layer, whether it returns sequences, its params) of a Keras recurrent
  layer of the family or a Bidirectional of one."""
  keras = import_keras()
  if isinstance(layer, keras.layers.Bidirectional):
    _check_plain(layer)
    merge_mode = layer.get_config()["merge_mode"]
    if merge_mode not in recurrent_lib.MERGE_MODES:
      raise _fail(layer, f"merge_mode={merge_mode!r} is not supported (need one of "
                  f"{', '.join(recurrent_lib.MERGE_MODES)})")
    forward = _recurrent_options(layer.forward_layer)
    backward = _recurrent_options(layer.backward_layer, expect_backwards=True)
    # Keras sets zero_output_for_mask from return_sequences on both directions.
    forward.pop("zero_output_for_mask")
    backward.pop("zero_output_for_mask")
    if forward != backward:
      raise _fail(layer, f"forward options {forward} differ from backward options {backward}")
    returns_sequences = forward.pop("return_sequences")
    params = {"forward": _recurrent_params(layer.forward_layer),
              "backward": _recurrent_params(layer.backward_layer)}
    return (model_lib.Recurrent(bidirectional=True, merge_mode=merge_mode, **forward),
            returns_sequences, params)
  options = _recurrent_options(layer)
  if options.pop("zero_output_for_mask") and not options["return_sequences"]:
    raise _fail(layer, f"zero_output_for_mask=True on the last {type(layer).__name__} is not "
                "supported")
  returns_sequences = options.pop("return_sequences")
  return model_lib.Recurrent(**options), returns_sequences, _recurrent_params(layer)


def _load(keras_model: Union[Any, str, os.PathLike]) -> Any:
  if isinstance(keras_model, (str, os.PathLike)):
    if not os.path.isfile(keras_model):
      raise FileNotFoundError(f"from_keras: no Keras model file at {os.fspath(keras_model)!r}")
    return import_keras().saving.load_model(keras_model)
  return keras_model


class _Chain:
  """The model's layers, read front to back."""

  def __init__(self, layers: list[Any]):
    self.layers = layers
    self.last = None

  def next_is(self, *kinds: type) -> bool:
    return bool(self.layers) and isinstance(self.layers[0], kinds)

  def take(self) -> Any:
    self.last = self.layers.pop(0)
    return self.last

  def optional_dropout(self) -> float:
    """The rate of a Dropout that comes next (0 if none)."""
    if not self.next_is(import_keras().layers.Dropout):
      return 0.0
    layer = self.take()
    if isinstance(layer, import_keras().layers.SpatialDropout1D):
      raise _fail(layer, "SpatialDropout1D is supported only after the Embedding")
    if self.next_is(import_keras().layers.Dropout):
      raise _fail(self.layers[0], "two Dropout layers in a row are not supported (use one)")
    return _rate(layer)


def _model_layers(keras_model: Any) -> list[Any]:
  """The layers of a built Keras model, input layers left out, the first an Embedding."""
  keras = import_keras()
  L = keras.layers
  if not isinstance(keras_model, keras.Model):
    raise ValueError(f"from_keras expects a keras.Model or a .keras path, got {type(keras_model)}")
  layers = [layer for layer in keras_model.layers if not isinstance(layer, L.InputLayer)]
  if not layers:
    raise ValueError(f"from_keras: the model has no layers. Supported models: {SUPPORTED}.")
  if not isinstance(layers[0], L.Embedding):
    raise _fail(layers[0], "the first layer must be an Embedding")
  if not keras_model.built or not layers[0].weights:
    raise ValueError("from_keras: the Keras model is not built; give it a keras.Input or "
                     "call it on a batch first")
  return layers


def _read_embedding(chain: _Chain, params: dict[str, Any]) -> dict[str, Any]:
  """The Embedding and the Dropout after it: the classifier's embedding attributes."""
  L = import_keras().layers
  embedding = chain.take()
  _check_plain(embedding)
  params["embedding"] = {"embedding": _value(embedding.embeddings)}
  spatial = chain.next_is(L.SpatialDropout1D)
  embedding_dropout = _rate(chain.take()) if chain.next_is(L.Dropout) else 0.0
  if chain.next_is(L.Dropout):
    raise _fail(chain.layers[0], "two Dropout layers in a row are not supported (use one)")
  return {"vocab_size": int(embedding.input_dim), "embed_dim": int(embedding.output_dim),
          "embedding_dropout": embedding_dropout,
          "spatial_dropout": spatial and embedding_dropout > 0,
          "mask_zero": bool(embedding.mask_zero),
          "embedding_trainable": bool(embedding.trainable)}


def _read_recurrent_stack(chain: _Chain, params: dict[str, Any]
                          ) -> tuple[list[model_lib.Recurrent], list[tuple[Any, bool]]]:
  """The recurrent layers (each with the Dropout after it): their specs, and each
  Keras layer with whether it returns sequences."""
  L = import_keras().layers
  kinds = tuple(getattr(L, cell.keras_class) for cell in _cell_classes()) + (L.Bidirectional,)
  recurrent, returns = [], []
  while chain.next_is(*kinds):
    layer = chain.take()
    spec, returns_sequences, layer_params = _recurrent_layer(layer)
    params[model_lib.layer_name(spec, len(recurrent))] = layer_params
    dropout_after = 0.0
    if returns_sequences and chain.next_is(L.Dropout):
      dropout_after = chain.optional_dropout()
    recurrent.append(dataclasses.replace(spec, dropout_after=dropout_after))
    returns.append((layer, returns_sequences))
  if not recurrent:
    culprit = chain.layers[0] if chain.layers else chain.last
    raise _fail(culprit, f"expected a recurrent layer ({RECURRENT_LAYERS}) or a Bidirectional "
                "of one after the Embedding")
  return recurrent, returns


def _read_pooling(chain: _Chain) -> str:
  """The pooling after the recurrent stack (`model.POOLINGS`); "last" if none."""
  L = import_keras().layers
  pooling = "last"
  for name, entry in poolings.POOLINGS.items():
    if entry.keras_layer and chain.next_is(getattr(L, entry.keras_layer)):
      layer = chain.take()
      config = layer.get_config()
      if config.get("data_format", "channels_last") != "channels_last" or config.get("keepdims"):
        raise _fail(layer, "only data_format='channels_last' without keepdims is supported")
      pooling = name
  return pooling


def _check_return_sequences(returns: list[tuple[Any, bool]], pooling: str) -> None:
  for index, (layer, returns_sequences) in enumerate(returns):
    should = model_lib.returns_sequences(index, len(returns), pooling)
    if returns_sequences != should:
      raise _fail(layer, "every recurrent layer but the last must have return_sequences=True, "
                  "and the last one return_sequences=True only when a "
                  "GlobalMax/AveragePooling1D follows")


def _read_head(chain: _Chain, params: dict[str, Any]) -> dict[str, Any]:
  """The Dense layers (each with the Dropout after it) to the end: the
  classifier's head attributes (hidden, output, num_classes)."""
  L = import_keras().layers
  dense_layers = []
  while chain.next_is(L.Dense):
    dense = chain.take()
    _check_plain(dense)
    config = dense.get_config()
    if not config["use_bias"]:
      raise _fail(dense, "use_bias=False is not supported")
    dense_layers.append((dense, config, chain.optional_dropout()))
  if chain.layers:
    raise _fail(chain.layers[0], "this layer type is not supported at this position")
  if not dense_layers:
    raise _fail(chain.last, "the model must end with Dense(softmax) or Dense(1, sigmoid)")
  *hidden_layers, (output_layer, output_config, trailing_dropout) = dense_layers
  if trailing_dropout:
    raise _fail(chain.last, "a Dropout after the output Dense is not supported")

  hidden = []
  for index, (dense, config, dropout_after) in enumerate(hidden_layers):
    if config["activation"] not in model_lib.ACTIVATIONS:
      raise _fail(dense, f"activation={config['activation']!r} is not supported (need one "
                  f"of {', '.join(model_lib.ACTIVATIONS)})")
    hidden.append(model_lib.Hidden(int(config["units"]), config["activation"], dropout_after))
    params[f"hidden_{index}"] = {"kernel": _value(dense.kernel), "bias": _value(dense.bias)}
  activation, units = output_config["activation"], int(output_config["units"])
  if activation == "softmax" and units >= 2:
    num_classes = units
  elif activation == "sigmoid" and units == 1:
    num_classes = 2
  else:
    raise _fail(output_layer, f"activation={activation!r} with units={units} is not "
                "supported as the output (need 'softmax' with 2 or more units, or 'sigmoid' "
                "with 1)")
  params["dense"] = {"kernel": _value(output_layer.kernel), "bias": _value(output_layer.bias)}
  return {"hidden": tuple(hidden), "output": activation, "num_classes": num_classes}


def from_keras(keras_model: Union[Any, str, os.PathLike]
               ) -> tuple[model_lib.LSTMClassifier, dict[str, Any]]:
  """Converts a built Keras 3 recurrent classifier into an `LSTMClassifier`.

  Args:
    keras_model: a built `keras.Model` (Sequential or functional, a linear
      chain of layers), or the path of a `.keras` file.

  Returns:
    (model, variables): the Flax module (float32, the default "fused" recurrence; use
    `model.clone(implementation=..., dtype=...)` to change them) and
    `{'params': ...}` holding the Keras weights.

  Raises:
    ValueError: naming the first layer or option that cannot be represented.
  """
  chain = _Chain(_model_layers(_load(keras_model)))
  params: dict[str, Any] = {}
  embedding = _read_embedding(chain, params)
  recurrent, returns = _read_recurrent_stack(chain, params)
  pooling = _read_pooling(chain)
  _check_return_sequences(returns, pooling)
  # A Dropout after the last layer's sequence, before pooling, stays with that layer.
  head_dropout = chain.optional_dropout()
  model = model_lib.LSTMClassifier(**embedding, **_read_head(chain, params),
                                   recurrent=tuple(recurrent), pooling=pooling,
                                   head_dropout=head_dropout)
  model.check()
  return model, {"params": params}


def build_keras(model: model_lib.LSTMClassifier, *, input_length: Optional[int] = None,
                embedding_matrix: Optional[np.ndarray] = None) -> Any:
  """The Keras twin of `model`, with Keras's own initial weights (uncompiled).

  Args:
    model: the classifier.
    input_length: T of `keras.Input((T,))`; None accepts any length.
    embedding_matrix: <float>[V, E] initial embedding (e.g. GloVe), or None
      for Keras's uniform initialiser.

  Returns:
    A functional `keras.Model` from int32 token ids to what `model.probabilities`
    returns.
  """
  model.check()
  for index, spec in enumerate(model.recurrent):
    if not spec.cell.keras_class:
      raise ValueError(f"build_keras: recurrent layer {index} is a {spec.cell.name!r} cell, "
                       "which Keras has no layer of")
  keras = import_keras()
  L = keras.layers
  inputs = keras.Input((input_length,), dtype="int32", name="token_ids")
  initializer = ("uniform" if embedding_matrix is None
                 else keras.initializers.Constant(np.asarray(embedding_matrix)))
  x = L.Embedding(model.vocab_size, model.embed_dim, mask_zero=model.mask_zero,
                  embeddings_initializer=initializer, trainable=model.embedding_trainable,
                  name="embedding")(inputs)
  if model.embedding_dropout:
    dropout = L.SpatialDropout1D if model.spatial_dropout else L.Dropout
    x = dropout(model.embedding_dropout, name="embedding_dropout")(x)
  for index, spec in enumerate(model.recurrent):
    returns_sequences = model_lib.returns_sequences(index, len(model.recurrent), model.pooling)
    name = model_lib.layer_name(spec, index)
    # The cell's options are the Keras layer's arguments of the same names.
    layer = getattr(L, spec.cell.keras_class)(
        spec.units, return_sequences=returns_sequences, dropout=spec.dropout,
        recurrent_dropout=spec.recurrent_dropout, name=name, **spec.cell.options())
    if spec.bidirectional:
      layer = L.Bidirectional(layer, merge_mode=spec.merge_mode, name=f"bidirectional_{index}")
    x = layer(x)
    if spec.dropout_after:
      x = L.Dropout(spec.dropout_after, name=f"{name}_dropout")(x)
  pooling = poolings.POOLINGS.get(model.pooling)
  if pooling.needs_sequence:
    x = getattr(L, pooling.keras_layer)(name="pooling")(x)
  if model.head_dropout:
    x = L.Dropout(model.head_dropout, name="head_dropout")(x)
  for index, spec in enumerate(model.hidden):
    x = L.Dense(spec.units, activation=spec.activation, name=f"hidden_{index}")(x)
    if spec.dropout_after:
      x = L.Dropout(spec.dropout_after, name=f"hidden_{index}_dropout")(x)
  outputs = L.Dense(model.head.units(model.num_classes), activation=model.output,
                    name="dense")(x)
  return keras.Model(inputs, outputs)


def to_keras(model: model_lib.LSTMClassifier, variables: Any) -> Any:
  """A Keras model computing what `model` computes with `variables`.

  Args:
    model: the classifier.
    variables: `{'params': ...}` of `model` (any float dtype; stored as float32).

  Returns:
    A built `keras.Model` (uncompiled, `keras.Input((None,), int32)`) whose
    `predict(ids)` equals `model.apply(variables, ids, method=model.probabilities)`;
    `from_keras` of it gives `variables` back exactly.
  """
  keras_model = build_keras(model)
  params = jax.tree.map(lambda leaf: np.asarray(leaf, np.float32), dict(variables["params"]))

  def cell_weights(p: dict[str, Any]) -> list[np.ndarray]:
    # Keras's order for every cell of the family.
    return [p["kernel"], p["recurrent_kernel"], p["bias"]]

  keras_model.get_layer("embedding").set_weights([params["embedding"]["embedding"]])
  for index, spec in enumerate(model.recurrent):
    name = model_lib.layer_name(spec, index)
    p = params[name]
    if spec.bidirectional:
      keras_model.get_layer(f"bidirectional_{index}").set_weights(
          cell_weights(p["forward"]) + cell_weights(p["backward"]))
    else:
      keras_model.get_layer(name).set_weights(cell_weights(p))
  for name in [f"hidden_{index}" for index in range(len(model.hidden))] + ["dense"]:
    keras_model.get_layer(name).set_weights([params[name]["kernel"], params[name]["bias"]])
  return keras_model
