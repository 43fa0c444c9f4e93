"""The text classifier, a member of the Keras recurrent classifier family.

  Embedding(mask_zero)                      "embedding"
  → optional Dropout | SpatialDropout1D     (`embedding_dropout`, `spatial_dropout`)
  → LSTM | GRU | SimpleRNN, each optionally Bidirectional, one or more
    "lstm_0", "gru_1", ... (`recurrent`: the cell's name and the layer's index)
    each optionally followed by a Dropout
  → the last state, or a pooling over the sequence (`pooling`, `lstm_jax.models.poolings`)
  → optional Dropout                        (`head_dropout`)
  → Dense(units, activation), zero or more  "hidden_0", ... (`hidden`)
    each optionally followed by a Dropout
  → Dense(C, softmax) | Dense(1, sigmoid)   "dense" (`output`, `lstm_jax.models.heads`)

Every piece has Keras's semantics (initialisers, masking, dropout noise
shapes); the import from and export to Keras is `lstm_jax.keras_compat`.
"""

import dataclasses
import functools
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from lstm_jax import recurrent as recurrent_lib
from lstm_jax.models import heads
from lstm_jax.models import poolings

# Keras initialisers, so a fresh model starts where a fresh Keras model would.
EMBEDDING_INIT_SCALE = 0.05

# Keras activation names of the hidden Dense layers (Keras's gelu is the exact one).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "sigmoid": jax.nn.sigmoid,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "softplus": jax.nn.softplus,
    "linear": lambda x: x,
}


def keras_embedding_init(key: jax.Array, shape: tuple[int, ...],
                         dtype: Any = jnp.float32) -> jax.Array:
  """uniform(-0.05, 0.05), Keras `Embedding`'s default."""
  return jax.random.uniform(key, shape, dtype, -EMBEDDING_INIT_SCALE, EMBEDDING_INIT_SCALE)


@dataclasses.dataclass(frozen=True)
class Recurrent:
  """One layer of the recurrent stack: Keras `LSTM` / `GRU` / `SimpleRNN`, or
  `Bidirectional` of one.

  Attributes:
    units: H, units of the layer (of each direction).
    cell: the cell and its options (`recurrent.CELLS`); Keras `LSTM` by default.
    bidirectional: a `Bidirectional` wrapper around the layer.
    merge_mode: how a `Bidirectional` merges its directions (`recurrent_lib.MERGE_MODES`).
    dropout: the layer's input dropout (Keras `LSTM(dropout=)`).
    recurrent_dropout: the layer's dropout on h_{t-1}.
    dropout_after: rate of a `Dropout` layer on this layer's output sequence;
      only for a layer that returns sequences (not the last one, unless the
      model pools).
  """
  units: int
  cell: recurrent_lib.Cell = recurrent_lib.LSTMCell()
  bidirectional: bool = False
  merge_mode: str = "concat"
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  dropout_after: float = 0.0

  @property
  def output_width(self) -> int:
    return 2 * self.units if self.bidirectional and self.merge_mode == "concat" else self.units


def _field_types(cls: type) -> dict[str, tuple[type, bool]]:
  return {f.name: (f.type, f.default is dataclasses.MISSING) for f in dataclasses.fields(cls)}


def returns_sequences(index: int, num_layers: int, pooling: str) -> bool:
  """Whether recurrent layer `index` of `num_layers` returns its whole sequence: every
  layer but the last, and the last when `pooling` reads a sequence."""
  return index < num_layers - 1 or poolings.POOLINGS.get(pooling).needs_sequence


def recurrent_layer_fields(cell: str) -> dict[str, tuple[type, bool]]:
  """The keys a config's recurrent layer dict with this `cell` may hold: key →
  (type, required). They are `Recurrent`'s fields, with `cell` the cell's name,
  and the cell's own options (its dataclass fields)."""
  fields = _field_types(Recurrent)
  fields["cell"] = (str, False)
  return {**fields, **_field_types(recurrent_lib.CELLS.get(cell))}


def recurrent_layer(layer: Mapping[str, Any]) -> Recurrent:
  """A config's recurrent layer dict (`model.recurrent_layers`) as a `Recurrent`:
  `cell` names the cell (default "lstm"), whose options ride in the same dict."""
  options = dict(layer)
  cell_class = recurrent_lib.CELLS.get(options.pop("cell", recurrent_lib.LSTMCell.name))
  cell_options = {name: options.pop(name) for name in cell_class.option_names()
                  if name in options}
  return Recurrent(cell=cell_class(**cell_options), **options)


def recurrent_layer_dict(spec: Recurrent) -> dict[str, Any]:
  """`spec` as a complete config dict, the inverse of `recurrent_layer`."""
  layer = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
  layer["cell"] = spec.cell.name
  return {**layer, **spec.cell.options()}


def layer_name(spec: Recurrent, index: int) -> str:
  """The name of recurrent layer `index` (and of its parameters): its cell's name and
  index, "lstm_0", "gru_1", ..., as the first releases named the LSTM layers."""
  return f"{spec.cell.name}_{index}"


@dataclasses.dataclass(frozen=True)
class Hidden:
  """A hidden `Dense(units, activation)` of the head, optionally followed by a Dropout."""
  units: int
  activation: str = "relu"
  dropout_after: float = 0.0


def stack(units: int, num_layers: int = 1, *, bidirectional: bool = False,
          dropout: float = 0.0, recurrent_dropout: float = 0.0) -> tuple[Recurrent, ...]:
  """`num_layers` equal recurrent layers."""
  return (Recurrent(units, bidirectional=bidirectional, dropout=dropout,
                    recurrent_dropout=recurrent_dropout),) * num_layers


def _dropout(x: jax.Array, rate: float, name: str, deterministic: bool,
             broadcast_dims: Sequence[int] = ()) -> jax.Array:
  """A Keras `Dropout` layer where the model has one (rate > 0): a model
  without it has no such layer, in its summary either."""
  if not rate:
    return x
  return nn.Dropout(rate, broadcast_dims=broadcast_dims, name=name)(
      x, deterministic=deterministic)


def _check_rate(where: str, rate: float) -> None:
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"{where} must be in [0, 1), got {rate}")


class LSTMClassifier(nn.Module):
  """A recurrent text classifier with Keras's layer semantics (see the module docstring).

  Attributes:
    vocab_size: V, rows of the embedding table (id 0 is padding).
    embed_dim: E, width of the embedding.
    num_classes: C, the number of classes (2 for a sigmoid output).
    recurrent: the recurrent layers, first to last.
    pooling: a name of `poolings.POOLINGS`.
    hidden: the hidden Dense layers of the head, first to last.
    output: the output activation, a name of `heads.HEADS`.
    embedding_dropout: rate of a Dropout on the embedded sequence.
    spatial_dropout: that Dropout is a `SpatialDropout1D` (one mask per
      sequence and feature, the same at every step).
    head_dropout: rate of the Dropout between the recurrent stack (after
      pooling) and the Dense layers.
    mask_zero: token id 0 is padding and its steps are masked (Keras
      `Embedding(mask_zero=True)`); False feeds the padding through the layers.
    embedding_trainable: False stops gradients into the embedding table.
    dtype: compute dtype of the recurrent layers' matmuls.
    implementation: one of `recurrent_lib.IMPLEMENTATIONS`.
    time_chunks: pieces each recurrent layer runs the time axis in (`recurrent.RNN`).
  """
  vocab_size: int
  embed_dim: int
  num_classes: int
  recurrent: Sequence[Recurrent] = (Recurrent(128),)
  pooling: str = "last"
  hidden: Sequence[Hidden] = ()
  output: str = "softmax"
  embedding_dropout: float = 0.0
  spatial_dropout: bool = False
  head_dropout: float = 0.0
  mask_zero: bool = True
  embedding_trainable: bool = True
  dtype: Any = jnp.float32
  implementation: str = "fused"
  time_chunks: int = recurrent_lib.DEFAULT_TIME_CHUNKS

  @property
  def head(self) -> heads.Head:
    return heads.HEADS.get(self.output)

  def check(self) -> None:
    """Raises ValueError naming the attribute that makes no model."""
    if not self.recurrent:
      raise ValueError("LSTMClassifier needs at least one recurrent layer")
    poolings.POOLINGS.get(self.pooling)
    self.head.units(self.num_classes)
    _check_rate("embedding_dropout", self.embedding_dropout)
    _check_rate("head_dropout", self.head_dropout)
    for index, layer in enumerate(self.recurrent):
      if layer.units < 1:
        raise ValueError(f"recurrent layer {index}: units must be >= 1, got {layer.units}")
      try:
        layer.cell.check()
      except ValueError as e:
        raise ValueError(f"recurrent layer {index}: {e}") from None
      if layer.merge_mode not in recurrent_lib.MERGE_MODES:
        raise ValueError(f"recurrent layer {index}: merge_mode must be one of "
                         f"{', '.join(recurrent_lib.MERGE_MODES)}, got {layer.merge_mode!r}")
      _check_rate(f"recurrent layer {index}: dropout_after", layer.dropout_after)
      if layer.dropout_after and not self._returns_sequences(index):
        raise ValueError(f"recurrent layer {index}: dropout_after needs a layer that returns "
                         "sequences; after the last state use head_dropout")
    for index, layer in enumerate(self.hidden):
      if layer.units < 1:
        raise ValueError(f"hidden layer {index}: units must be >= 1, got {layer.units}")
      if layer.activation not in ACTIVATIONS:
        raise ValueError(f"hidden layer {index}: activation must be one of "
                         f"{', '.join(ACTIVATIONS)}, got {layer.activation!r}")
      _check_rate(f"hidden layer {index}: dropout_after", layer.dropout_after)

  def _returns_sequences(self, index: int) -> bool:
    return returns_sequences(index, len(self.recurrent), self.pooling)

  def _first_layer_inputs(self, token_ids: jax.Array, train: bool,
                          projection_table: Optional[jax.Array],
                          batch_vocab: Optional[jax.Array],
                          token_index: Optional[jax.Array]
                          ) -> Union[jax.Array, recurrent_lib.LayerInputs]:
    """The embedded tokens <float32>[B, T, E], or the cheapest form of them the
    first layer can read."""
    if projection_table is not None:
      # Gathered time-major, as the recurrence consumes it.
      return recurrent_lib.Projected(jnp.take(projection_table, token_ids.T, axis=0))
    table = nn.Embed(self.vocab_size, self.embed_dim,
                     embedding_init=keras_embedding_init, name="embedding").embedding
    if not self.embedding_trainable:
      table = jax.lax.stop_gradient(table)
    # Dropout masks differ per sequence and step: the rows are spread out anyway.
    spreads_rows = train and (self.embedding_dropout > 0 or self.recurrent[0].dropout > 0)
    if batch_vocab is not None and not spreads_rows:
      return recurrent_lib.DistinctRows(jnp.take(table, batch_vocab, axis=0), token_index)
    x = jnp.take(table, token_ids, axis=0)
    return _dropout(x, self.embedding_dropout, "embedding_dropout", not train,
                    broadcast_dims=(1,) if self.spatial_dropout else ())

  @nn.compact
  def __call__(self, token_ids: jax.Array, *, train: bool = False,
               projection_table: Optional[jax.Array] = None,
               batch_vocab: Optional[jax.Array] = None,
               token_index: Optional[jax.Array] = None) -> jax.Array:
    """Classifies a batch.

    Args:
      token_ids: <int32>[B, T] token ids, 0 for padding.
      train: enables dropout (needs a 'dropout' RNG).
      projection_table: for inference, `input_projection_table(params, ...)`
        of these params: the first recurrent layer then gathers each token's input
        projection instead of computing it. Same logits up to float rounding.
      batch_vocab: the batch vocabulary, <int32>[S] the batch's distinct
        token ids (padded with any id), given with
      token_index: <int32>[B, T] each slot's index into `batch_vocab`:
        token_ids == batch_vocab[token_index] (`batching.batch_vocabulary`).
        The first layer then projects each distinct token once instead of
        every token slot; same logits and gradients up to float rounding.
        Ignored when training with embedding dropout or first-layer input
        dropout (their masks differ per sequence).

    Returns:
      <float32>[B, O] logits, O = `head.units(num_classes)`; the
      probabilities are `probabilities`.
    """
    self.check()
    if token_ids.ndim != 2:
      raise ValueError(f"token_ids must be [batch, time], got shape {token_ids.shape}")
    if projection_table is not None and train:
      raise ValueError("projection_table is for inference: training needs the embedding "
                       "and the first layer's kernel")
    if (batch_vocab is None) != (token_index is None):
      raise ValueError("batch_vocab and token_index go together")
    if token_index is not None and token_index.shape != token_ids.shape:
      raise ValueError(f"token_index must have the shape of token_ids {token_ids.shape}, "
                       f"got {token_index.shape}")
    deterministic = not train
    mask = token_ids != 0 if self.mask_zero else None
    x = self._first_layer_inputs(token_ids, train, projection_table, batch_vocab, token_index)

    for index, spec in enumerate(self.recurrent):
      options = dict(units=spec.units, return_sequences=self._returns_sequences(index),
                     dropout=spec.dropout, recurrent_dropout=spec.recurrent_dropout,
                     dtype=self.dtype, implementation=self.implementation,
                     time_chunks=self.time_chunks, cell=spec.cell, name=layer_name(spec, index))
      layer = (recurrent_lib.Bidirectional(merge_mode=spec.merge_mode, **options)
               if spec.bidirectional else recurrent_lib.RNN(**options))
      x, _ = layer(x, mask, deterministic=deterministic)
      x = _dropout(x, spec.dropout_after, f"{layer_name(spec, index)}_dropout", deterministic)

    pooling = poolings.POOLINGS.get(self.pooling)
    if pooling.needs_sequence:
      x = pooling.pool(x, mask)
    # The name fixes this dropout's RNG stream: the one of the first releases.
    x = nn.Dropout(self.head_dropout, name="Dropout_0")(x, deterministic=deterministic)
    for index, spec in enumerate(self.hidden):
      x = ACTIVATIONS[spec.activation](nn.Dense(
          spec.units, kernel_init=nn.initializers.glorot_uniform(), name=f"hidden_{index}")(x))
      x = _dropout(x, spec.dropout_after, f"hidden_{index}_dropout", deterministic)
    return nn.Dense(self.head.units(self.num_classes),
                    kernel_init=nn.initializers.glorot_uniform(), name="dense")(x)

  def probabilities(self, token_ids: jax.Array, **kwargs) -> jax.Array:
    """What Keras's `predict` returns: <float32>[B, C] (softmax) or [B, 1] (sigmoid).

    Called as `model.apply(variables, token_ids, method=model.probabilities)`;
    takes the keyword arguments of `__call__`.
    """
    return self.head.probabilities(self(token_ids, **kwargs).astype(jnp.float32))


def from_config(model: ml_collections.ConfigDict, embedding: ml_collections.ConfigDict,
                vocab_size: int, num_classes: int) -> LSTMClassifier:
  """The classifier of a config's `model` and `embedding` sections, for a vocabulary
  of `vocab_size` token ids and `num_classes` classes."""
  return LSTMClassifier(
      vocab_size=vocab_size,
      embed_dim=embedding.dim,
      num_classes=num_classes,
      recurrent=tuple(recurrent_layer(layer) for layer in model.recurrent_layers),
      pooling=model.pooling,
      hidden=tuple(Hidden(**dict(layer)) for layer in model.hidden_layers),
      output=model.output,
      embedding_dropout=model.embedding_dropout,
      spatial_dropout=model.spatial_dropout,
      head_dropout=model.head_dropout,
      mask_zero=model.mask_zero,
      embedding_trainable=embedding.trainable,
      dtype=jnp.dtype(model.dtype),
      implementation=model.implementation,
      time_chunks=model.time_chunks,
  )


def input_projection_table(params: Mapping[str, Any],
                           model: LSTMClassifier) -> jax.Array:
  """Every token's first-layer input projection `embedding @ kernel + input bias`.

  At inference the parameters are fixed, so the `[T*B, E] @ [E, G*H]` matmul of
  every batch can be replaced by a gather from this table (pass it as
  `projection_table`). It holds V x G*H floats (2*G*H when bidirectional), G the
  first layer's gate count.

  Args:
    params: the classifier's params.
    model: the classifier they belong to (for its dtype, cell and directions).

  Returns:
    <float32>[V, G*H], or <float32>[V, 2*G*H] (forward, then backward) when the
    first layer is bidirectional.
  """
  table = jnp.asarray(params["embedding"]["embedding"]).astype(model.dtype)
  spec = model.recurrent[0]
  first = params[layer_name(spec, 0)]
  layers = [first["forward"], first["backward"]] if spec.bidirectional else [first]
  return jnp.concatenate([
      jnp.dot(table, jnp.asarray(layer["kernel"]).astype(model.dtype),
              preferred_element_type=jnp.float32) + spec.cell.input_bias(layer["bias"])
      for layer in layers], axis=-1)


def projection_table_bytes(model: LSTMClassifier) -> int:
  """Size of `input_projection_table` (float32)."""
  first = model.recurrent[0]
  directions = 2 if first.bidirectional else 1
  return model.vocab_size * directions * first.cell.gates * first.units * 4


def with_embedding(params: Mapping[str, Any], matrix: Any) -> dict[str, Any]:
  """Returns `params` with the embedding table replaced by `matrix`.

  Args:
    params: the classifier's params (`variables['params']`); not modified.
    matrix: <float>[V, E] the new table, e.g. GloVe vectors by token id.

  Returns:
    A new params dict sharing every other leaf with `params`.
  """
  if "embedding" not in params:
    raise ValueError(
        "params has no 'embedding' entry; pass the classifier's variables['params'] "
        f"(got keys {sorted(params)})")
  old = params["embedding"]["embedding"]
  matrix = np.asarray(matrix)
  if matrix.shape != old.shape:
    raise ValueError(
        f"embedding matrix has shape {matrix.shape} but the model expects "
        f"[vocab_size, embed_dim] = {tuple(old.shape)}; build the matrix from the same "
        "tokenizer and embed_dim as the model")
  return {**params, "embedding": {"embedding": jnp.asarray(matrix, old.dtype)}}
