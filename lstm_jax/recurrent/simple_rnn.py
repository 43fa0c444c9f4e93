"""The SimpleRNN cell: Keras `SimpleRNN`, the plain recurrent network.

  h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)

`kernel <[F, H]>`, `recurrent_kernel <[H, H]>`, `bias <[H]>` (zeros at the
start); the state is h. No gate decides what to keep: the gradient reaching a
step from t steps later is a product of t Jacobians `diag(activation') @
recurrent_kernel.T`, which shrinks or grows geometrically — the vanishing and
exploding gradients the LSTM's gates were designed against. `tanh` is Keras's
default; with `relu` nothing bounds h, and training without gradient clipping
can blow up.
"""

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from lstm_jax.recurrent import cell as cell_lib

# Keras activation names the cell accepts.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
}


@dataclasses.dataclass(frozen=True)
class SimpleRNNCell(cell_lib.Cell):
  """Keras `SimpleRNN` (bias; `activation` one of `ACTIVATIONS`)."""
  name = "simple_rnn"
  keras_class = "SimpleRNN"
  keras_requires = {"use_bias": True}
  gates = 1
  gate_names = ()
  activation: str = "tanh"

  def check(self) -> None:
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"simple_rnn activation must be one of {', '.join(ACTIVATIONS)}, "
                       f"got {self.activation!r}")

  def step(self, z_x: jax.Array, state: jax.Array, weights: jax.Array,
           recurrent_mask: Optional[jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    h_in = state if recurrent_mask is None else state * recurrent_mask
    z = z_x.astype(jnp.float32) + cell_lib.recurrent_projection(h_in, weights)
    return ACTIVATIONS[self.activation](z), {}
