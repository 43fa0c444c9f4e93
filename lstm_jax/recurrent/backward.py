"""Array helpers of the fused recurrences' hand-written backward passes."""

import jax
import jax.numpy as jnp


def shift_in(first: jax.Array, xs: jax.Array) -> jax.Array:
  """<[B, ...]>, <[T, B, ...]> -> <[T, B, ...]>: the value before each step."""
  return jnp.concatenate([first[None], xs[:-1]], axis=0)


def flat_matmul(a: jax.Array, b: jax.Array, dtype) -> jax.Array:
  """a <[T, B, K]>, b <[T, B, N]> -> <float32>[K, N], the sum over rows of a^T b in
  `dtype` (rows flattened to [T*B, .] first: an einsum over (t, b) would transpose b)."""
  return jnp.dot(a.reshape(-1, a.shape[-1]).astype(dtype).T,
                 b.reshape(-1, b.shape[-1]).astype(dtype),
                 preferred_element_type=jnp.float32)
