"""The LSTM cell: Keras `LSTM`'s gate equations and weight layout.

Gate order follows Keras (i, f, c, o), so weights map one to one:

  input_gate  i_t = sigmoid(z_i)
  forget_gate f_t = sigmoid(z_f)
  cell_update g_t = tanh(z_c)
  output_gate o_t = sigmoid(z_o)
  c_t = f_t * c_{t-1} + i_t * g_t
  h_t = o_t * tanh(c_t)

where z = x_t @ kernel + bias + h_{t-1} @ recurrent_kernel; `kernel <[F, 4H]>`,
`recurrent_kernel <[H, 4H]>`, `bias <[4H]>` initialised with the forget slice at
one (Keras `unit_forget_bias`). The state is (h, c), h first as in Keras. The
fast path is `lstm_fused` (a `custom_vjp`), and on CUDA GPUs `cudnn`.
"""

import dataclasses
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from lstm_jax.recurrent import cell as cell_lib
from lstm_jax.recurrent import cudnn
from lstm_jax.recurrent import lstm_fused


class Gates(NamedTuple):
  """Gate activations of one step, each <float32>[B, H]."""
  input: jax.Array
  forget: jax.Array
  cell_update: jax.Array
  output: jax.Array


def gates_from_preactivations(z: jax.Array) -> Gates:
  """Applies the gate nonlinearities to <float32>[..., 4H] pre-activations."""
  z_i, z_f, z_c, z_o = jnp.split(z, 4, axis=-1)
  return Gates(input=jax.nn.sigmoid(z_i), forget=jax.nn.sigmoid(z_f),
               cell_update=jnp.tanh(z_c), output=jax.nn.sigmoid(z_o))


def unit_forget_bias_init(key: jax.Array, shape: tuple[int, ...],
                          dtype: Any = jnp.float32) -> jax.Array:
  """Zero bias with the forget-gate slice set to one (Keras `unit_forget_bias`)."""
  del key
  (four_units,) = shape
  units = four_units // 4
  return jnp.zeros(shape, dtype).at[units:2 * units].set(1)


@dataclasses.dataclass(frozen=True)
class LSTMCell(cell_lib.Cell):
  """Keras `LSTM` (tanh, sigmoid gates, bias, `unit_forget_bias`)."""
  name = "lstm"
  keras_class = "LSTM"
  keras_requires = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True}
  gates = 4
  gate_names = Gates._fields
  state_names = ("hidden", "cell_state")

  def bias_init(self, key, shape, dtype=jnp.float32):
    return unit_forget_bias_init(key, shape, dtype)

  def initial_state(self, batch: int, units: int) -> tuple[jax.Array, jax.Array]:
    zeros = jnp.zeros((batch, units), jnp.float32)
    return zeros, zeros

  def output(self, state: tuple[jax.Array, jax.Array]) -> jax.Array:
    return state[0]

  def step(self, z_x: jax.Array, state: tuple[jax.Array, jax.Array],
           weights: jax.Array, recurrent_mask: Optional[jax.Array]
           ) -> tuple[tuple[jax.Array, jax.Array], dict[str, jax.Array]]:
    h_prev, c_prev = state
    h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
    z = z_x.astype(jnp.float32) + cell_lib.recurrent_projection(h_in, weights)
    g = gates_from_preactivations(z)
    c = g.forget * c_prev + g.input * g.cell_update
    h = g.output * jnp.tanh(c)
    return (h, c), g._asdict()

  def fused_recurrence(self) -> cell_lib.Recurrence:
    return lstm_fused.fused_recurrence

  def cudnn_layer(self):
    return cudnn.cudnn_layer
