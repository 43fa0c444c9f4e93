"""The fast LSTM recurrence: a `jax.custom_vjp` with a cuDNN-style backward.

`fused_recurrence` has the signature and results of `scan.scan` of the LSTM
cell (the definition, `recurrent/lstm.py`). Autodiff of the reference scan
stacks every intermediate of every step and runs the gate derivatives inside
the reverse loop, where elementwise math is several times slower than over all
rows at once. Here:

* the four gate nonlinearities are one `tanh` over the step's `[B, 4H]`
  pre-activations, by sigmoid(x) = (1 + tanh(x / 2)) / 2: one pass instead of
  four slices with exp and divide, the step's costliest elementwise work;
* the forward scan stores only the gate activations and the cell states;
* everything of the backward that does not depend on the incoming gradient
  (gate slopes, which are polynomials of the stored activations, tanh(c), the
  mask) is computed once over all `T * B` rows before the reverse loop, as
  per-step coefficients;
* the reverse loop carries only `(dh, dc)`: a few multiply-adds and the
  `dz @ recurrent_kernel.T` matmul per step, emitting `dz`;
* the recurrent-kernel gradient is one `[H, T*B] @ [T*B, 4H]` matmul afterwards.

`tests/test_fused_lstm.py` and the Keras equivalence tests hold this equal to
the explicit gate equations of `recurrent/lstm.py`.
"""

from typing import Optional

import jax
import jax.numpy as jnp

from lstm_jax.recurrent import backward
from lstm_jax.recurrent import cell as cell_lib


def fused_recurrence(
    x_proj: jax.Array,
    recurrent_kernel: jax.Array,
    mask: Optional[jax.Array],
    state0: tuple[jax.Array, jax.Array],
    recurrent_mask: Optional[jax.Array] = None,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
  """Runs the LSTM over time; arguments (x_proj <[T, B, 4H]>, recurrent_kernel
  <[H, 4H]>, mask <bool>[T, B] or None, state0 = (h0, c0) <[B, H]> each,
  recurrent_mask <[B, H]> or None), results and masking exactly as `scan.scan`
  of the LSTM cell, with a hand-written backward pass."""
  h0, c0 = state0
  return _fused(x_proj, recurrent_kernel, mask, h0, c0, recurrent_mask)


def _gate_constants(units: int) -> tuple[jax.Array, jax.Array]:
  """<float32>[4H] `scale`, `offset` with gates = tanh(z * scale) * scale + offset.

  Sigmoid gates (i, f, o): scale 1/2, offset 1/2; the cell update: scale 1,
  offset 0 (it is tanh(z) itself).
  """
  half = jnp.full((units,), 0.5, jnp.float32)
  scale = jnp.concatenate([half, half, jnp.ones_like(half), half])
  offset = jnp.concatenate([half, half, jnp.zeros_like(half), half])
  return scale, offset


def _cell(z, c_prev, scale, offset):
  """One step from pre-activations <[B, 4H]>: (h, c, gate activations <[B, 4H]>)."""
  gates = jnp.tanh(z * scale) * scale + offset
  input_gate, forget_gate, cell_update, output_gate = jnp.split(gates, 4, axis=-1)
  c = forget_gate * c_prev + input_gate * cell_update
  h = output_gate * jnp.tanh(c)
  return h, c, gates


def _forward_scan(x_proj, recurrent_kernel, mask, h0, c0, recurrent_mask,
                  keep_residuals):
  """The forward loop; with `keep_residuals` also stacks gates and c per step."""
  scale, offset = _gate_constants(h0.shape[-1])

  def step(carry, inputs):
    h_prev, c_prev = carry
    z_x, step_mask = inputs
    h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
    z = z_x.astype(jnp.float32) + cell_lib.recurrent_projection(
        h_in, recurrent_kernel)
    h, c, gates = _cell(z, c_prev, scale, offset)
    if step_mask is not None:
      keep = step_mask[:, None]
      h = jnp.where(keep, h, h_prev)
      c = jnp.where(keep, c, c_prev)
    return (h, c), ((h, c, gates) if keep_residuals else h)

  return jax.lax.scan(step, (h0, c0), (x_proj, mask))


@jax.custom_vjp
def _fused(x_proj, recurrent_kernel, mask, h0, c0, recurrent_mask):
  (h_last, c_last), hs = _forward_scan(
      x_proj, recurrent_kernel, mask, h0, c0, recurrent_mask,
      keep_residuals=False)
  return hs, (h_last, c_last)


def _fused_fwd(x_proj, recurrent_kernel, mask, h0, c0, recurrent_mask):
  """The forward pass; keeps gates <[T, B, 4H]> and c <[T, B, H]> for the backward."""
  (h_last, c_last), (hs, cs, gates) = _forward_scan(
      x_proj, recurrent_kernel, mask, h0, c0, recurrent_mask,
      keep_residuals=True)
  # A zero-size array records x_proj's dtype for its cotangent.
  residuals = (jnp.zeros((0,), x_proj.dtype), recurrent_kernel, mask, h0, c0, recurrent_mask,
               hs, cs, gates)
  return (hs, (h_last, c_last)), residuals


def _backward_coefficients(gates, c, c_prev, mask):
  """Per-step factors of the cell's vector-Jacobian product, over all rows.

  With dh, dc the gradients reaching h_t and c_t of a step:
    dc_total = dc + dh * dc_from_dh
    dz       = concat(dc_total * dz_ifc_from_dc, dh * dz_o_from_dh)
    dc_prev  = dc_total * forget_gate
  A masked step passes (dh, dc) through unchanged: its factors are zero and
  its forget factor is one.

  Args:
    gates: <float32>[T, B, 4H] gate activations i, f, g, o.
    c: <float32>[T, B, H] cell state after each step.
    c_prev: <float32>[T, B, H] cell state before each step.
    mask: <bool>[T, B] or None.

  Returns:
    dc_from_dh <[T, B, H]>, dz_ifc_from_dc <[T, B, 3H]>, dz_o_from_dh
    <[T, B, H]>, forget <[T, B, H]>, all float32.
  """
  input_gate, forget_gate, cell_update, output_gate = jnp.split(gates, 4, axis=-1)
  # sigmoid' = s (1 - s) and tanh' = 1 - t^2, from the activations themselves.
  tanh_c = jnp.tanh(c)
  dc_from_dh = output_gate * (1.0 - tanh_c * tanh_c)
  dz_ifc_from_dc = jnp.concatenate([
      cell_update * input_gate * (1.0 - input_gate),
      c_prev * forget_gate * (1.0 - forget_gate),
      input_gate * (1.0 - cell_update * cell_update),
  ], axis=-1)
  dz_o_from_dh = tanh_c * output_gate * (1.0 - output_gate)
  forget = forget_gate
  if mask is not None:
    keep = mask[..., None]
    dc_from_dh = jnp.where(keep, dc_from_dh, 0.0)
    dz_ifc_from_dc = jnp.where(keep, dz_ifc_from_dc, 0.0)
    dz_o_from_dh = jnp.where(keep, dz_o_from_dh, 0.0)
    forget = jnp.where(keep, forget, 1.0)
  return dc_from_dh, dz_ifc_from_dc, dz_o_from_dh, forget


def _fused_bwd(residuals, cotangents):
  """One reverse scan over (dh, dc) emitting dz; then the kernel gradient in one matmul."""
  (x_dtype_tag, recurrent_kernel, mask, h0, c0, recurrent_mask, hs, cs,
   gates) = residuals
  d_hs, (d_h_last, d_c_last) = cotangents
  h_prev = backward.shift_in(h0, hs)
  coefficients = _backward_coefficients(gates, cs, backward.shift_in(c0, cs), mask)
  kernel_t = recurrent_kernel.T
  pass_through = None if mask is None else (~mask)[..., None].astype(jnp.float32)

  def step(carry, inputs):
    dh_next, dc_next = carry
    d_h, (dc_from_dh, dz_ifc_from_dc, dz_o_from_dh, forget), passed = inputs
    dh = d_h + dh_next
    dc = dc_next + dh * dc_from_dh
    dz = jnp.concatenate([jnp.tile(dc, 3) * dz_ifc_from_dc,
                          dh * dz_o_from_dh], axis=-1)
    dh_in = jnp.dot(dz.astype(kernel_t.dtype), kernel_t,
                    preferred_element_type=jnp.float32)
    dh_prev = dh_in if recurrent_mask is None else dh_in * recurrent_mask
    if passed is not None:
      dh_prev = dh_prev + passed * dh
    return (dh_prev, dc * forget), (dz, dh_in if recurrent_mask is not None
                                    else None)

  (dh0, dc0), (dz, dh_in) = jax.lax.scan(
      step, (d_h_last, d_c_last), (d_hs, coefficients, pass_through),
      reverse=True)

  h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
  d_kernel = backward.flat_matmul(h_in, dz, recurrent_kernel.dtype)
  d_recurrent_mask = (None if recurrent_mask is None
                      else jnp.sum(dh_in * h_prev, axis=0))
  return (dz.astype(x_dtype_tag.dtype), d_kernel.astype(recurrent_kernel.dtype), None,
          dh0, dc0, d_recurrent_mask)


_fused.defvjp(_fused_fwd, _fused_bwd)
