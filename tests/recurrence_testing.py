"""What the fused-recurrence tests share: time-major masks for a batch of 4 rows, and
the comparison of output trees."""

import jax
import jax.numpy as jnp
import numpy as np

MASK_KINDS = ["none", "post_padding", "pre_padding", "holes"]


def time_major_mask(kind: str, time: int):
  """<bool>[time, 4] mask of `kind`, or None for "none"; rows of a padded kind have
  lengths time, 4, 1 and 0 (the last row is all padding)."""
  lengths = np.array([time, 4, 1, 0])
  steps = np.arange(time)[:, None]
  if kind == "none":
    return None
  if kind == "post_padding":
    return jnp.asarray(steps < lengths)
  if kind == "pre_padding":
    return jnp.asarray(steps >= time - lengths)
  if kind == "holes":
    return jnp.asarray(np.random.default_rng(0).random((time, len(lengths))) < 0.6)
  raise ValueError(kind)


def assert_trees_close(actual, expected, rtol: float, atol: float) -> None:
  """The same tree structure and dtypes, and values within the tolerances."""
  for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
    assert a.dtype == e.dtype
    np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(e, np.float32),
                               rtol=rtol, atol=atol)
