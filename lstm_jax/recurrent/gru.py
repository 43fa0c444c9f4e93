"""The GRU cell: Keras 3 `GRU`'s gate equations and weight layout.

Gate order follows Keras (z, r, h), `kernel <[F, 3H]>`, `recurrent_kernel
<[H, 3H]>`, and with `reset_after=True` (Keras's default, cuDNN's form) `bias
<[2, 3H]>`: row 0 is added to `x_t @ kernel`, row 1 to `h_{t-1} @
recurrent_kernel`, and the reset gate scales the recurrent part of the
candidate after the matmul:

  update_gate z_t = sigmoid(x_z + h_{t-1} @ U_z + b'_z)
  reset_gate  r_t = sigmoid(x_r + h_{t-1} @ U_r + b'_r)
  candidate   g_t = tanh(x_h + r_t * (h_{t-1} @ U_h + b'_h))
  h_t = z_t * h_{t-1} + (1 - z_t) * g_t

where x = x_t @ kernel + b (b, b' the two bias rows, U the recurrent kernel's
three blocks). With `reset_after=False` (the original GRU) `bias <[3H]>` is
added to `x_t @ kernel` only and the reset gate applies before the matmul:
g_t = tanh(x_h + (r_t * h_{t-1}) @ U_h). Every bias starts at zero. The state
is h alone. The fast path is `gru_fused` (a `custom_vjp`, both forms); cuDNN's
GRU has no JAX binding, so `implementation="cudnn"` runs the fused path, as
Keras falls back.
"""

import dataclasses
import functools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from lstm_jax.recurrent import cell as cell_lib
from lstm_jax.recurrent import gru_fused


class Weights(NamedTuple):
  """What the GRU's step needs besides the input projection."""
  recurrent_kernel: jax.Array  # <[H, 3H]>, in the compute dtype
  recurrent_bias: Optional[jax.Array]  # <float32>[3H] (reset_after), or None


@dataclasses.dataclass(frozen=True)
class GRUCell(cell_lib.Cell):
  """Keras `GRU` (tanh, sigmoid gates, bias).

  Attributes:
    reset_after: Keras's `reset_after`: apply the reset gate after the recurrent
      matmul, with a separate recurrent bias (True, Keras's default), or before it.
  """
  name = "gru"
  keras_class = "GRU"
  keras_requires = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True}
  gates = 3
  gate_names = ("update", "reset", "candidate")
  reset_after: bool = True

  def bias_shape(self, units: int) -> tuple[int, ...]:
    return (2, 3 * units) if self.reset_after else (3 * units,)

  def input_bias(self, bias: jax.Array) -> jax.Array:
    return bias[0] if self.reset_after else bias

  def recurrent_weights(self, recurrent_kernel: jax.Array, bias: jax.Array) -> Weights:
    return Weights(recurrent_kernel, bias[1] if self.reset_after else None)

  def step(self, z_x: jax.Array, state: jax.Array, weights: Weights,
           recurrent_mask: Optional[jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    h_prev = state
    h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
    x_z, x_r, x_h = jnp.split(z_x.astype(jnp.float32), 3, axis=-1)
    units = h_prev.shape[-1]
    if self.reset_after:
      inner = cell_lib.recurrent_projection(h_in, weights.recurrent_kernel)
      inner_z, inner_r, inner_h = jnp.split(inner + weights.recurrent_bias, 3, axis=-1)
      update = jax.nn.sigmoid(x_z + inner_z)
      reset = jax.nn.sigmoid(x_r + inner_r)
      candidate = jnp.tanh(x_h + reset * inner_h)
    else:
      kernel_zr, kernel_h = (weights.recurrent_kernel[:, :2 * units],
                             weights.recurrent_kernel[:, 2 * units:])
      inner_z, inner_r = jnp.split(cell_lib.recurrent_projection(h_in, kernel_zr), 2, axis=-1)
      update = jax.nn.sigmoid(x_z + inner_z)
      reset = jax.nn.sigmoid(x_r + inner_r)
      candidate = jnp.tanh(x_h + cell_lib.recurrent_projection(reset * h_in, kernel_h))
    h = update * h_prev + (1.0 - update) * candidate
    return h, {"update": update, "reset": reset, "candidate": candidate}

  def fused_recurrence(self) -> cell_lib.Recurrence:
    return functools.partial(gru_fused.fused_recurrence, self.reset_after)
