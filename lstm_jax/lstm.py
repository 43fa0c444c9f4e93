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
"""

from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from lstm_jax import fused_lstm
from lstm_jax import recurrence

Recurrence = Callable[..., tuple[jax.Array, tuple[jax.Array, jax.Array]]]

RECURRENCES: dict[str, Recurrence] = {
    "scan": recurrence.scan_recurrence,
    "fused": fused_lstm.fused_recurrence,
}


def get_recurrence(implementation: str) -> Recurrence:
  """Returns the recurrence registered under `implementation`."""
  try:
    return RECURRENCES[implementation]
  except KeyError:
    raise ValueError(
        f"unknown LSTM implementation {implementation!r}; "
        f"choose one of {sorted(RECURRENCES)}") from None


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
    implementation: key of `RECURRENCES`.
  """
  units: int
  return_sequences: bool = False
  go_backwards: bool = False
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  dtype: Any = jnp.float32
  implementation: str = "fused"

  def _dropout_mask(self, shape: tuple[int, ...], rate: float) -> jax.Array:
    keep = 1.0 - rate
    kept = jax.random.bernoulli(self.make_rng("dropout"), keep, shape)
    return kept.astype(jnp.float32) / keep

  @nn.compact
  def __call__(
      self,
      x: jax.Array,
      mask: Optional[jax.Array] = None,
      *,
      deterministic: bool = True,
  ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Runs the layer.

    Args:
      x: <float32>[B, T, F] inputs.
      mask: <bool>[B, T], True on real steps; None when every step is real.
      deterministic: disables dropout; when False a 'dropout' RNG is needed.

    Returns:
      outputs <float32>[B, T, H] if `return_sequences` else <float32>[B, H],
      and the final state (h_T, c_T), each <float32>[B, H].
    """
    recurrence_fn = get_recurrence(self.implementation)
    _check_rate("dropout", self.dropout)
    _check_rate("recurrent_dropout", self.recurrent_dropout)
    if x.ndim != 3:
      raise ValueError(f"LSTM expects inputs [batch, time, features], got shape {x.shape}")
    batch, time, features = x.shape
    if mask is not None and mask.shape != (batch, time):
      raise ValueError(
          f"LSTM mask must have shape [batch, time] = {(batch, time)}, got {mask.shape}")
    units = self.units

    kernel = self.param("kernel", nn.initializers.glorot_uniform(),
                        (features, 4 * units), jnp.float32)
    recurrent_kernel = self.param("recurrent_kernel", nn.initializers.orthogonal(),
                                  (units, 4 * units), jnp.float32)
    bias = self.param("bias", unit_forget_bias_init, (4 * units,), jnp.float32)

    x = x.astype(jnp.float32)
    if not deterministic and self.dropout > 0:
      x = x * self._dropout_mask((batch, features), self.dropout)[:, None, :]
    recurrent_mask = None
    if not deterministic and self.recurrent_dropout > 0:
      recurrent_mask = self._dropout_mask((batch, units), self.recurrent_dropout)

    # The input projection of every step as one matmul, emitted time-major.
    x_proj = jnp.dot(jnp.swapaxes(x, 0, 1).astype(self.dtype), kernel.astype(self.dtype),
                     preferred_element_type=jnp.float32) + bias
    time_mask = None if mask is None else jnp.swapaxes(mask.astype(bool), 0, 1)
    if self.go_backwards:
      x_proj = jnp.flip(x_proj, axis=0)
      time_mask = None if time_mask is None else jnp.flip(time_mask, axis=0)

    zeros = jnp.zeros((batch, units), jnp.float32)
    hs, (h_last, c_last) = recurrence_fn(
        x_proj, recurrent_kernel.astype(self.dtype), time_mask, zeros, zeros,
        recurrent_mask)
    outputs = jnp.swapaxes(hs, 0, 1) if self.return_sequences else h_last
    return outputs, (h_last, c_last)


class Bidirectional(nn.Module):
  """A forward and a backward `LSTM` over the same input, outputs concatenated.

  Matches Keras `Bidirectional(LSTM(...), merge_mode='concat')`: the backward
  outputs are flipped back to the input's time order before concatenation, and
  with `return_sequences` the outputs at masked steps are zeros (Keras forces
  `zero_output_for_mask` on both directions). Attributes are those of `LSTM`
  (without `go_backwards`).
  """
  units: int
  return_sequences: bool = False
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  dtype: Any = jnp.float32
  implementation: str = "fused"

  @nn.compact
  def __call__(
      self,
      x: jax.Array,
      mask: Optional[jax.Array] = None,
      *,
      deterministic: bool = True,
  ) -> tuple[jax.Array, tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]]:
    """Runs both directions.

    Args:
      x: <float32>[B, T, F] inputs.
      mask: <bool>[B, T], True on real steps; None when every step is real.
      deterministic: disables dropout; when False a 'dropout' RNG is needed.

    Returns:
      outputs <float32>[B, T, 2H] if `return_sequences` else <float32>[B, 2H],
      and the final states ((h_fw, c_fw), (h_bw, c_bw)), each <float32>[B, H].
    """
    config = dict(units=self.units, return_sequences=self.return_sequences,
                  dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                  dtype=self.dtype, implementation=self.implementation)
    y_fw, state_fw = LSTM(**config, name="forward")(x, mask, deterministic=deterministic)
    y_bw, state_bw = LSTM(**config, go_backwards=True, name="backward")(
        x, mask, deterministic=deterministic)
    outputs = jnp.concatenate(
        [y_fw, jnp.flip(y_bw, axis=1) if self.return_sequences else y_bw], axis=-1)
    if self.return_sequences and mask is not None:
      outputs = jnp.where(mask[:, :, None], outputs, 0.0)
    return outputs, (state_fw, state_bw)
