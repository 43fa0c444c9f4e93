"""The LSTM recurrence: explicit gate equations and the reference `lax.scan`.

This module is the definition of what lstm_jax computes; every faster
implementation is tested equal to `scan_recurrence`.

Gate order follows Keras (i, f, c, o) so weights map one to one:

  input_gate  i_t = sigmoid(z_i)
  forget_gate f_t = sigmoid(z_f)
  cell_update g_t = tanh(z_c)
  output_gate o_t = sigmoid(z_o)
  c_t = f_t * c_{t-1} + i_t * g_t
  h_t = o_t * tanh(c_t)

where z = x_t @ kernel + bias + h_{t-1} @ recurrent_kernel. The input part
`x_t @ kernel + bias` is computed for all steps at once by the caller (one large
matmul); the scan body does only the recurrent matmul and the gates.
"""

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp


class Gates(NamedTuple):
  """Gate activations of one step, each <float32>[B, H]."""
  input_gate: jax.Array
  forget_gate: jax.Array
  cell_update: jax.Array
  output_gate: jax.Array


def gates_from_preactivations(z: jax.Array) -> Gates:
  """Applies the gate nonlinearities to <float32>[..., 4H] pre-activations."""
  z_i, z_f, z_c, z_o = jnp.split(z, 4, axis=-1)
  return Gates(
      input_gate=jax.nn.sigmoid(z_i),
      forget_gate=jax.nn.sigmoid(z_f),
      cell_update=jnp.tanh(z_c),
      output_gate=jax.nn.sigmoid(z_o),
  )


def lstm_cell(z: jax.Array, c_prev: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One LSTM step.

  Args:
    z: <float32>[B, 4H] pre-activations, gate order i, f, c, o.
    c_prev: <float32>[B, H] previous cell state.

  Returns:
    (h, c), each <float32>[B, H].
  """
  g = gates_from_preactivations(z)
  c = g.forget_gate * c_prev + g.input_gate * g.cell_update
  h = g.output_gate * jnp.tanh(c)
  return h, c


def recurrent_projection(h: jax.Array, recurrent_kernel: jax.Array) -> jax.Array:
  """<float32>[B, H] @ <dtype>[H, 4H] in the kernel's dtype, accumulated in float32."""
  return jnp.dot(
      h.astype(recurrent_kernel.dtype),
      recurrent_kernel,
      preferred_element_type=jnp.float32,
  )


def scan_recurrence(
    x_proj: jax.Array,
    recurrent_kernel: jax.Array,
    mask: Optional[jax.Array],
    h0: jax.Array,
    c0: jax.Array,
    recurrent_mask: Optional[jax.Array] = None,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
  """Runs the LSTM over time with `lax.scan` (the reference implementation).

  Args:
    x_proj: <float32|bfloat16>[T, B, 4H] time-major `x_t @ kernel + bias`.
    recurrent_kernel: <float32|bfloat16>[H, 4H].
    mask: <bool>[T, B], or None when every step is valid. On a masked step the
      state is carried unchanged and the output is the previous h (Keras).
    h0: <float32>[B, H] initial hidden state.
    c0: <float32>[B, H] initial cell state.
    recurrent_mask: <float32>[B, H] recurrent-dropout mask, already scaled,
      applied to h_{t-1} before the recurrent matmul at every step; or None.

  Returns:
    hs <float32>[T, B, H] and the final state (h_T, c_T), each <float32>[B, H].
  """

  def step(carry, inputs):
    h_prev, c_prev = carry
    z_x, step_mask = inputs
    h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
    z = z_x.astype(jnp.float32) + recurrent_projection(h_in, recurrent_kernel)
    h, c = lstm_cell(z, c_prev)
    if step_mask is not None:
      keep = step_mask[:, None]
      h = jnp.where(keep, h, h_prev)
      c = jnp.where(keep, c, c_prev)
    return (h, c), h

  (h_last, c_last), hs = jax.lax.scan(step, (h0, c0), (x_proj, mask))
  return hs, (h_last, c_last)
