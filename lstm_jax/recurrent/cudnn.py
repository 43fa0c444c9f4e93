"""One LSTM layer on NVIDIA's cuDNN (`jax.experimental.rnn.lstm`).

cuDNN runs a whole layer, input projection and recurrence, in one call, and
takes padding as sequence lengths: each row's valid steps first, padding
after. `cudnn_layer` maps a call of `layers.RNN` with an `LSTMCell` onto it and back:

* weights: Keras's `kernel [F, 4H]`, `recurrent_kernel [H, 4H]` and
  `bias [4H]` (gates i, f, c, o: cuDNN's i, f, g, o) become cuDNN's flat
  vector W_ih = kernel.T, W_hh = recurrent_kernel.T, b_ih = bias, b_hh = 0;
* masks: when every row's valid steps form one contiguous block (pre- or
  post-padding, or none), each row is rolled so that its block comes first,
  cuDNN gets the block lengths, and the outputs are rolled back and given
  Keras's values at masked steps: the initial state (zeros) before the block,
  the last h after it. Any other mask (a hole inside a sequence) runs
  `fallback` instead, chosen at run time with `lax.cond`, as Keras does.

The test suite checks this mapping on CPU against `jax.experimental.rnn`'s
own pure-JAX reference of the cuDNN call (`lstm_ref`); the cuDNN kernel itself
only runs on a CUDA GPU.
"""

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax.experimental import rnn

State = tuple[jax.Array, jax.Array]

# The cuDNN call, `rnn.lstm`'s signature; tests put a CPU reference here.
lstm_kernel: Callable[..., tuple[jax.Array, jax.Array, jax.Array]] = rnn.lstm


def available() -> bool:
  """Whether JAX's default backend is a CUDA GPU, which `rnn.lstm` needs."""
  return jax.default_backend() == "gpu"


def pack_weights(kernel: jax.Array, recurrent_kernel: jax.Array,
                 bias: jax.Array) -> jax.Array:
  """Keras-layout weights → cuDNN's flat weight vector for one layer.

  Args:
    kernel: <float32>[F, 4H].
    recurrent_kernel: <float32>[H, 4H].
    bias: <float32>[4H].

  Returns:
    <float32>[4H * (F + H) + 8H]: W_ih, W_hh, b_ih, b_hh (zeros), flattened.
  """
  return jnp.concatenate([kernel.T.ravel(), recurrent_kernel.T.ravel(), bias,
                          jnp.zeros_like(bias)]).astype(jnp.float32)


def contiguous_block(mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Where each row's valid steps start and how many there are.

  Args:
    mask: <bool>[B, T].

  Returns:
    start <int32>[B] (0 for an empty row), length <int32>[B], and
    <bool>[] whether every row's valid steps are one contiguous block.
  """
  time = mask.shape[1]
  length = jnp.sum(mask, axis=1, dtype=jnp.int32)
  start = jnp.argmax(mask, axis=1).astype(jnp.int32)
  steps = jnp.arange(time, dtype=jnp.int32)[None, :]
  block = (steps >= start[:, None]) & (steps < (start + length)[:, None])
  return start, length, jnp.all(block == mask)


def _roll_rows(a: jax.Array, shifts: jax.Array) -> jax.Array:
  """<[B, T, ...]> with row b rolled by shifts[b] steps along time."""
  return jax.vmap(lambda row, shift: jnp.roll(row, shift, axis=0))(a, shifts)


def cudnn_layer(x: jax.Array, mask: Optional[jax.Array], kernel: jax.Array,
                recurrent_kernel: jax.Array, bias: jax.Array,
                fallback: Callable[[], tuple[jax.Array, State]]
                ) -> tuple[jax.Array, State]:
  """Runs one unidirectional LSTM layer from zero state with Keras's masking.

  Args:
    x: <float32>[B, T, F] inputs, in processing order.
    mask: <bool>[B, T] or None.
    kernel, recurrent_kernel, bias: the layer's Keras-layout weights.
    fallback: computes the same results another way; used when the mask is
      not one contiguous block per row.

  Returns:
    hs <float32>[B, T, H] (the output of every step) and (h_T, c_T), each
    <float32>[B, H].
  """
  batch, time, features = x.shape
  units = recurrent_kernel.shape[0]
  weights = pack_weights(kernel, recurrent_kernel, bias)
  zeros = jnp.zeros((1, batch, units), jnp.float32)

  def on_cudnn(start, length):
    # cuDNN rejects empty sequences: an empty row runs one step, then reads 0.
    y, h_n, c_n = lstm_kernel(
        _roll_rows(x.astype(jnp.float32), -start), zeros, zeros, weights,
        jnp.maximum(length, 1), input_size=features, hidden_size=units,
        num_layers=1, dropout=0.0, bidirectional=False)
    empty = (length == 0)[:, None]
    h_last = jnp.where(empty, 0.0, h_n[0])
    c_last = jnp.where(empty, 0.0, c_n[0])
    steps = jnp.arange(time, dtype=jnp.int32)[None, :, None]
    hs = jnp.where(steps < start[:, None, None], 0.0,
                   jnp.where(steps >= (start + length)[:, None, None],
                             h_last[:, None, :], _roll_rows(y, start)))
    return hs, (h_last, c_last)

  if mask is None:
    return on_cudnn(jnp.zeros((batch,), jnp.int32), jnp.full((batch,), time, jnp.int32))
  start, length, is_block = contiguous_block(mask)
  return jax.lax.cond(is_block, lambda: on_cudnn(start, length), fallback)
