"""Masks the fused-recurrence tests share: time-major, for a batch of 4 rows."""

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
