"""The text classifier: token ids → embedding → LSTM stack → dropout → dense logits."""

from typing import Any, Mapping, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from lstm_jax import lstm

# Keras initialisers, so a fresh model starts where a fresh Keras model would.
EMBEDDING_INIT_SCALE = 0.05


def keras_embedding_init(key: jax.Array, shape: tuple[int, ...],
                         dtype: Any = jnp.float32) -> jax.Array:
  """uniform(-0.05, 0.05), Keras `Embedding`'s default."""
  return jax.random.uniform(key, shape, dtype, -EMBEDDING_INIT_SCALE, EMBEDDING_INIT_SCALE)


class LSTMClassifier(nn.Module):
  """LSTM text classifier with Keras's layer semantics.

  Attributes:
    vocab_size: V, rows of the embedding table (id 0 is padding).
    embed_dim: E, width of the embedding.
    num_classes: C.
    units: H, units of every LSTM layer (per direction).
    num_layers: number of stacked LSTM layers; all but the last return sequences.
    bidirectional: each layer is a `Bidirectional` LSTM (outputs 2H wide).
    dropout: rate of the Dropout between the LSTM stack and the dense layer.
    lstm_dropout: input dropout of every LSTM layer.
    recurrent_dropout: recurrent dropout of every LSTM layer.
    mask_zero: token id 0 is padding and its steps are masked (Keras
      `Embedding(mask_zero=True)`); False feeds the padding through the LSTM.
    embedding_trainable: False stops gradients into the embedding table.
    dtype: compute dtype of the LSTM matmuls.
    implementation: one of `lstm.IMPLEMENTATIONS`.
    time_chunks: pieces each LSTM layer runs the time axis in (`lstm.LSTM`).
  """
  vocab_size: int
  embed_dim: int
  num_classes: int
  units: int = 128
  num_layers: int = 1
  bidirectional: bool = False
  dropout: float = 0.0
  lstm_dropout: float = 0.0
  recurrent_dropout: float = 0.0
  mask_zero: bool = True
  embedding_trainable: bool = True
  dtype: Any = jnp.float32
  implementation: str = "fused"
  time_chunks: int = lstm.DEFAULT_TIME_CHUNKS

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
        of these params: the first LSTM layer then gathers each token's input
        projection instead of computing it. Same logits up to float rounding.
      batch_vocab: <int32>[S] the batch's distinct token ids (padded with
        any id), with `token_index` <int32>[B, T] such that token_ids ==
        batch_vocab[token_index] (`batching.batch_vocabulary`). The first
        layer then projects each distinct token once instead of every token
        slot; same logits and gradients up to float rounding. Ignored when
        training with `lstm_dropout` (its masks differ per sequence).

    Returns:
      <float32>[B, C] logits.
    """
    if self.num_layers < 1:
      raise ValueError(f"LSTMClassifier num_layers must be >= 1, got {self.num_layers}")
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
    mask = token_ids != 0 if self.mask_zero else None
    if projection_table is None:
      table = nn.Embed(self.vocab_size, self.embed_dim,
                       embedding_init=keras_embedding_init, name="embedding").embedding
      if not self.embedding_trainable:
        table = jax.lax.stop_gradient(table)
      # Input dropout spreads the rows out anyway: one gather from the table is cheaper.
      if batch_vocab is not None and not (train and self.lstm_dropout > 0):
        x = lstm.DistinctRows(jnp.take(table, batch_vocab, axis=0), token_index)
      else:
        x = jnp.take(table, token_ids, axis=0)
    else:
      # Gathered time-major, as the recurrence consumes it.
      x = lstm.Projected(jnp.take(projection_table, token_ids.T, axis=0))

    layer_cls = lstm.Bidirectional if self.bidirectional else lstm.LSTM
    for index in range(self.num_layers):
      layer = layer_cls(
          units=self.units,
          return_sequences=index < self.num_layers - 1,
          dropout=self.lstm_dropout,
          recurrent_dropout=self.recurrent_dropout,
          dtype=self.dtype,
          implementation=self.implementation,
          time_chunks=self.time_chunks,
          name=f"lstm_{index}")
      x, _ = layer(x, mask, deterministic=not train)

    x = nn.Dropout(self.dropout)(x, deterministic=not train)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.glorot_uniform(),
                    name="dense")(x)


def input_projection_table(params: Mapping[str, Any],
                           model: LSTMClassifier) -> jax.Array:
  """Every token's first-layer LSTM input projection `embedding @ kernel + bias`.

  At inference the parameters are fixed, so the `[T*B, E] @ [E, 4H]` matmul of
  every batch can be replaced by a gather from this table (pass it as
  `projection_table`). It holds V x 4H floats (8H when bidirectional).

  Args:
    params: the classifier's params.
    model: the classifier they belong to (for its dtype and directions).

  Returns:
    <float32>[V, 4H], or <float32>[V, 8H] (forward, then backward) when
    `model.bidirectional`.
  """
  table = jnp.asarray(params["embedding"]["embedding"]).astype(model.dtype)
  first = params["lstm_0"]
  layers = [first["forward"], first["backward"]] if model.bidirectional else [first]
  return jnp.concatenate([
      jnp.dot(table, jnp.asarray(layer["kernel"]).astype(model.dtype),
              preferred_element_type=jnp.float32) + layer["bias"]
      for layer in layers], axis=-1)


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
