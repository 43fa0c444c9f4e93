"""The LSTM's `fused_recurrence` equals the reference `scan` of its cell: values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import recurrence_testing
from lstm_jax.recurrent import lstm
from lstm_jax.recurrent import lstm_fused
from lstm_jax.recurrent import scan

T, B, H = 6, 4, 3


def scan_recurrence(x_proj, kernel, mask, h0, c0, recurrent_mask=None):
  return scan.scan(lstm.LSTMCell(), x_proj, kernel, mask, (h0, c0), recurrent_mask)


def fused_recurrence(x_proj, kernel, mask, h0, c0, recurrent_mask=None):
  return lstm_fused.fused_recurrence(x_proj, kernel, mask, (h0, c0), recurrent_mask)


def _mask(kind: str):
  return recurrence_testing.time_major_mask(kind, T)


def _inputs(dtype=jnp.float32, with_recurrent_mask=False):
  keys = jax.random.split(jax.random.key(42), 5)
  x_proj = jax.random.normal(keys[0], (T, B, 4 * H)).astype(dtype)
  kernel = (0.7 * jax.random.normal(keys[1], (H, 4 * H))).astype(dtype)
  h0 = 0.5 * jax.random.normal(keys[2], (B, H))
  c0 = 0.5 * jax.random.normal(keys[3], (B, H))
  recurrent_mask = (
      2.0 * jax.random.bernoulli(keys[4], 0.5, (B, H)).astype(jnp.float32)
      if with_recurrent_mask else None)
  return x_proj, kernel, h0, c0, recurrent_mask


def _loss(recurrence_fn, mask):
  """A scalar that weighs every output differently, so each gradient is checked."""
  weights = jax.random.normal(jax.random.key(7), (T, B, H))

  def loss(x_proj, kernel, h0, c0, recurrent_mask):
    hs, (h_last, c_last) = recurrence_fn(x_proj, kernel, mask, h0, c0, recurrent_mask)
    return (jnp.sum(hs * weights) + jnp.sum(jnp.sin(h_last)) +
            jnp.sum(jnp.cos(c_last)))

  return loss


def _grads(recurrence_fn, mask, inputs, transform=lambda f: f):
  argnums = (0, 1, 2, 3) if inputs[-1] is None else (0, 1, 2, 3, 4)
  return transform(jax.grad(_loss(recurrence_fn, mask), argnums=argnums))(*inputs)


@pytest.mark.parametrize("mask_kind", recurrence_testing.MASK_KINDS)
def test_outputs_and_final_state_equal_reference(mask_kind):
  x_proj, kernel, h0, c0, _ = _inputs()
  mask = _mask(mask_kind)
  expected = scan_recurrence(x_proj, kernel, mask, h0, c0)
  actual = jax.jit(fused_recurrence)(x_proj, kernel, mask, h0, c0)
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mask_kind", recurrence_testing.MASK_KINDS)
def test_gradients_equal_reference(mask_kind):
  inputs = _inputs()
  mask = _mask(mask_kind)
  expected = _grads(scan_recurrence, mask, inputs)
  actual = _grads(fused_recurrence, mask, inputs, transform=jax.jit)
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mask_kind", ["none", "pre_padding"])
def test_gradients_with_recurrent_dropout_equal_reference(mask_kind):
  inputs = _inputs(with_recurrent_mask=True)
  mask = _mask(mask_kind)
  expected = _grads(scan_recurrence, mask, inputs)
  actual = _grads(fused_recurrence, mask, inputs, transform=jax.jit)
  assert len(actual) == 5
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-4, atol=1e-6)


def test_grad_of_jit_equals_reference():
  inputs = _inputs()
  mask = _mask("pre_padding")
  jitted = jax.jit(fused_recurrence)
  expected = _grads(scan_recurrence, mask, inputs)
  actual = _grads(jitted, mask, inputs)
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-4, atol=1e-6)


def test_fully_masked_row_keeps_initial_state_and_passes_gradient_through():
  x_proj, kernel, h0, c0, _ = _inputs()
  mask = _mask("post_padding")  # row 3 has length 0
  hs, (h_last, c_last) = fused_recurrence(x_proj, kernel, mask, h0, c0)
  np.testing.assert_array_equal(hs[:, 3], jnp.broadcast_to(h0[3], (T, H)))
  np.testing.assert_array_equal(h_last[3], h0[3])
  np.testing.assert_array_equal(c_last[3], c0[3])
  d_x, _, d_h0, d_c0 = _grads(fused_recurrence, mask, (x_proj, kernel, h0, c0, None))
  np.testing.assert_array_equal(d_x[:, 3], 0.0)
  # Every output of the row is h0 and the final c is c0: the loss's own slopes.
  weights = jax.random.normal(jax.random.key(7), (T, B, H))
  np.testing.assert_allclose(d_h0[3], weights[:, 3].sum(0) + jnp.cos(h0[3]), rtol=1e-5)
  np.testing.assert_allclose(d_c0[3], -jnp.sin(c0[3]), rtol=1e-5)


@pytest.mark.parametrize("mask_kind", ["none", "pre_padding"])
def test_bfloat16_matmuls_close_to_reference(mask_kind):
  inputs = _inputs(dtype=jnp.bfloat16)
  mask = _mask(mask_kind)
  x_proj, kernel, h0, c0, _ = inputs
  expected = scan_recurrence(x_proj, kernel, mask, h0, c0)
  actual = jax.jit(fused_recurrence)(x_proj, kernel, mask, h0, c0)
  assert actual[0].dtype == jnp.float32
  recurrence_testing.assert_trees_close(actual, expected, rtol=2e-2, atol=2e-2)
  expected_grads = _grads(scan_recurrence, mask, inputs)
  actual_grads = _grads(fused_recurrence, mask, inputs, transform=jax.jit)
  # Gradients keep the dtypes of their inputs (bfloat16 x_proj and kernel).
  recurrence_testing.assert_trees_close(actual_grads, expected_grads, rtol=5e-2, atol=5e-2)
