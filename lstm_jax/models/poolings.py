"""Poolings: how the last recurrent layer's output becomes one vector, each an
entry of `POOLINGS` with its Keras layer.

  last     the layer's final state (Keras: the last LSTM without return_sequences)
  max      GlobalMaxPooling1D over the sequence
  average  GlobalAveragePooling1D over the real (unmasked) steps

The values `model.pooling` accepts, the model's check and the Keras import and
export (`keras_compat.py`) read the registry; a new pooling is one entry here.
"""

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from lstm_jax import registry

Pool = Callable[[jax.Array, Optional[jax.Array]], jax.Array]


@dataclasses.dataclass(frozen=True)
class Pooling:
  """One pooling.

  Attributes:
    pool: (<float32>[B, T, H] sequence, <bool>[B, T] mask or None) →
      <float32>[B, H]; None: the last layer's final state, no sequence needed.
    keras_layer: the name of its Keras layer class (`keras.layers.X`), which
      the Keras import and export map it to; "" only for the final state,
      which is no layer.
  """
  pool: Optional[Pool]
  keras_layer: str = ""

  @property
  def needs_sequence(self) -> bool:
    """The last recurrent layer returns its whole sequence."""
    return self.pool is not None


def _max(sequence: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
  # Keras 3's GlobalMaxPooling1D ignores the mask: padded steps take part.
  del mask
  return jnp.max(sequence, axis=1)


def _average(sequence: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
  # Keras 3's GlobalAveragePooling1D averages the real steps. A row with no real
  # step gives zeros here (Keras divides 0 by 0).
  if mask is None:
    return jnp.mean(sequence, axis=1)
  weights = mask.astype(sequence.dtype)[:, :, None]
  return jnp.sum(sequence * weights, axis=1) / jnp.maximum(jnp.sum(weights, axis=1), 1.0)


POOLINGS: registry.Registry[Pooling] = registry.Registry("pooling", key="model.pooling")
POOLINGS.register("last", Pooling(None))
POOLINGS.register("max", Pooling(_max, "GlobalMaxPooling1D"))
POOLINGS.register("average", Pooling(_average, "GlobalAveragePooling1D"))
