"""What a recurrent layer reads: its inputs in one of three forms, with one interface.

The first layer of a text model can be given its inputs three ways; all give the
same results up to float rounding, and the layer runs one code path over them:

  * `Dense`: the input vectors themselves, <float32>[B, T, F].
  * `DistinctRows`: the vectors of a batch's vocabulary (its distinct tokens)
    <float32>[S, F] and, for each slot, the index of the one it holds,
    `token_index` <int32>[B, T]. Text repeats its tokens, so projecting each
    distinct row once is far cheaper than every slot (training and evaluation,
    `model.distinct_tokens`).
  * `Projected`: the input projection `x @ kernel + bias` already computed,
    time-major <float32>[T, B, G*H] (inference from a per-token table,
    `model.input_projection_table`); the layer then needs no kernel.

A layer asks its inputs for their batch and time sizes, a time-reversed copy
(`go_backwards`), a copy with input dropout, the two directions' inputs of a
`Bidirectional`, the dense vectors (cuDNN projects them itself; None when they
are not at hand) and a function giving each time piece's projection.
"""

from typing import Any, Callable, Optional, Union

import flax.struct
import jax
import jax.numpy as jnp

# (start, stop) -> <float32>[stop - start, B, G*H], the projection of those steps.
PieceProjection = Callable[[int, int], jax.Array]
# shape [B, F] -> <float32>[B, F] a scaled keep-mask: one per sequence, reused at every step.
DrawDropoutMask = Callable[[tuple[int, int]], jax.Array]


def _project(vectors: jax.Array, kernel: jax.Array, bias: jax.Array, dtype: Any) -> jax.Array:
  return jnp.dot(vectors.astype(dtype), kernel.astype(dtype),
                 preferred_element_type=jnp.float32) + bias


@flax.struct.dataclass
class Dense:
  """The input vectors, x <float32>[B, T, F]."""
  x: jax.Array

  needs_kernel = True

  @property
  def batch_time(self) -> tuple[int, int]:
    return self.x.shape[0], self.x.shape[1]

  @property
  def features(self) -> int:
    return self.x.shape[-1]

  def check(self, width: int) -> None:
    del width
    if self.x.ndim != 3:
      raise ValueError(f"a recurrent layer expects inputs [batch, time, features], got shape {self.x.shape}")

  def reversed(self) -> "Dense":
    return Dense(jnp.flip(self.x, axis=1))

  def with_dropout(self, draw_mask: DrawDropoutMask) -> "Dense":
    return Dense(self.x * draw_mask((self.x.shape[0], self.x.shape[-1]))[:, None, :])

  def directions(self) -> tuple["Dense", "Dense"]:
    return self, self

  def dense(self) -> Optional[jax.Array]:
    return self.x

  def piece_projection(self, kernel: jax.Array, bias: jax.Array, dtype: Any) -> PieceProjection:
    x_time = jnp.swapaxes(self.x, 0, 1)
    return lambda start, stop: _project(x_time[start:stop], kernel, bias, dtype)


@flax.struct.dataclass
class DistinctRows:
  """rows <float32>[S, F], one per token of the batch vocabulary, and
  token_index <int32>[B, T]: x[b, t] = rows[token_index[b, t]]."""
  rows: jax.Array
  token_index: jax.Array

  needs_kernel = True

  @property
  def batch_time(self) -> tuple[int, int]:
    return self.token_index.shape[0], self.token_index.shape[1]

  @property
  def features(self) -> int:
    return self.rows.shape[-1]

  def check(self, width: int) -> None:
    del width
    if self.rows.ndim != 2 or self.token_index.ndim != 2:
      raise ValueError(f"recurrent layer distinct rows must be [rows, features] and their token_index "
                       f"[batch, time], got shapes {self.rows.shape} and "
                       f"{self.token_index.shape}")

  def reversed(self) -> "DistinctRows":
    return DistinctRows(self.rows, jnp.flip(self.token_index, axis=1))

  def with_dropout(self, draw_mask: DrawDropoutMask) -> Dense:
    # A mask per sequence makes every slot distinct: the rows are spread out.
    return Dense(self.dense()).with_dropout(draw_mask)

  def directions(self) -> tuple["DistinctRows", "DistinctRows"]:
    return self, self

  def dense(self) -> Optional[jax.Array]:
    return jnp.take(self.rows, self.token_index, axis=0)

  def piece_projection(self, kernel: jax.Array, bias: jax.Array, dtype: Any) -> PieceProjection:
    rows_projected = _project(self.rows, kernel, bias, dtype)
    token_index_time = jnp.swapaxes(self.token_index, 0, 1)
    return lambda start, stop: jnp.take(rows_projected, token_index_time[start:stop], axis=0)


@flax.struct.dataclass
class Projected:
  """The input projection itself, time-major: projection <float32>[T, B, G*H]
  (<[T, B, 2*G*H]> for a `Bidirectional`: forward, then backward)."""
  projection: jax.Array

  needs_kernel = False

  @property
  def batch_time(self) -> tuple[int, int]:
    return self.projection.shape[1], self.projection.shape[0]

  def check(self, width: int) -> None:
    if self.projection.ndim != 3 or self.projection.shape[-1] != width:
      raise ValueError(f"recurrent layer projected inputs must be [time, batch, gates * units "
                       f"= {width}], got shape {self.projection.shape}")

  def reversed(self) -> "Projected":
    return Projected(jnp.flip(self.projection, axis=0))

  def with_dropout(self, draw_mask: DrawDropoutMask) -> Dense:
    raise ValueError("recurrent layer input dropout draws a mask per sequence: it needs the inputs, "
                     "not their projection")

  def directions(self) -> tuple["Projected", "Projected"]:
    forward, backward = jnp.split(self.projection, 2, axis=-1)
    return Projected(forward), Projected(backward)

  def dense(self) -> Optional[jax.Array]:
    return None

  def piece_projection(self, kernel: jax.Array, bias: jax.Array, dtype: Any) -> PieceProjection:
    del kernel, bias, dtype
    return lambda start, stop: self.projection[start:stop].astype(jnp.float32)


LayerInputs = Union[Dense, DistinctRows, Projected]


def as_inputs(x: Union[jax.Array, LayerInputs]) -> LayerInputs:
  """An array is the input vectors themselves."""
  if isinstance(x, (Dense, DistinctRows, Projected)):
    return x
  return Dense(jnp.asarray(x, jnp.float32))
