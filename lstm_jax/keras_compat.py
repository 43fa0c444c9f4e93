"""Import of Keras 3 LSTM classifiers: `from_keras(keras_model) -> (model, variables)`.

Supported models are linear stacks
  Embedding(mask_zero=True|False) → LSTM | Bidirectional(LSTM) (one or more)
  → optional Dropout → Dense(softmax)
with the same units, layer kind and dropout rates in every recurrent layer.
`jax.nn.softmax(model.apply(variables, token_ids))` then equals
`keras_model.predict(token_ids)`. Anything the classifier cannot represent is
refused with a ValueError naming the layer and the option.

Keras is a test / reference dependency: it is imported only when this module
is used, on the JAX backend unless KERAS_BACKEND says otherwise.
"""

import os
from typing import Any, Union

import jax.numpy as jnp

from lstm_jax.model import LSTMClassifier

SUPPORTED = ("Embedding → LSTM / Bidirectional(LSTM) (one or more) → optional Dropout "
             "→ Dense(softmax)")


def _keras():
  os.environ.setdefault("KERAS_BACKEND", "jax")
  import keras
  return keras


def _fail(layer: Any, problem: str) -> ValueError:
  return ValueError(f"from_keras: layer {layer.name!r} ({type(layer).__name__}): {problem}. "
                    f"Supported models: {SUPPORTED}.")


def _value(variable: Any) -> jnp.ndarray:
  return jnp.asarray(_keras().ops.convert_to_numpy(variable.value), jnp.float32)


def _check_float32(layer: Any) -> None:
  """Refuses mixed-precision and quantized layers, and LoRA-adapted ones."""
  if layer.dtype_policy.name != "float32":
    raise _fail(layer, f"dtype policy {layer.dtype_policy.name!r} is not supported, use float32")
  if getattr(layer, "lora_enabled", False):
    raise _fail(layer, "LoRA-adapted weights are not supported")


def _lstm_options(layer: Any, expect_backwards: bool = False) -> dict[str, Any]:
  """Checks one Keras LSTM and returns the options the classifier needs."""
  keras = _keras()
  if not isinstance(layer, keras.layers.LSTM):
    raise _fail(layer, "only LSTM recurrent layers are supported")
  _check_float32(layer)
  config = layer.get_config()
  required = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
              "stateful": False, "return_state": False, "go_backwards": expect_backwards}
  for option, expected in required.items():
    if config[option] != expected:
      raise _fail(layer, f"{option}={config[option]!r} is not supported (need {expected!r})")
  return {"units": config["units"], "dropout": config["dropout"],
          "recurrent_dropout": config["recurrent_dropout"],
          "return_sequences": config["return_sequences"],
          "zero_output_for_mask": config["zero_output_for_mask"]}


def _lstm_params(layer: Any) -> dict[str, jnp.ndarray]:
  cell = layer.cell
  return {"kernel": _value(cell.kernel), "recurrent_kernel": _value(cell.recurrent_kernel),
          "bias": _value(cell.bias)}


def _recurrent_layer(layer: Any) -> tuple[bool, dict[str, Any], dict[str, Any]]:
  """Returns (bidirectional, options, params) for an LSTM or Bidirectional(LSTM)."""
  keras = _keras()
  if isinstance(layer, keras.layers.Bidirectional):
    _check_float32(layer)
    merge_mode = layer.get_config()["merge_mode"]
    if merge_mode != "concat":
      raise _fail(layer, f"merge_mode={merge_mode!r} is not supported (need 'concat')")
    forward = _lstm_options(layer.forward_layer)
    backward = _lstm_options(layer.backward_layer, expect_backwards=True)
    # Keras sets zero_output_for_mask from return_sequences on both directions.
    forward.pop("zero_output_for_mask")
    backward.pop("zero_output_for_mask")
    if forward != backward:
      raise _fail(layer, f"forward options {forward} differ from backward options {backward}")
    params = {"forward": _lstm_params(layer.forward_layer),
              "backward": _lstm_params(layer.backward_layer)}
    return True, forward, params
  options = _lstm_options(layer)
  if options.pop("zero_output_for_mask") and not options["return_sequences"]:
    raise _fail(layer, "zero_output_for_mask=True on the last LSTM is not supported")
  return False, options, _lstm_params(layer)


def _load(keras_model: Union[Any, str, os.PathLike]) -> Any:
  if isinstance(keras_model, (str, os.PathLike)):
    if not os.path.isfile(keras_model):
      raise FileNotFoundError(f"from_keras: no Keras model file at {os.fspath(keras_model)!r}")
    return _keras().saving.load_model(keras_model)
  return keras_model


def from_keras(keras_model: Union[Any, str, os.PathLike]) -> tuple[LSTMClassifier, dict[str, Any]]:
  """Converts a built Keras 3 LSTM classifier into an `LSTMClassifier`.

  Args:
    keras_model: a built `keras.Model` (Sequential or functional), or the path
      of a `.keras` file.

  Returns:
    (model, variables): the Flax module (float32, the default "fused" recurrence; use
    `model.clone(implementation=..., dtype=...)` to change them) and
    `{'params': ...}` holding the Keras weights.

  Raises:
    ValueError: naming the first layer or option that cannot be represented.
  """
  keras = _keras()
  keras_model = _load(keras_model)
  if not isinstance(keras_model, keras.Model):
    raise ValueError(f"from_keras expects a keras.Model or a .keras path, got {type(keras_model)}")
  layers = [layer for layer in keras_model.layers
            if not isinstance(layer, keras.layers.InputLayer)]
  if not layers:
    raise ValueError(f"from_keras: the model has no layers. Supported models: {SUPPORTED}.")
  if not isinstance(layers[0], keras.layers.Embedding):
    raise _fail(layers[0], "the first layer must be an Embedding")
  if not keras_model.built or not layers[0].weights:
    raise ValueError("from_keras: the Keras model is not built; give it a keras.Input or "
                     "call it on a batch first")

  embedding, *rest = layers
  _check_float32(embedding)
  params: dict[str, Any] = {"embedding": {"embedding": _value(embedding.embeddings)}}

  recurrent = []
  while rest and isinstance(rest[0], (keras.layers.LSTM, keras.layers.Bidirectional)):
    recurrent.append(rest.pop(0))
  if not recurrent:
    culprit = rest[0] if rest else embedding
    raise _fail(culprit, "expected an LSTM or Bidirectional(LSTM) after the Embedding")

  dropout = 0.0
  if rest and isinstance(rest[0], keras.layers.Dropout):
    layer = rest.pop(0)
    if layer.noise_shape is not None:
      raise _fail(layer, f"noise_shape={layer.noise_shape} is not supported")
    if rest and isinstance(rest[0], (keras.layers.LSTM, keras.layers.Bidirectional)):
      raise _fail(layer, "Dropout between recurrent layers is not supported (use the LSTM's "
                  "dropout option)")
    dropout = float(layer.rate)
  if not rest:
    raise _fail(recurrent[-1], "the model must end with Dense(softmax) after the LSTM stack")
  if not isinstance(rest[0], keras.layers.Dense):
    raise _fail(rest[0], "this layer type is not supported at this position")
  if len(rest) > 1:
    raise _fail(rest[1], "layers after the final Dense are not supported")
  dense = rest[0]
  _check_float32(dense)
  dense_config = dense.get_config()
  if dense_config["activation"] != "softmax":
    raise _fail(dense, f"activation={dense_config['activation']!r} is not supported "
                "(need 'softmax')")
  if not dense_config["use_bias"]:
    raise _fail(dense, "use_bias=False is not supported")
  params["dense"] = {"kernel": _value(dense.kernel), "bias": _value(dense.bias)}

  first_bidirectional, first_options = None, None
  for index, layer in enumerate(recurrent):
    bidirectional, options, layer_params = _recurrent_layer(layer)
    is_last = index == len(recurrent) - 1
    if options.pop("return_sequences") == is_last:
      raise _fail(layer, "every LSTM but the last must have return_sequences=True and the last "
                  "return_sequences=False")
    if first_options is None:
      first_bidirectional, first_options = bidirectional, options
    elif (bidirectional, options) != (first_bidirectional, first_options):
      raise _fail(layer, f"bidirectional={bidirectional}, {options} differ from the first "
                  f"recurrent layer's bidirectional={first_bidirectional}, {first_options}; "
                  "all recurrent layers must match")
    params[f"lstm_{index}"] = layer_params

  model = LSTMClassifier(
      vocab_size=int(embedding.input_dim),
      embed_dim=int(embedding.output_dim),
      num_classes=int(dense_config["units"]),
      units=int(first_options["units"]),
      num_layers=len(recurrent),
      bidirectional=bool(first_bidirectional),
      dropout=dropout,
      lstm_dropout=float(first_options["dropout"]),
      recurrent_dropout=float(first_options["recurrent_dropout"]),
      mask_zero=bool(embedding.mask_zero),
      embedding_trainable=bool(embedding.trainable),
  )
  return model, {"params": params}
