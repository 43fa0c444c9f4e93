"""The cell interface: what a recurrent layer needs to know of its cell, and `CELLS`.

A cell is a frozen dataclass whose fields are its Keras options, named as the
Keras layer names its arguments (GRU's `reset_after`, SimpleRNN's
`activation`): hashable, so a Flax module can hold it, and read from or
written to a Keras layer's config as they are (`keras_compat`). The layers of
`recurrent.layers` run every cell through one code path:

  x_proj = x @ kernel + cell.input_bias(bias)             <float32>[T, B, G*H]
  hs, state = recurrence(x_proj, cell.recurrent_weights(recurrent_kernel, bias),
                         mask, cell.initial_state(B, H), recurrent_mask)

with Keras's weight layout, `kernel <[F, G*H]>`, `recurrent_kernel <[H, G*H]>`,
`bias <cell.bias_shape(H)>`, the G gate blocks in Keras's order. The recurrence
is the reference `lax.scan` of `cell.step` (`recurrent.scan`, the definition of
what the cell computes) or the cell's own fast path, tested equal to it.

Adding a cell: one module defining a `Cell` subclass and one `CELLS.register`
line in `recurrent/__init__.py` (docs/ARCHITECTURE.md, "Recurrent cells").
"""

import dataclasses
import types
from typing import Any, Callable, ClassVar, Mapping, Optional

import jax
import jax.numpy as jnp

from lstm_jax import registry

# A cell's state: an array or a tuple of arrays, each <float32>[B, H].
State = Any
# (x_proj, weights, mask, state0, recurrent_mask) -> (hs <[T, B, H]>, final state):
# the signature of `scan.scan` bound to a cell, and of every fast path.
Recurrence = Callable[..., tuple[jax.Array, State]]


def recurrent_projection(h: jax.Array, recurrent_kernel: jax.Array) -> jax.Array:
  """<float32>[B, H] @ <dtype>[H, K] in the kernel's dtype, accumulated in float32."""
  return jnp.dot(h.astype(recurrent_kernel.dtype), recurrent_kernel,
                 preferred_element_type=jnp.float32)


@dataclasses.dataclass(frozen=True)
class Cell:
  """A recurrent cell; subclasses define the class attributes and `step`.

  Class attributes:
    name: the registry key, and the prefix of the classifier's layer names.
    keras_class: the Keras layer of this cell ("LSTM", "GRU", "SimpleRNN"); None for
      a cell Keras has no layer of (`keras_compat` then refuses to export it).
    keras_requires: the Keras layer's other arguments the cell computes with one
      value only (Keras's defaults): a Keras layer with another is refused.
    gates: G, the number of H-wide column blocks of the kernels.
    gate_names: the names `step` gives its gate activations, in Keras's order.
    state_names: the names of the state's arrays, in `jax.tree.leaves(state)` order.
  """
  name: ClassVar[str]
  keras_class: ClassVar[Optional[str]] = None
  keras_requires: ClassVar[Mapping[str, Any]] = types.MappingProxyType({})
  gates: ClassVar[int]
  gate_names: ClassVar[tuple[str, ...]]
  state_names: ClassVar[tuple[str, ...]] = ("hidden",)

  @classmethod
  def option_names(cls) -> tuple[str, ...]:
    """The names of the cell's own options (its fields)."""
    return tuple(field.name for field in dataclasses.fields(cls))

  def check(self) -> None:
    """Raises ValueError naming an option that makes no cell (none by default)."""

  def options(self) -> dict[str, Any]:
    """The cell's own options (its fields), as a config's layer dict holds them."""
    return dataclasses.asdict(self)

  def bias_shape(self, units: int) -> tuple[int, ...]:
    return (self.gates * units,)

  def bias_init(self, key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32
                ) -> jax.Array:
    return jax.nn.initializers.zeros(key, shape, dtype)  # Keras's bias_initializer="zeros"

  def input_bias(self, bias: jax.Array) -> jax.Array:
    """<float32>[G*H]: the part of the bias added to `x @ kernel`."""
    return bias

  def recurrent_weights(self, recurrent_kernel: jax.Array, bias: jax.Array) -> Any:
    """What `step` needs besides the projected input: by default the recurrent kernel."""
    del bias
    return recurrent_kernel

  def initial_state(self, batch: int, units: int) -> State:
    return jnp.zeros((batch, units), jnp.float32)

  def output(self, state: State) -> jax.Array:
    """<float32>[B, H] the output h of a state."""
    return state

  def step(self, z_x: jax.Array, state: State, weights: Any,
           recurrent_mask: Optional[jax.Array]) -> tuple[State, dict[str, jax.Array]]:
    """One time step: the gate equations, written out.

    Args:
      z_x: <float32|bfloat16>[B, G*H] the step's input projection `x_t @ kernel + bias`.
      state: the state before the step.
      weights: `recurrent_weights(...)`.
      recurrent_mask: <float32>[B, H] the recurrent-dropout mask on h_{t-1}, already
        scaled, or None.

    Returns:
      The new state and the gate activations by name (`gate_names`), each <float32>[B, H].
    """
    raise NotImplementedError

  def fused_recurrence(self) -> Optional[Recurrence]:
    """The cell's fast recurrence (a `custom_vjp` tested equal to `scan`), or None."""
    return None

  def cudnn_layer(self) -> Optional[Callable[..., tuple[jax.Array, State]]]:
    """A whole layer on cuDNN (CUDA GPUs; `recurrent.cudnn`), or None: the fused path runs."""
    return None


CELLS: registry.Registry[type[Cell]] = registry.Registry(
    "recurrent cell", key="cell")
