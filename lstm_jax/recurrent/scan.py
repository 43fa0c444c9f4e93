"""The reference recurrence: any cell's `step` run over time with `lax.scan`.

This is the definition of what a cell computes over a sequence; every faster
implementation (a cell's fused path, cuDNN) is tested equal to `scan`.

Masking follows Keras: a masked step carries the state unchanged and outputs
the previous h, so a pre- or post-padded sequence gives the unpadded run's
results. The input part of each step, `x_t @ kernel + bias`, is computed for
all steps at once by the caller (one large matmul); the loop does only the
recurrent matmul and the gates.
"""

from typing import Any, Optional

import jax
import jax.numpy as jnp

from lstm_jax.recurrent import cell as cell_lib


def scan(cell: cell_lib.Cell, x_proj: jax.Array, weights: Any, mask: Optional[jax.Array],
         state0: cell_lib.State, recurrent_mask: Optional[jax.Array] = None, *,
         with_gates: bool = False) -> tuple[Any, cell_lib.State]:
  """Runs `cell` over time.

  Args:
    cell: the cell.
    x_proj: <float32|bfloat16>[T, B, G*H] time-major `x_t @ kernel + bias`.
    weights: `cell.recurrent_weights(...)` (the recurrent kernel in the compute dtype).
    mask: <bool>[T, B], or None when every step is valid.
    state0: the initial state (`cell.initial_state`).
    recurrent_mask: <float32>[B, H] recurrent-dropout mask, already scaled, or None.
    with_gates: also return every step's gate activations and state.

  Returns:
    hs <float32>[T, B, H] and the final state; with `with_gates`,
    (hs, gates {name: <float32>[T, B, H]}, states <[T, ...]>) and the final state.
  """

  def step(state, inputs):
    z_x, step_mask = inputs
    new_state, gates = cell.step(z_x, state, weights, recurrent_mask)
    if step_mask is not None:
      keep = step_mask[:, None]
      new_state = jax.tree.map(lambda new, old: jnp.where(keep, new, old), new_state, state)
    h = cell.output(new_state)
    return new_state, ((h, gates, new_state) if with_gates else h)

  final_state, outputs = jax.lax.scan(step, state0, (x_proj, mask))
  return outputs, final_state
