"""Flax recurrent layers over any cell, with Keras's parameters, masking and dropout.

`RNN` is one recurrent layer (Keras `LSTM` / `GRU` / `SimpleRNN`, as its cell
says); `Bidirectional` wraps two of them. The layers own the parameters, the
input projection and dropout; the time loop is the cell's recurrence, picked by
`implementation`, so faster implementations are swapped in without touching
the layers, and a new cell needs no change here.

Keras semantics kept here, for every cell:
  * parameters `kernel [F, G*H]`, `recurrent_kernel [H, G*H]` and the cell's
    `bias`, gate blocks in Keras's order, with Keras's default initialisers;
  * a masked step carries the state unchanged and outputs the previous h;
  * `dropout` / `recurrent_dropout` draw one mask per sequence and feature and
    reuse it at every step. Keras draws one mask per gate when
    `recurrent_dropout > 0`; these layers share one input mask and one
    recurrent mask across the gates, as Keras does when only `dropout` is set;
  * `go_backwards` runs the sequence in reverse and returns outputs in that
    processing order; `Bidirectional` flips them back before merging them
    and zeroes its sequence outputs at masked steps.

Time is cut into `time_chunks` pieces that are projected and run in turn, the
state carried from one to the next. The results are those of one piece (up to
float rounding), but XLA may now compute the input projection of a later
piece, and in the backward pass the weight gradients of a finished one, while
the sequential loop of another runs: on a CPU that keeps a second core busy
(`docs/PERFORMANCE.md`).
"""

import functools
from typing import Any, Callable, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from lstm_jax.recurrent import cell as cell_lib
from lstm_jax.recurrent import cudnn
from lstm_jax.recurrent import inputs as inputs_lib
from lstm_jax.recurrent import lstm
from lstm_jax.recurrent import scan

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

# `implementation`: "scan" the reference, "fused" the cell's fast path (the
# reference where it has none), "cudnn" a whole layer on cuDNN where the cell
# and the call allow it and the fused path otherwise, as Keras falls back.
IMPLEMENTATIONS = ("scan", "fused", "cudnn")


def get_recurrence(cell: cell_lib.Cell, implementation: str) -> cell_lib.Recurrence:
  """The time loop `implementation` runs for `cell` (cuDNN's fallback for "cudnn")."""
  if implementation not in IMPLEMENTATIONS:
    raise ValueError(f"unknown recurrent implementation {implementation!r}; "
                     f"choose one of {', '.join(IMPLEMENTATIONS)}")
  fused = cell.fused_recurrence()
  if implementation == "scan" or fused is None:
    return functools.partial(scan.scan, cell)
  return fused


def _check_rate(name: str, rate: float) -> None:
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"recurrent layer {name} must be in [0, 1), got {rate}")


def chunk_bounds(time: int, chunks: int) -> list[tuple[int, int]]:
  """(start, stop) of `chunks` near-equal pieces of `time` steps (fewer if time is shorter)."""
  if chunks < 1:
    raise ValueError(f"recurrent layer time_chunks must be >= 1, got {chunks}")
  pieces = max(min(chunks, time), 1)
  edges = [round(i * time / pieces) for i in range(pieces + 1)]
  return list(zip(edges[:-1], edges[1:]))


class RNN(nn.Module):
  """One recurrent layer over batch-major sequences (Keras `LSTM`, `GRU`, `SimpleRNN`).

  Attributes:
    units: H, the size of the hidden state.
    cell: the cell (`recurrent.CELLS`), with its own options.
    return_sequences: return the output at every step instead of the last one.
    go_backwards: process the sequence in reverse time order. With a mask this
      equals reversing each sequence within its own length.
    dropout: rate of the input dropout (one mask per sequence and feature).
    recurrent_dropout: rate of the dropout on h_{t-1} (one mask per sequence).
    dtype: compute dtype of the matmuls (bfloat16 on accelerators); the state
      and the outputs stay float32.
    implementation: one of `IMPLEMENTATIONS`.
    time_chunks: pieces the time axis is run in (see the module docstring).
  """
  units: int
  cell: cell_lib.Cell = lstm.LSTMCell()
  return_sequences: bool = False
  go_backwards: bool = False
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  dtype: Any = jnp.float32
  implementation: str = "fused"
  time_chunks: int = DEFAULT_TIME_CHUNKS

  @property
  def keras_class(self) -> str:
    """The Keras layer this is (`LSTM`, `GRU`, `SimpleRNN`), as model summaries name it
    (the cell's class for a cell Keras has no layer of)."""
    return self.cell.keras_class or type(self.cell).__name__

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
  ) -> tuple[jax.Array, cell_lib.State]:
    """Runs the layer.

    Args:
      x: <float32>[B, T, F] inputs, or any `inputs.LayerInputs` (the batch's
        distinct rows, or the projection itself; see `recurrent.inputs`).
      mask: <bool>[B, T], True on real steps; None when every step is real.
      deterministic: disables dropout; when False a 'dropout' RNG is needed.

    Returns:
      outputs <float32>[B, T, H] if `return_sequences` else <float32>[B, H],
      and the final state (the cell's: (h_T, c_T) for an LSTM, h_T otherwise).
    """
    cell, units = self.cell, self.units
    cell.check()
    recurrence = get_recurrence(cell, self.implementation)
    _check_rate("dropout", self.dropout)
    _check_rate("recurrent_dropout", self.recurrent_dropout)
    inputs = inputs_lib.as_inputs(x)
    inputs.check(cell.gates * units)
    batch, time = inputs.batch_time
    if mask is not None and mask.shape != (batch, time):
      raise ValueError(f"recurrent layer mask must have shape [batch, time] = {(batch, time)}, "
                       f"got {mask.shape}")

    # Declared in Keras's order, which also fixes their initial values;
    # projected inputs have had kernel and input bias applied already.
    kernel = None
    if inputs.needs_kernel:
      kernel = self.param("kernel", nn.initializers.glorot_uniform(),
                          (inputs.features, cell.gates * units), jnp.float32)
    recurrent_kernel = self.param("recurrent_kernel", nn.initializers.orthogonal(),
                                  (units, cell.gates * units), jnp.float32)
    bias = self.param("bias", cell.bias_init, cell.bias_shape(units), jnp.float32)
    if not deterministic and self.dropout > 0:
      inputs = inputs.with_dropout(lambda shape: self._dropout_mask(shape, self.dropout))
    recurrent_mask = None
    if not deterministic and self.recurrent_dropout > 0:
      recurrent_mask = self._dropout_mask((batch, units), self.recurrent_dropout)
    mask = None if mask is None else mask.astype(bool)
    if self.go_backwards:
      inputs = inputs.reversed()
      mask = None if mask is None else jnp.flip(mask, axis=1)

    def in_pieces() -> tuple[jax.Array, cell_lib.State]:
      """hs <[B, T, H]> and the final state, time-major inside."""
      project = inputs.piece_projection(kernel, cell.input_bias(bias), self.dtype)
      time_mask = None if mask is None else jnp.swapaxes(mask, 0, 1)
      weights = cell.recurrent_weights(recurrent_kernel.astype(self.dtype), bias)
      state = cell.initial_state(batch, units)
      hs_pieces = []
      # A given projection leaves nothing to overlap the loop with: one piece.
      for start, stop in chunk_bounds(time, self.time_chunks if inputs.needs_kernel else 1):
        hs, state = recurrence(
            project(start, stop), weights,
            None if time_mask is None else time_mask[start:stop], state, recurrent_mask)
        hs_pieces.append(hs)
      return jnp.swapaxes(jnp.concatenate(hs_pieces, axis=0), 0, 1), state

    hs, state = self._on_cudnn(inputs, mask, kernel, recurrent_kernel, bias, recurrent_mask,
                               fallback=in_pieces)
    outputs = hs if self.return_sequences else cell.output(state)
    return outputs, state

  def _on_cudnn(self, inputs, mask, kernel, recurrent_kernel, bias, recurrent_mask,
                fallback):
    """The layer on cuDNN where `implementation`, the cell and the call allow it
    (float32, no recurrent dropout, dense inputs); `fallback()` otherwise, as in Keras."""
    cudnn_layer = self.cell.cudnn_layer() if self.implementation == "cudnn" else None
    dense = inputs.dense() if cudnn_layer is not None else None
    if dense is None or recurrent_mask is not None or jnp.dtype(self.dtype) != jnp.float32:
      return fallback()
    if not cudnn.available():
      raise ValueError(
          "recurrent implementation 'cudnn' needs a CUDA GPU, but JAX's backend is "
          f"{jax.default_backend()!r}; use implementation 'fused'")
    return cudnn_layer(dense, mask, kernel, recurrent_kernel, bias, fallback=fallback)


class Bidirectional(nn.Module):
  """A forward and a backward `RNN` of the same cell over the same input, outputs merged.

  Matches Keras `Bidirectional(LSTM(...) | GRU(...) | SimpleRNN(...), merge_mode=...)`:
  the backward outputs are flipped back to the input's time order before they
  are merged (`MERGE_MODES`), and with `return_sequences` the outputs at masked
  steps are zeros (Keras forces `zero_output_for_mask` on both directions).
  Attributes are those of `RNN` (without `go_backwards`) and `merge_mode`.
  """
  units: int
  cell: cell_lib.Cell = lstm.LSTMCell()
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
  ) -> tuple[jax.Array, tuple[cell_lib.State, cell_lib.State]]:
    """Runs both directions.

    Args:
      x: <float32>[B, T, F] inputs or any `inputs.LayerInputs` (projected
        inputs hold both directions' projections, <[T, B, 2*G*H]>, forward first).
      mask: <bool>[B, T], True on real steps; None when every step is real.
      deterministic: disables dropout; when False a 'dropout' RNG is needed.

    Returns:
      outputs <float32>[B, T, O] if `return_sequences` else <float32>[B, O],
      O = 2H for `concat` and H otherwise, and the final states (forward, backward).
    """
    if self.merge_mode not in MERGE_MODES:
      raise ValueError(f"Bidirectional merge_mode must be one of {', '.join(MERGE_MODES)}, "
                       f"got {self.merge_mode!r}")
    config = dict(units=self.units, cell=self.cell, return_sequences=self.return_sequences,
                  dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                  dtype=self.dtype, implementation=self.implementation,
                  time_chunks=self.time_chunks)
    forward, backward = inputs_lib.as_inputs(x).directions()
    y_fw, state_fw = RNN(**config, name="forward")(forward, mask, deterministic=deterministic)
    y_bw, state_bw = RNN(**config, go_backwards=True, name="backward")(
        backward, mask, deterministic=deterministic)
    outputs = MERGE_MODES[self.merge_mode](
        y_fw, jnp.flip(y_bw, axis=1) if self.return_sequences else y_bw)
    if self.return_sequences and mask is not None:
      outputs = jnp.where(mask[:, :, None], outputs, 0.0)
    return outputs, (state_fw, state_bw)
