"""The GRU's `fused_recurrence` equals the reference `scan` of its cell, in both of
Keras's forms (`reset_after` True and False): values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import recurrence_testing
from lstm_jax.recurrent import gru
from lstm_jax.recurrent import gru_fused
from lstm_jax.recurrent import scan

T, B, H = 6, 4, 3
RESET_AFTER = pytest.mark.parametrize("reset_after", [True, False],
                                      ids=["reset_after", "reset_before"])


def scan_recurrence(reset_after, x_proj, weights, mask, h0, recurrent_mask=None):
  return scan.scan(gru.GRUCell(reset_after), x_proj, weights, mask, h0, recurrent_mask)


def fused_recurrence(reset_after, x_proj, weights, mask, h0, recurrent_mask=None):
  return gru_fused.fused_recurrence(reset_after, x_proj, weights, mask, h0, recurrent_mask)


def _mask(kind: str):
  return recurrence_testing.time_major_mask(kind, T)


def _inputs(reset_after, dtype=jnp.float32, with_recurrent_mask=False):
  """(x_proj, weights, h0, recurrent_mask) as the layer passes them."""
  keys = jax.random.split(jax.random.key(42), 5)
  x_proj = jax.random.normal(keys[0], (T, B, 3 * H)).astype(dtype)
  kernel = (0.7 * jax.random.normal(keys[1], (H, 3 * H))).astype(dtype)
  bias = 0.5 * jax.random.normal(keys[2], (2, 3 * H))
  weights = gru.GRUCell(reset_after).recurrent_weights(kernel, bias if reset_after else bias[0])
  h0 = 0.5 * jax.random.normal(keys[3], (B, H))
  recurrent_mask = (
      2.0 * jax.random.bernoulli(keys[4], 0.5, (B, H)).astype(jnp.float32)
      if with_recurrent_mask else None)
  return x_proj, weights, h0, recurrent_mask


def _loss(recurrence_fn, reset_after, mask):
  """A scalar that weighs every output differently, so each gradient is checked."""
  weights = jax.random.normal(jax.random.key(7), (T, B, H))

  def loss(x_proj, recurrent_weights, h0, recurrent_mask):
    hs, h_last = recurrence_fn(reset_after, x_proj, recurrent_weights, mask, h0,
                               recurrent_mask)
    return jnp.sum(hs * weights) + jnp.sum(jnp.sin(h_last))

  return loss


def _grads(recurrence_fn, reset_after, mask, inputs, transform=lambda f: f):
  argnums = (0, 1, 2) if inputs[-1] is None else (0, 1, 2, 3)
  return transform(jax.grad(_loss(recurrence_fn, reset_after, mask), argnums=argnums))(
      *inputs)


def test_the_gru_cell_offers_its_fused_path():
  for reset_after in (True, False):
    recurrence = gru.GRUCell(reset_after).fused_recurrence()
    assert recurrence.func is gru_fused.fused_recurrence
    assert recurrence.args == (reset_after,)
    x_proj, weights, h0, _ = _inputs(reset_after)
    recurrence_testing.assert_trees_close(recurrence(x_proj, weights, None, h0),
                        scan_recurrence(reset_after, x_proj, weights, None, h0),
                        rtol=1e-5, atol=1e-6)


@RESET_AFTER
@pytest.mark.parametrize("mask_kind", recurrence_testing.MASK_KINDS)
def test_outputs_and_final_state_equal_reference(reset_after, mask_kind):
  x_proj, weights, h0, _ = _inputs(reset_after)
  mask = _mask(mask_kind)
  expected = scan_recurrence(reset_after, x_proj, weights, mask, h0)
  actual = jax.jit(fused_recurrence, static_argnums=0)(reset_after, x_proj, weights, mask, h0)
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-5, atol=1e-6)


@RESET_AFTER
@pytest.mark.parametrize("mask_kind", recurrence_testing.MASK_KINDS)
def test_gradients_equal_reference(reset_after, mask_kind):
  inputs = _inputs(reset_after)
  mask = _mask(mask_kind)
  expected = _grads(scan_recurrence, reset_after, mask, inputs)
  actual = _grads(fused_recurrence, reset_after, mask, inputs, transform=jax.jit)
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-4, atol=1e-6)


@RESET_AFTER
@pytest.mark.parametrize("mask_kind", ["none", "holes"])
def test_gradients_with_recurrent_dropout_equal_reference(reset_after, mask_kind):
  inputs = _inputs(reset_after, with_recurrent_mask=True)
  mask = _mask(mask_kind)
  expected = _grads(scan_recurrence, reset_after, mask, inputs)
  actual = _grads(fused_recurrence, reset_after, mask, inputs, transform=jax.jit)
  assert len(actual) == 4
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-4, atol=1e-6)


@RESET_AFTER
def test_grad_of_jit_equals_reference(reset_after):
  inputs = _inputs(reset_after)
  mask = _mask("pre_padding")
  jitted = jax.jit(fused_recurrence, static_argnums=0)
  expected = _grads(scan_recurrence, reset_after, mask, inputs)
  actual = _grads(jitted, reset_after, mask, inputs)
  recurrence_testing.assert_trees_close(actual, expected, rtol=1e-4, atol=1e-6)


@RESET_AFTER
def test_fully_masked_row_keeps_initial_state_and_passes_gradient_through(reset_after):
  x_proj, weights, h0, _ = _inputs(reset_after)
  mask = _mask("post_padding")  # row 3 has length 0
  hs, h_last = fused_recurrence(reset_after, x_proj, weights, mask, h0)
  np.testing.assert_array_equal(hs[:, 3], jnp.broadcast_to(h0[3], (T, H)))
  np.testing.assert_array_equal(h_last[3], h0[3])
  d_x, _, d_h0 = _grads(fused_recurrence, reset_after, mask, (x_proj, weights, h0, None))
  np.testing.assert_array_equal(d_x[:, 3], 0.0)
  # Every output of the row is h0: the loss's own slopes.
  weights_of_loss = jax.random.normal(jax.random.key(7), (T, B, H))
  np.testing.assert_allclose(d_h0[3], weights_of_loss[:, 3].sum(0) + jnp.cos(h0[3]),
                             rtol=1e-5)


@RESET_AFTER
@pytest.mark.parametrize("mask_kind", ["pre_padding"])
def test_bfloat16_matmuls_close_to_reference(reset_after, mask_kind):
  inputs = _inputs(reset_after, dtype=jnp.bfloat16)
  mask = _mask(mask_kind)
  x_proj, weights, h0, _ = inputs
  expected = scan_recurrence(reset_after, x_proj, weights, mask, h0)
  actual = jax.jit(fused_recurrence, static_argnums=0)(reset_after, x_proj, weights, mask, h0)
  assert actual[0].dtype == jnp.float32
  recurrence_testing.assert_trees_close(actual, expected, rtol=2e-2, atol=2e-2)
  expected_grads = _grads(scan_recurrence, reset_after, mask, inputs)
  actual_grads = _grads(fused_recurrence, reset_after, mask, inputs, transform=jax.jit)
  # Gradients keep the dtypes of their inputs (bfloat16 x_proj and kernel).
  recurrence_testing.assert_trees_close(actual_grads, expected_grads, rtol=5e-2, atol=5e-2)
