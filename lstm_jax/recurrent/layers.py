"""Flax LSTM layers with Keras's parameter layout, masking and dropout.

The layers own the parameters, the input projection and dropout; the time loop
is a pure recurrence picked from `RECURRENCES` by name, so faster
implementations can be swapped in without touching the layers.

Keras semantics kept here:
  * parameters `kernel [F, 4H]`, `recurrent_kernel [H, 4H]`, `bias [4H]`, gate
    order i, f, c, o, with Keras's default initialisers;
  * a masked step carries the state unchanged and outputs the previous h;
  * `dropout` / `recurrent_dropout` draw one mask per sequence and feature and
    reuse it at every step. Keras draws four masks (one per gate) when
    `recurrent_dropout > 0`; these layers share one input mask and one
    recurrent mask across the gates, as Keras does when only `dropout` is set;
  * `go_backwards` runs the sequence in reverse and returns outputs in that
    processing order; `Bidirectional` flips them back before concatenating
    and zeroes its sequence outputs at masked steps.

Time is cut into `time_chunks` pieces that are projected and run in turn, the
state carried from one to the next. The results are those of one piece (up to
float rounding), but XLA may now compute the input projection of a later
piece, and in the backward pass the weight gradients of a finished one, while
the sequential loop of another runs: on a CPU that keeps a second core busy
(`docs/PERFORMANCE.md`).
"""

from typing import Any, Callable, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from lstm_jax.recurrent import cudnn
from lstm_jax.recurrent import fused
from lstm_jax.recurrent import inputs as inputs_lib
from lstm_jax.recurrent import recurrence

Recurrence = Callable[..., tuple[jax.Array, tuple[jax.Array, jax.Array]]]

# On a 2-core CPU 4 pieces cut an IMDB-length training step by ~20% and keep a
# new shape compiling in about 2 s (8 pieces: a little faster, 3 s); 1 runs one loop.
DEFAULT_TIME_CHUNKS = 4

# Keras `Bidirectional(merge_mode=...)`: how the two directions' outputs combine.
MERGE_MODES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "concat": lambda forward, backward: jnp.concatenate([forward, backward], axis=-1),
    "sum": lambda forward, backward: forward + backward,
    "mul": lambda forward, backward: forward * backward,
    "ave": lambda forward, backward: (forward + backward) / 2,
}

RECURRENCES: dict[str, Recurrence] = {
    "scan": recurrence.scan_recurrence,
    "fused": fused.fused_recurrence,
}


# `implementation` names: the recurrences, and "cudnn", which runs a whole
# layer on cuDNN where it can and the fused recurrence where it cannot.
IMPLEMENTATIONS = (*RECURRENCES, "cudnn")


def get_recurrence(implementation: str) -> Recurrence:
  """Returns the recurrence `implementation` runs (cuDNN's fallback for "cudnn")."""
  if implementation == "cudnn":
    return RECURRENCES["fused"]
  try:
    return RECURRENCES[implementation]
  except KeyError:
    raise ValueError(
        f"unknown LSTM implementation {implementation!r}; "
        f"choose one of {sorted(IMPLEMENTATIONS)}") from None


def unit_forget_bias_init(key: jax.Array, shape: tuple[int, ...],
                          dtype: Any = jnp.float32) -> jax.Array:
  """Zero bias with the forget-gate slice set to one (Keras `unit_forget_bias`)."""
  del key
  (four_units,) = shape
  units = four_units // 4
  return jnp.zeros(shape, dtype).at[units:2 * units].set(1)


def _check_rate(name: str, rate: float) -> None:
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"LSTM {name} must be in [0, 1), got {rate}")


def chunk_bounds(time: int, chunks: int) -> list[tuple[int, int]]:
  """(start, stop) of `chunks` near-equal pieces of `time` steps (fewer if time is shorter)."""
  if chunks < 1:
    raise ValueError(f"LSTM time_chunks must be >= 1, got {chunks}")
  pieces = max(min(chunks, time), 1)
  edges = [round(i * time / pieces) for i in range(pieces + 1)]
  return list(zip(edges[:-1], edges[1:]))


class LSTM(nn.Module):
  """One LSTM layer over batch-major sequences.

  Attributes:
    units: H, the size of the hidden and cell state.
    return_sequences: return the output at every step instead of the last one.
    go_backwards: process the sequence in reverse time order. With a mask this
      equals reversing each sequence within its own length.
    dropout: rate of the input dropout (one mask per sequence and feature).
    recurrent_dropout: rate of the dropout on h_{t-1} (one mask per sequence).
    dtype: compute dtype of the matmuls (bfloat16 on accelerators); the cell
      state and the outputs stay float32.
    implementation: one of `IMPLEMENTATIONS`: a key of `RECURRENCES`, or
      "cudnn" (`lstm.cudnn`; CUDA GPUs only).
    time_chunks: pieces the time axis is run in (see the module docstring).
  """
  units: int
  return_sequences: bool = False
  go_backwards: bool = False
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  dtype: Any = jnp.float32
  implementation: str = "fused"
  time_chunks: int = DEFAULT_TIME_CHUNKS

  def _dropout_mask(self, shape: tuple[int, ...], rate: float) -> jax.Array:
    keep = 1.0 - rate
    kept = jax.random.bernoulli(self.make_rng("dropout"), keep, shape)
    return kept.astype(jnp.float32) / keep

  @nn.compact
  def __call__(
      self,
      x: Union[jax.Array, inputs_lib.LayerInputs],
      mask: Optional[jax.Array] = None,
      *,
      deterministic: bool = True,
  ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Runs the layer.

    Args:
      x: <float32>[B, T, F] inputs, or any `inputs.LayerInputs` (the batch's
        distinct rows, or the projection itself; see `lstm.inputs`).
      mask: <bool>[B, T], True on real steps; None when every step is real.
      deterministic: disables dropout; when False a 'dropout' RNG is needed.

    Returns:
      outputs <float32>[B, T, H] if `return_sequences` else <float32>[B, H],
      and the final state (h_T, c_T), each <float32>[B, H].
    """
    recurrence_fn = get_recurrence(self.implementation)
    _check_rate("dropout", self.dropout)
    _check_rate("recurrent_dropout", self.recurrent_dropout)
    units = self.units
    inputs = inputs_lib.as_inputs(x)
    inputs.check(units)
    batch, time = inputs.batch_time
    if mask is not None and mask.shape != (batch, time):
      raise ValueError(
          f"LSTM mask must have shape [batch, time] = {(batch, time)}, got {mask.shape}")

    # Declared in Keras's order, which also fixes their initial values;
    # projected inputs have had kernel and bias applied already.
    kernel = bias = None
    if inputs.needs_kernel:
      kernel = self.param("kernel", nn.initializers.glorot_uniform(),
                          (inputs.features, 4 * units), jnp.float32)
    recurrent_kernel = self.param("recurrent_kernel", nn.initializers.orthogonal(),
                                  (units, 4 * units), jnp.float32)
    if inputs.needs_kernel:
      bias = self.param("bias", unit_forget_bias_init, (4 * units,), jnp.float32)
    if not deterministic and self.dropout > 0:
      inputs = inputs.with_dropout(lambda shape: self._dropout_mask(shape, self.dropout))
    recurrent_mask = None
    if not deterministic and self.recurrent_dropout > 0:
      recurrent_mask = self._dropout_mask((batch, units), self.recurrent_dropout)
    mask = None if mask is None else mask.astype(bool)
    if self.go_backwards:
      inputs = inputs.reversed()
      mask = None if mask is None else jnp.flip(mask, axis=1)

    def in_pieces() -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
      """hs <[B, T, H]> and the final state, time-major inside."""
      project = inputs.piece_projection(kernel, bias, self.dtype)
      time_mask = None if mask is None else jnp.swapaxes(mask, 0, 1)
      compute_recurrent_kernel = recurrent_kernel.astype(self.dtype)
      h_last = c_last = jnp.zeros((batch, units), jnp.float32)
      hs_pieces = []
      # A given projection leaves nothing to overlap the loop with: one piece.
      for start, stop in chunk_bounds(time, self.time_chunks if inputs.needs_kernel else 1):
        hs, (h_last, c_last) = recurrence_fn(
            project(start, stop), compute_recurrent_kernel,
            None if time_mask is None else time_mask[start:stop], h_last, c_last,
            recurrent_mask)
        hs_pieces.append(hs)
      return jnp.swapaxes(jnp.concatenate(hs_pieces, axis=0), 0, 1), (h_last, c_last)

    # cuDNN projects the inputs itself, has no recurrent dropout and is used in
    # float32 only: otherwise the fused path runs (as in Keras).
    dense = inputs.dense() if self.implementation == "cudnn" else None
    if (dense is not None and recurrent_mask is None
        and jnp.dtype(self.dtype) == jnp.float32):
      if not cudnn.available():
        raise ValueError(
            "LSTM implementation 'cudnn' needs a CUDA GPU, but JAX's backend is "
            f"{jax.default_backend()!r}; use implementation 'fused'")
      hs, (h_last, c_last) = cudnn.cudnn_layer(
          dense, mask, kernel, recurrent_kernel, bias, fallback=in_pieces)
    else:
      hs, (h_last, c_last) = in_pieces()
    outputs = hs if self.return_sequences else h_last
    return outputs, (h_last, c_last)


class Bidirectional(nn.Module):
  """A forward and a backward `LSTM` over the same input, outputs merged.

  Matches Keras `Bidirectional(LSTM(...), merge_mode=...)`: the backward
  outputs are flipped back to the input's time order before they are merged
  (`MERGE_MODES`), and with `return_sequences` the outputs at masked steps are
  zeros (Keras forces `zero_output_for_mask` on both directions). Attributes
  are those of `LSTM` (without `go_backwards`) and `merge_mode`.
  """
  units: int
  return_sequences: bool = False
  merge_mode: str = "concat"
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  dtype: Any = jnp.float32
  implementation: str = "fused"
  time_chunks: int = DEFAULT_TIME_CHUNKS

  @nn.compact
  def __call__(
      self,
      x: Union[jax.Array, inputs_lib.LayerInputs],
      mask: Optional[jax.Array] = None,
      *,
      deterministic: bool = True,
  ) -> tuple[jax.Array, tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]]:
    """Runs both directions.

    Args:
      x: <float32>[B, T, F] inputs or any `inputs.LayerInputs` (projected
        inputs hold both directions' projections, <[T, B, 8H]>, forward first).
      mask: <bool>[B, T], True on real steps; None when every step is real.
      deterministic: disables dropout; when False a 'dropout' RNG is needed.

    Returns:
      outputs <float32>[B, T, O] if `return_sequences` else <float32>[B, O],
      O = 2H for `concat` and H otherwise, and the final states ((h_fw, c_fw), (h_bw, c_bw)), each <float32>[B, H].
    """
    if self.merge_mode not in MERGE_MODES:
      raise ValueError(f"Bidirectional merge_mode must be one of {', '.join(MERGE_MODES)}, "
                       f"got {self.merge_mode!r}")
    config = dict(units=self.units, return_sequences=self.return_sequences,
                  dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                  dtype=self.dtype, implementation=self.implementation,
                  time_chunks=self.time_chunks)
    forward, backward = inputs_lib.as_inputs(x).directions()
    y_fw, state_fw = LSTM(**config, name="forward")(forward, mask, deterministic=deterministic)
    y_bw, state_bw = LSTM(**config, go_backwards=True, name="backward")(
        backward, mask, deterministic=deterministic)
    outputs = MERGE_MODES[self.merge_mode](
        y_fw, jnp.flip(y_bw, axis=1) if self.return_sequences else y_bw)
    if self.return_sequences and mask is not None:
      outputs = jnp.where(mask[:, :, None], outputs, 0.0)
    return outputs, (state_fw, state_bw)
