"""The recurrent layers with the LSTM cell: math, masking, direction, dropout and dtype."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax import recurrent as recurrent_lib
from lstm_jax.recurrent import layers as layers_lib
from lstm_jax.recurrent import scan

B, T, F, H = 3, 6, 4, 5


def _sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def naive_lstm(x, kernel, recurrent_kernel, bias, recurrent_mask=None):
  """Per-step LSTM in float64 numpy, straight from the equations.

  Returns hs [B, T, H] and (h_T, c_T).
  """
  x, kernel, recurrent_kernel, bias = (np.asarray(a, np.float64)
                                       for a in (x, kernel, recurrent_kernel, bias))
  batch, time, _ = x.shape
  units = recurrent_kernel.shape[0]
  h = np.zeros((batch, units))
  c = np.zeros((batch, units))
  hs = []
  for t in range(time):
    h_in = h if recurrent_mask is None else h * recurrent_mask
    z = x[:, t] @ kernel + h_in @ recurrent_kernel + bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    input_gate, forget_gate = _sigmoid(z_i), _sigmoid(z_f)
    cell_update, output_gate = np.tanh(z_c), _sigmoid(z_o)
    c = forget_gate * c + input_gate * cell_update
    h = output_gate * np.tanh(c)
    hs.append(h)
  return np.stack(hs, axis=1), (h, c)


def _random_params(seed, features=F, units=H):
  rng = np.random.default_rng(seed)
  return {
      "kernel": rng.normal(0, 0.5, (features, 4 * units)).astype(np.float32),
      "recurrent_kernel": rng.normal(0, 0.5, (units, 4 * units)).astype(np.float32),
      "bias": rng.normal(0, 0.5, (4 * units,)).astype(np.float32),
  }


def _inputs(seed, batch=B, time=T, features=F):
  return np.random.default_rng(seed).normal(size=(batch, time, features)).astype(np.float32)


def _padded_batch(lengths, padding, seed=0):
  """Returns x [B, T, F] with garbage in padded steps, the mask, and the unpadded rows."""
  x = _inputs(seed, batch=len(lengths))
  mask = np.zeros((len(lengths), T), bool)
  rows = []
  for b, length in enumerate(lengths):
    valid = slice(T - length, T) if padding == "pre" else slice(0, length)
    mask[b, valid] = True
    rows.append(x[b, valid])
  return x, mask, rows


def _apply(layer, params, x, mask=None, **kwargs):
  return layer.apply({"params": params}, jnp.asarray(x), mask, **kwargs)


def test_hoisted_scan_equals_naive_per_step_reference():
  params = _random_params(0)
  x = _inputs(1)
  outputs, (h, c) = _apply(recurrent_lib.RNN(H, return_sequences=True), params, x)
  want_hs, (want_h, want_c) = naive_lstm(x, **params)
  np.testing.assert_allclose(outputs, want_hs, atol=1e-5)
  np.testing.assert_allclose(h, want_h, atol=1e-5)
  np.testing.assert_allclose(c, want_c, atol=1e-5)


def test_without_return_sequences_outputs_the_last_h():
  params = _random_params(0)
  x = _inputs(1)
  outputs, (h, _) = _apply(recurrent_lib.RNN(H), params, x)
  assert outputs.shape == (B, H)
  np.testing.assert_array_equal(outputs, h)


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_batch_equals_each_sequence_run_alone(padding):
  params = _random_params(2)
  lengths = [6, 3, 1]
  x, mask, rows = _padded_batch(lengths, padding)
  layer = recurrent_lib.RNN(H, return_sequences=True)
  outputs, (h, c) = _apply(layer, params, x, mask)
  for b, row in enumerate(rows):
    alone, (h_alone, c_alone) = _apply(layer, params, row[None])
    np.testing.assert_allclose(h[b], h_alone[0], atol=1e-6)
    np.testing.assert_allclose(c[b], c_alone[0], atol=1e-6)
    np.testing.assert_allclose(outputs[b][mask[b]], alone[0], atol=1e-6)


def test_masked_step_outputs_the_previous_h():
  params = _random_params(3)
  x, mask, _ = _padded_batch([4], "post")
  outputs, _ = _apply(recurrent_lib.RNN(H, return_sequences=True), params, x, mask)
  np.testing.assert_array_equal(outputs[0, 4], outputs[0, 3])
  np.testing.assert_array_equal(outputs[0, 5], outputs[0, 3])


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_go_backwards_with_mask_reverses_each_sequence_within_its_length(padding):
  params = _random_params(4)
  x, mask, rows = _padded_batch([6, 4, 2], padding)
  _, (h, c) = _apply(recurrent_lib.RNN(H, go_backwards=True), params, x, mask)
  for b, row in enumerate(rows):
    _, (h_rev, c_rev) = _apply(recurrent_lib.RNN(H), params, row[None, ::-1])
    np.testing.assert_allclose(h[b], h_rev[0], atol=1e-6)
    np.testing.assert_allclose(c[b], c_rev[0], atol=1e-6)


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_bidirectional_backward_half_is_the_reversed_sequence_in_input_order(padding):
  fw, bw = _random_params(5), _random_params(6)
  x, mask, rows = _padded_batch([6, 3], padding)
  layer = recurrent_lib.Bidirectional(H, return_sequences=True)
  outputs, _ = _apply(layer, {"forward": fw, "backward": bw}, x, mask)
  assert outputs.shape == (2, T, 2 * H)
  for b, row in enumerate(rows):
    forward, _ = _apply(recurrent_lib.RNN(H, return_sequences=True), fw, row[None])
    backward, _ = _apply(recurrent_lib.RNN(H, return_sequences=True), bw, row[None, ::-1])
    np.testing.assert_allclose(outputs[b][mask[b], :H], forward[0], atol=1e-6)
    np.testing.assert_allclose(outputs[b][mask[b], H:], backward[0, ::-1], atol=1e-6)
    np.testing.assert_array_equal(outputs[b][~mask[b]], 0.0)


def test_bidirectional_last_output_concatenates_both_final_states():
  fw, bw = _random_params(5), _random_params(6)
  x, mask, _ = _padded_batch([6, 3], "pre")
  outputs, ((h_fw, _), (h_bw, _)) = _apply(
      recurrent_lib.Bidirectional(H), {"forward": fw, "backward": bw}, x, mask)
  np.testing.assert_array_equal(outputs, np.concatenate([h_fw, h_bw], axis=-1))


def test_default_initialisers_follow_keras():
  params = recurrent_lib.RNN(H).init(jax.random.key(0), jnp.zeros((1, T, F)))["params"]
  bias = np.asarray(params["bias"]).reshape(4, H)
  np.testing.assert_array_equal(bias, [[0] * H, [1] * H, [0] * H, [0] * H])
  rk = np.asarray(params["recurrent_kernel"])
  np.testing.assert_allclose(rk @ rk.T, np.eye(H), atol=1e-5)  # orthogonal rows over [H, 4H]
  limit = np.sqrt(6 / (F + 4 * H))  # glorot_uniform over the whole [F, 4H] kernel
  kernel = np.asarray(params["kernel"])
  assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.5 * limit


def _recording_recurrence(calls):

  def record(x_proj, recurrent_kernel, mask, state0, recurrent_mask=None):
    calls.append({"x_proj": x_proj, "recurrent_mask": recurrent_mask})
    return scan.scan(recurrent_lib.LSTMCell(), x_proj, recurrent_kernel, mask, state0,
                     recurrent_mask)

  return record


def test_dropout_masks_are_drawn_once_per_sequence_and_reused_at_every_step(monkeypatch):
  calls = []
  monkeypatch.setattr(layers_lib, "get_recurrence",
                      lambda cell, implementation: _recording_recurrence(calls))
  rate, batch = 0.5, 8
  # kernel = [I | 0] and zero bias expose the dropped inputs in x_proj[..., :F].
  params = {"kernel": np.eye(F, 4 * H, dtype=np.float32),
            "recurrent_kernel": np.zeros((H, 4 * H), np.float32),
            "bias": np.zeros(4 * H, np.float32)}
  layer = recurrent_lib.RNN(H, dropout=rate, recurrent_dropout=rate, time_chunks=1)
  _apply(layer, params, np.ones((batch, T, F), np.float32), deterministic=False,
         rngs={"dropout": jax.random.key(0)})
  input_mask = np.asarray(calls[0]["x_proj"][..., :F])  # [T, B, F]
  np.testing.assert_array_equal(input_mask, np.broadcast_to(input_mask[0], input_mask.shape))
  assert set(np.unique(input_mask)) == {0.0, 1 / (1 - rate)}
  recurrent_mask = np.asarray(calls[0]["recurrent_mask"])
  assert recurrent_mask.shape == (batch, H)
  assert set(np.unique(recurrent_mask)) == {0.0, 1 / (1 - rate)}


def test_recurrent_dropout_scales_h_before_the_recurrent_matmul_at_every_step(monkeypatch):
  calls = []
  monkeypatch.setattr(layers_lib, "get_recurrence",
                      lambda cell, implementation: _recording_recurrence(calls))
  params = _random_params(7)
  x = _inputs(8)
  layer = recurrent_lib.RNN(H, return_sequences=True, recurrent_dropout=0.4)
  outputs, _ = _apply(layer, params, x, deterministic=False, rngs={"dropout": jax.random.key(3)})
  recurrent_mask = np.asarray(calls[0]["recurrent_mask"])
  want, _ = naive_lstm(x, **params, recurrent_mask=recurrent_mask)
  np.testing.assert_allclose(outputs, want, atol=1e-5)


def test_chunk_bounds_cover_every_step_once_in_near_equal_pieces():
  assert recurrent_lib.chunk_bounds(10, 3) == [(0, 3), (3, 7), (7, 10)]
  assert recurrent_lib.chunk_bounds(200, 8) == [(i, i + 25) for i in range(0, 200, 25)]
  assert recurrent_lib.chunk_bounds(3, 8) == [(0, 1), (1, 2), (2, 3)]
  assert recurrent_lib.chunk_bounds(5, 1) == [(0, 5)]
  with pytest.raises(ValueError, match="time_chunks must be >= 1, got 0"):
    recurrent_lib.chunk_bounds(5, 0)


@pytest.mark.parametrize("layer_cls,kwargs", [
    (recurrent_lib.RNN, {}), (recurrent_lib.RNN, {"go_backwards": True}), (recurrent_lib.Bidirectional, {})])
def test_time_chunks_give_the_one_piece_results_and_gradients(layer_cls, kwargs):
  params = _random_params(11)
  x, mask, _ = _padded_batch([6, 4, 2], "pre", seed=12)
  if layer_cls is recurrent_lib.Bidirectional:
    params = {"forward": params, "backward": _random_params(13)}

  def run(chunks):
    layer = layer_cls(H, return_sequences=True, time_chunks=chunks, **kwargs)

    def loss(p, x):
      outputs, _ = layer.apply({"params": p}, x, jnp.asarray(mask))
      return jnp.sum(jnp.sin(outputs)), outputs

    (_, outputs), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
        params, jnp.asarray(x))
    return outputs, grads

  want = run(1)
  for chunks in (2, 4, T):
    for got, expected in zip(jax.tree.leaves(run(chunks)), jax.tree.leaves(want), strict=True):
      np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_dropout_is_off_when_deterministic_and_seeded_when_training():
  params = _random_params(9)
  x = _inputs(10)
  layer = recurrent_lib.RNN(H, dropout=0.3, recurrent_dropout=0.3)
  plain, _ = _apply(recurrent_lib.RNN(H), params, x)
  np.testing.assert_array_equal(_apply(layer, params, x)[0], plain)
  train = lambda seed: _apply(layer, params, x, deterministic=False,
                              rngs={"dropout": jax.random.key(seed)})[0]
  np.testing.assert_array_equal(train(1), train(1))
  assert not np.allclose(train(1), train(2))
  assert not np.allclose(train(1), plain)


def test_bfloat16_compute_is_close_to_float32():
  params = _random_params(11)
  x, mask, _ = _padded_batch([6, 4, 2], "pre")
  f32, (_, c32) = _apply(recurrent_lib.RNN(H, return_sequences=True), params, x, mask)
  bf16, (_, c16) = _apply(recurrent_lib.RNN(H, return_sequences=True, dtype=jnp.bfloat16), params, x, mask)
  assert bf16.dtype == jnp.float32 and c16.dtype == jnp.float32
  np.testing.assert_allclose(bf16, f32, atol=3e-2)
  assert not np.array_equal(bf16, f32)  # the matmuls really ran in bfloat16


def test_unknown_implementation_is_a_clear_error():
  with pytest.raises(ValueError, match=r"unknown recurrent implementation 'pallas'; choose one of scan, fused, cudnn"):
    recurrent_lib.RNN(H, implementation="pallas").init(jax.random.key(0), jnp.zeros((1, T, F)))


def test_projected_inputs_of_the_wrong_width_are_a_clear_error():
  layer = recurrent_lib.RNN(H)
  params = {k: v for k, v in _random_params(0).items() if k != "kernel"}
  with pytest.raises(ValueError, match=r"projected inputs must be \[time, batch, gates \* units = 20\]"):
    layer.apply({"params": params}, recurrent_lib.Projected(jnp.zeros((T, B, 3))))


def test_projected_inputs_give_the_results_of_the_inputs():
  params = _random_params(3)
  x, mask, _ = _padded_batch([6, 4, 2], "post")
  layer = recurrent_lib.RNN(H, return_sequences=True, go_backwards=True)
  projection = jnp.swapaxes(jnp.asarray(x) @ params["kernel"] + params["bias"], 0, 1)
  want, _ = layer.apply({"params": params}, jnp.asarray(x), jnp.asarray(mask))
  without_kernel = {k: v for k, v in params.items() if k != "kernel"}
  got, _ = layer.apply({"params": without_kernel}, recurrent_lib.Projected(projection), jnp.asarray(mask))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_cls,kwargs", [
    (recurrent_lib.RNN, {}), (recurrent_lib.RNN, {"go_backwards": True}), (recurrent_lib.Bidirectional, {})])
def test_distinct_rows_give_the_results_and_gradients_of_the_inputs(layer_cls, kwargs):
  params = _random_params(21)
  if layer_cls is recurrent_lib.Bidirectional:
    params = {"forward": params, "backward": _random_params(22)}
  rows = _inputs(23, batch=1, time=7)[0]  # 7 distinct input vectors
  token_index = np.random.default_rng(24).integers(0, 7, (B, T)).astype(np.int32)
  _, mask, _ = _padded_batch([6, 4, 2], "pre")
  layer = layer_cls(H, return_sequences=True, time_chunks=2, **kwargs)

  def loss(p, rows, use_rows):
    inputs = (recurrent_lib.DistinctRows(rows, jnp.asarray(token_index)) if use_rows
              else jnp.take(rows, token_index, axis=0))
    outputs, _ = layer.apply({"params": p}, inputs, mask=jnp.asarray(mask))
    return jnp.sum(jnp.sin(outputs)), outputs

  def run(use_rows):
    (_, outputs), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
        params, jnp.asarray(rows), use_rows)
    return outputs, grads

  for got, want in zip(jax.tree.leaves(run(True)), jax.tree.leaves(run(False)), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_input_dropout_on_distinct_rows_equals_input_dropout_on_the_inputs():
  params = _random_params(31)
  rows = jnp.asarray(_inputs(32, batch=1, time=5)[0])
  token_index = jnp.asarray(np.random.default_rng(33).integers(0, 5, (B, T)), jnp.int32)
  layer = recurrent_lib.RNN(H, return_sequences=True, dropout=0.5)
  rngs = {"dropout": jax.random.key(34)}
  got, _ = layer.apply({"params": params}, recurrent_lib.DistinctRows(rows, token_index),
                       deterministic=False, rngs=rngs)
  want, _ = layer.apply({"params": params}, jnp.take(rows, token_index, axis=0),
                        deterministic=False, rngs=rngs)
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
  plain, _ = layer.apply({"params": params}, recurrent_lib.DistinctRows(rows, token_index))
  assert not np.allclose(got, plain)  # the dropout really ran


def test_input_dropout_is_refused_on_projected_inputs():
  layer = recurrent_lib.RNN(H, dropout=0.5)
  rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
  projected = recurrent_lib.Projected(jnp.zeros((T, B, 4 * H)))
  with pytest.raises(ValueError, match="input dropout draws a mask per sequence: it needs"):
    layer.init(rngs, projected, deterministic=False)
  layer.init(rngs, projected, deterministic=True)  # without dropout: fine


def test_mask_of_the_wrong_shape_is_a_clear_error():
  with pytest.raises(ValueError, match=r"mask must have shape \[batch, time\]"):
    recurrent_lib.RNN(H).init(jax.random.key(0), jnp.zeros((2, T, F)), jnp.ones((2, T + 1), bool))
