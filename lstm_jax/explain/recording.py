"""A classifier run with its recurrent layers' inside recorded, step by step.

`apply` runs a classifier on token ids and records, for every recurrent layer,
the gate activations and the state after every step. They are recomputed with
the reference recurrence, `recurrent.scan.scan(..., with_gates=True)` (the
definition of what a cell computes), from the very inputs and parameters the
layer was called with, which `flax.linen.intercept_methods` hands over: the
layers run their own code path unchanged, whatever their implementation, and a
test checks that the recomputed outputs are the layer's.

`apply` also returns the inputs of the first recurrent layer (the embedded
tokens, as the layer reads them) and can run the model on other such inputs in
their place: gradients and attributions with respect to the embeddings are
taken through that.
"""

import dataclasses
from typing import Any, Optional

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from lstm_jax import recurrent as recurrent_lib
from lstm_jax.models import classifier as model_lib
from lstm_jax.recurrent import inputs as inputs_lib
from lstm_jax.recurrent import scan

# Layer name -> value name (the cell's gates, then its states) -> <float32>[B, T, H].
Trace = dict[str, dict[str, jax.Array]]


@dataclasses.dataclass(frozen=True)
class TracedLayer:
  """A recurrent layer whose values `apply` records.

  Attributes:
    name: "lstm_0", "gru_1", ...; a `Bidirectional`'s directions are
      "lstm_0/forward" and "lstm_0/backward".
    cell: its cell.
  """
  name: str
  cell: recurrent_lib.Cell

  @property
  def value_names(self) -> tuple[str, ...]:
    """What is recorded at each step: the cell's gates, then its states."""
    return (*self.cell.gate_names, *self.cell.state_names)


def traced_layers(model: model_lib.LSTMClassifier) -> list[TracedLayer]:
  """The layers `apply` records, first to last."""
  layers = []
  for index, spec in enumerate(model.recurrent):
    name = model_lib.layer_name(spec, index)
    directions = (f"{name}/forward", f"{name}/backward") if spec.bidirectional else (name,)
    layers += [TracedLayer(direction, spec.cell) for direction in directions]
  return layers


def recompute(layer: recurrent_lib.RNN, x: Any, mask: Optional[jax.Array]
              ) -> tuple[dict[str, jax.Array], jax.Array]:
  """A layer's values at every step, with the reference recurrence.

  Args:
    layer: a bound `recurrent.RNN` (inside `apply`).
    x: its inputs, <float32>[B, T, F] or any `recurrent.LayerInputs`.
    mask: <bool>[B, T], or None.

  Returns:
    The gates and states by name, each <float32>[B, T, H] in input time order
    (a `go_backwards` layer's are flipped back), and the outputs the layer
    computes: <float32>[B, T, H] when it returns sequences (in its processing
    order, as `RNN` returns them), <float32>[B, H] otherwise.
  """
  cell, params = layer.cell, layer.variables["params"]
  inputs = inputs_lib.as_inputs(x)
  batch, time = inputs.batch_time
  mask = None if mask is None else mask.astype(bool)
  if layer.go_backwards:
    inputs = inputs.reversed()
    mask = None if mask is None else jnp.flip(mask, axis=1)
  project = inputs.piece_projection(params.get("kernel"), cell.input_bias(params["bias"]),
                                    layer.dtype)
  weights = cell.recurrent_weights(params["recurrent_kernel"].astype(layer.dtype),
                                   params["bias"])
  (hs, gates, states), final_state = scan.scan(
      cell, project(0, time), weights, None if mask is None else mask.T,
      cell.initial_state(batch, layer.units), with_gates=True)
  values = {**gates, **dict(zip(cell.state_names, jax.tree.leaves(states)))}
  values = {name: jnp.swapaxes(v, 0, 1) for name, v in values.items()}
  if layer.go_backwards:
    values = {name: jnp.flip(v, axis=1) for name, v in values.items()}
  outputs = jnp.swapaxes(hs, 0, 1) if layer.return_sequences else cell.output(final_state)
  return values, outputs


@flax.struct.dataclass
class Applied:
  """What `apply` returns.

  Attributes:
    logits: <float32>[B, O] the model's output.
    trace: the recorded values by layer (`TracedLayer.name`), {} when not traced.
    recomputed: each traced layer's outputs as `recompute` gives them.
    outputs: each traced layer's outputs as the layer returned them.
    first_layer_inputs: <float32>[B, T, E] what the first recurrent layer read.
  """
  logits: jax.Array
  trace: Trace
  recomputed: dict[str, jax.Array]
  outputs: dict[str, jax.Array]
  first_layer_inputs: jax.Array


def apply(model: model_lib.LSTMClassifier, params: Any, token_ids: jax.Array, *,
          first_layer_inputs: Optional[jax.Array] = None, trace: bool = True) -> Applied:
  """Runs the classifier at inference (no dropout), recording its layers.

  Args:
    model: the classifier.
    params: its parameters.
    token_ids: <int32>[B, T], 0 for padding (it also gives the mask).
    first_layer_inputs: <float32>[B, T, E] read by the first recurrent layer
      instead of the embedded `token_ids`; None: the embedded tokens.
    trace: record the layers' values (off: only the logits and the inputs).

  Returns:
    The `Applied` record; jit-compatible (`jax.jit` over params and arrays).
  """
  first = model_lib.layer_name(model.recurrent[0], 0)
  recorded: dict[str, Any] = {"trace": {}, "recomputed": {}, "outputs": {}}

  def intercept(next_fun, args, kwargs, context):
    module = context.module
    if context.method_name != "__call__":
      return next_fun(*args, **kwargs)
    path = module.scope.path
    if path == (first,):
      recorded["first_layer_inputs"] = args[0]
      if first_layer_inputs is not None:
        args = (first_layer_inputs, *args[1:])
    out = next_fun(*args, **kwargs)
    if trace and isinstance(module, recurrent_lib.RNN):
      name = "/".join(path)
      x, mask = args[0], args[1] if len(args) > 1 else kwargs.get("mask")
      recorded["trace"][name], recorded["recomputed"][name] = recompute(module, x, mask)
      recorded["outputs"][name] = out[0]
    return out

  with nn.intercept_methods(intercept):
    logits = model.apply({"params": params}, token_ids, train=False)
  return Applied(logits=logits, trace=recorded["trace"], recomputed=recorded["recomputed"],
                 outputs=recorded["outputs"], first_layer_inputs=recorded["first_layer_inputs"])
