"""The fast GRU recurrence: a `jax.custom_vjp` with a hand-written backward.

`fused_recurrence` has the signature and results of `scan.scan` of the GRU
cell (the definition, `recurrent/gru.py`), for both of Keras's forms
(`reset_after` True and False). The step, with x = x_t @ kernel + bias split
into (x_z, x_r, x_h), U the recurrent kernel's blocks, b' the recurrent bias
and h_in = h_prev times the recurrent-dropout mask:

  reset_after=True:   a = h_in @ U + b'; z, r = sigmoid(x_zr + a_zr);
                      g = tanh(x_h + r * a_h)
  reset_after=False:  z, r = sigmoid(x_zr + h_in @ U_zr); g = tanh(x_h + (r * h_in) @ U_h)
  h = g + z * (h_prev - g)

What makes it fast on a CPU:

* each step's elementwise work is one vectorized kernel. XLA:CPU vectorizes a
  loop-body kernel only when it reads each step's slice of an input once and
  builds no concatenation along the last axis, so the gates' inputs x_z, x_r,
  x_h are three arrays, each gate is computed on its own (sigmoid as one tanh,
  sigmoid(x) = (1 + tanh(x / 2)) / 2), and the backward writes its three
  gradient blocks into one `[T, B, 3H]` buffer in place. The reference scan
  reads three slices of one step of `x_proj` and runs its forward 1.5-2.5x
  slower;
* the forward stores only the gates z, r, g (and with `reset_after` the
  candidate's recurrent part a_h), each `[T, B, H]`;
* the reverse loop carries only dh: the step's gate slopes from the stored
  activations, and the recurrent matmuls (per gate block, or for
  `reset_after=False` the candidate's first, as the reset gate's gradient
  needs it);
* the recurrent-kernel gradient is computed after the loop over all `T * B`
  rows (`[H, T*B] @ [T*B, 2H]` and `[H, T*B] @ [T*B, H]`), so XLA can run it on
  another core while a later time piece's loop runs.

Unlike `lstm_fused`, the gate slopes are not precomputed over all rows before
the reverse loop: with the loop's elementwise kernels vectorized, the extra
passes over `[T, B, 3H]` arrays cost more than they save (docs/PERFORMANCE.md).
`tests/test_fused_gru.py` holds this equal to `scan.scan` of the GRU cell,
values and gradients.
"""

import functools
from typing import Optional

import jax
import jax.numpy as jnp

from lstm_jax.recurrent import backward
from lstm_jax.recurrent import cell as cell_lib


def fused_recurrence(reset_after: bool, x_proj: jax.Array, weights: tuple,
                     mask: Optional[jax.Array], state0: jax.Array,
                     recurrent_mask: Optional[jax.Array] = None
                     ) -> tuple[jax.Array, jax.Array]:
  """Runs the GRU over time with a hand-written backward pass.

  Args:
    reset_after: Keras's `reset_after` of the cell.
    x_proj: <float32|bfloat16>[T, B, 3H] time-major `x_t @ kernel + input bias`.
    weights: `GRUCell.recurrent_weights(...)`: the recurrent kernel <[H, 3H]> in the
      compute dtype and the recurrent bias <float32>[3H] (None unless `reset_after`).
    mask: <bool>[T, B], or None when every step is valid.
    state0: h0 <float32>[B, H].
    recurrent_mask: <float32>[B, H] recurrent-dropout mask, already scaled, or None.

  Returns:
    hs <float32>[T, B, H] and the final h <float32>[B, H], exactly as `scan.scan`.
  """
  recurrent_kernel, recurrent_bias = weights
  return _fused(reset_after, x_proj, recurrent_kernel, recurrent_bias, mask, state0,
                recurrent_mask)


def _sigmoid_by_tanh(a: jax.Array) -> jax.Array:
  return jnp.tanh(a * 0.5) * 0.5 + 0.5


def _forward_scan(reset_after, x_proj, recurrent_kernel, recurrent_bias, mask, h0,
                  recurrent_mask, keep_residuals):
  """The forward loop; with `keep_residuals` also stacks each step's gates z, r, g
  and, with `reset_after`, the candidate's recurrent part a_h, each <[T, B, H]>."""
  units = h0.shape[-1]
  kernel_zr, kernel_h = recurrent_kernel[:, :2 * units], recurrent_kernel[:, 2 * units:]
  # Each gate's input as its own array, each gate computed on its own: XLA:CPU
  # vectorizes a step's elementwise kernel only when it reads one step of an
  # input once, and a concatenation along the last axis not at all.
  x_z, x_r, x_h = jnp.split(x_proj, 3, axis=-1)

  def step(h_prev, inputs):
    *step_x, step_mask = inputs
    step_x_z, step_x_r, step_x_h = (x.astype(jnp.float32) for x in step_x)
    h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
    if reset_after:
      inner = cell_lib.recurrent_projection(h_in, recurrent_kernel) + recurrent_bias
      inner_h = inner[:, 2 * units:]
      z = _sigmoid_by_tanh(step_x_z + inner[:, :units])
      r = _sigmoid_by_tanh(step_x_r + inner[:, units:2 * units])
      g = jnp.tanh(step_x_h + r * inner_h)
    else:
      inner_h = None
      inner_zr = cell_lib.recurrent_projection(h_in, kernel_zr)
      z = _sigmoid_by_tanh(step_x_z + inner_zr[:, :units])
      r = _sigmoid_by_tanh(step_x_r + inner_zr[:, units:])
      g = jnp.tanh(step_x_h + cell_lib.recurrent_projection(r * h_in, kernel_h))
    h = g + z * (h_prev - g)
    if step_mask is not None:
      h = jnp.where(step_mask[:, None], h, h_prev)
    return h, ((h, z, r, g, inner_h) if keep_residuals else h)

  return jax.lax.scan(step, h0, (x_z, x_r, x_h, mask))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused(reset_after, x_proj, recurrent_kernel, recurrent_bias, mask, h0, recurrent_mask):
  h_last, hs = _forward_scan(reset_after, x_proj, recurrent_kernel, recurrent_bias, mask, h0,
                             recurrent_mask, keep_residuals=False)
  return hs, h_last


def _fused_fwd(reset_after, x_proj, recurrent_kernel, recurrent_bias, mask, h0,
               recurrent_mask):
  h_last, (hs, z, r, g, inner_h) = _forward_scan(
      reset_after, x_proj, recurrent_kernel, recurrent_bias, mask, h0, recurrent_mask,
      keep_residuals=True)
  # A zero-size array records x_proj's dtype for its cotangent.
  residuals = (jnp.zeros((0,), x_proj.dtype), recurrent_kernel, recurrent_bias, mask, h0,
               recurrent_mask, hs, z, r, g, inner_h)
  return (hs, h_last), residuals


def _fused_bwd(reset_after, residuals, cotangents):
  """One reverse loop over dh writing d x_proj; then the kernel gradient over all rows.

  A step's vector-Jacobian product, with dh the gradient reaching its h:
    dz = dh (h_prev - g) z (1 - z)         update gate pre-activation
    dg = dh (1 - z) (1 - g^2)              candidate pre-activation
    dr = dg a_h r (1 - r)                  (reset_after), or
    dr = dq h_in r (1 - r), dq = dg @ U_h^T   (reset_before: dq reaches r * h_in)
    dh_prev = dh z + (d(recurrent part) @ U^T) * recurrent mask
  A masked step passes dh through unchanged and contributes nothing else.
  """
  (x_dtype_tag, recurrent_kernel, recurrent_bias, mask, h0, recurrent_mask, hs, z, r, g,
   inner_h) = residuals
  del recurrent_bias  # not needed: its gradient is the recurrent part's, summed over rows
  d_hs, d_h_last = cotangents
  time, batch, units = hs.shape
  kernel_dtype = recurrent_kernel.dtype
  kernel_z, kernel_r, kernel_h = (recurrent_kernel[:, k * units:(k + 1) * units]
                                  for k in range(3))
  h_prev = backward.shift_in(h0, hs)

  def back_matmul(d, kernel_block):
    return jnp.dot(d.astype(kernel_dtype), kernel_block.T, preferred_element_type=jnp.float32)

  def step(i, carry):
    t = time - 1 - i
    dh_next, d_x, d_candidate_inner, d_recurrent_mask = carry

    def at(a):
      return jax.lax.dynamic_index_in_dim(a, t, keepdims=False)

    step_h_prev, step_z, step_r, step_g = at(h_prev), at(z), at(r), at(g)
    h_in = step_h_prev if recurrent_mask is None else step_h_prev * recurrent_mask
    dh = at(d_hs) + dh_next
    dz = dh * (step_h_prev - step_g) * step_z * (1.0 - step_z)
    dg = dh * (1.0 - step_z) * (1.0 - step_g * step_g)
    dh_direct = dh * step_z
    if mask is not None:
      keep = at(mask)[:, None]
      dz = jnp.where(keep, dz, 0.0)
      dg = jnp.where(keep, dg, 0.0)
      dh_direct = jnp.where(keep, dh_direct, dh)
    reset_slope = step_r * (1.0 - step_r)
    if reset_after:
      dr = dg * at(inner_h) * reset_slope
      d_inner_h = dg * step_r
      dh_in = (back_matmul(dz, kernel_z) + back_matmul(dr, kernel_r) +
               back_matmul(d_inner_h, kernel_h))
      d_candidate_inner = jax.lax.dynamic_update_slice(d_candidate_inner, d_inner_h[None],
                                                       (t, 0, 0))
    else:
      dq = back_matmul(dg, kernel_h)
      dr = dq * h_in * reset_slope
      dh_in = back_matmul(dz, kernel_z) + back_matmul(dr, kernel_r) + dq * step_r
    for block, d_block in enumerate((dz, dr, dg)):
      d_x = jax.lax.dynamic_update_slice(d_x, d_block[None], (t, 0, block * units))
    if recurrent_mask is not None:
      d_recurrent_mask = d_recurrent_mask + dh_in * step_h_prev
      dh_in = dh_in * recurrent_mask
    return dh_direct + dh_in, d_x, d_candidate_inner, d_recurrent_mask

  dh0, d_x, d_candidate_inner, d_recurrent_mask = jax.lax.fori_loop(
      0, time, step,
      (d_h_last, jnp.zeros((time, batch, 3 * units), jnp.float32),
       jnp.zeros((time, batch, units), jnp.float32) if reset_after else None,
       None if recurrent_mask is None else jnp.zeros_like(h0)))

  h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
  d_zr = d_x[..., :2 * units]
  if reset_after:
    d_kernel_h = backward.flat_matmul(h_in, d_candidate_inner, kernel_dtype)
    d_recurrent_bias = jnp.concatenate([jnp.sum(d_zr, axis=(0, 1)),
                                        jnp.sum(d_candidate_inner, axis=(0, 1))])
  else:
    d_kernel_h = backward.flat_matmul(r * h_in, d_x[..., 2 * units:], kernel_dtype)
    d_recurrent_bias = None
  d_kernel = jnp.concatenate([backward.flat_matmul(h_in, d_zr, kernel_dtype), d_kernel_h], axis=-1)
  return (d_x.astype(x_dtype_tag.dtype), d_kernel.astype(kernel_dtype), d_recurrent_bias,
          None, dh0, d_recurrent_mask)


_fused.defvjp(_fused_fwd, _fused_bwd)
