"""The cuDNN layer path, checked on CPU against jax.experimental.rnn's reference
of the cuDNN call: weight layout, masks, directions, gradients, fallback."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import rnn

from lstm_jax import recurrent as recurrent_lib
from lstm_jax.config import validation as config_validation
from lstm_jax.models import classifier as model_lib
from lstm_jax.recurrent import cudnn

B, T, F, H = 4, 7, 3, 5


def reference_kernel(x, h_0, c_0, weights, seq_lengths, *, input_size, hidden_size,
                     num_layers, dropout, bidirectional):
  """`rnn.lstm`'s contract computed by `rnn.lstm_ref`, which runs anywhere."""
  unpacked = rnn.unpack_lstm_weights(weights, input_size, hidden_size, num_layers,
                                     bidirectional)
  return rnn.lstm_ref(x, h_0, c_0, *unpacked, seq_lengths, input_size, hidden_size,
                      num_layers, dropout, bidirectional)


def nan_kernel(x, h_0, c_0, weights, seq_lengths, **kwargs):
  batch, time, units = x.shape[0], x.shape[1], h_0.shape[-1]
  return (jnp.full((batch, time, units), jnp.nan), jnp.full_like(h_0, jnp.nan),
          jnp.full_like(c_0, jnp.nan))


@pytest.fixture
def on_reference(monkeypatch):
  monkeypatch.setattr(cudnn, "available", lambda: True)
  monkeypatch.setattr(cudnn, "lstm_kernel", reference_kernel)


def _mask(kind):
  lengths = np.array([T, 4, 1, 0])
  steps = np.arange(T)[None, :]
  masks = {
      "none": None,
      "pre": steps >= T - lengths[:, None],
      "post": steps < lengths[:, None],
      "holes": np.random.default_rng(0).random((B, T)) < 0.6,
  }
  return None if masks[kind] is None else jnp.asarray(masks[kind])


def _x():
  return jnp.asarray(np.random.default_rng(1).normal(size=(B, T, F)), jnp.float32)


def _outputs_and_grads(layer, params, x, mask):
  def loss(p, x):
    outputs, state = layer.apply({"params": p}, x, mask)
    return jnp.sum(jnp.sin(outputs)) + jnp.sum(jnp.cos(jnp.concatenate(
        jax.tree.leaves(state), axis=-1))), outputs

  (_, outputs), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, x)
  return outputs, grads


def _assert_trees_close(actual, expected):
  for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
    np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_packed_weights_unpack_to_the_keras_weights_transposed():
  rng = np.random.default_rng(2)
  kernel, recurrent_kernel = rng.normal(size=(F, 4 * H)), rng.normal(size=(H, 4 * H))
  bias = rng.normal(size=(4 * H,))
  packed = cudnn.pack_weights(*(jnp.asarray(a, jnp.float32)
                                     for a in (kernel, recurrent_kernel, bias)))
  assert packed.shape == (rnn.get_num_params_in_lstm(F, H, 1, False),)
  w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(packed, F, H, 1, False)
  np.testing.assert_allclose(w_ih[0], kernel.T, rtol=1e-6)
  np.testing.assert_allclose(w_hh[0], recurrent_kernel.T, rtol=1e-6)
  np.testing.assert_allclose(b_ih[0], bias, rtol=1e-6)
  np.testing.assert_array_equal(b_hh[0], 0.0)


def test_contiguous_block_gives_start_and_length_of_each_row():
  start, length, is_block = cudnn.contiguous_block(_mask("pre"))
  np.testing.assert_array_equal(start, [0, 3, 6, 0])
  np.testing.assert_array_equal(length, [7, 4, 1, 0])
  assert is_block
  start, length, is_block = cudnn.contiguous_block(_mask("post"))
  np.testing.assert_array_equal(start, [0, 0, 0, 0])
  assert is_block
  assert not cudnn.contiguous_block(_mask("holes"))[2]


@pytest.mark.parametrize("mask_kind", ["none", "pre", "post", "holes"])
@pytest.mark.parametrize("layer_cls,kwargs", [
    (recurrent_lib.RNN, {}), (recurrent_lib.RNN, {"go_backwards": True}), (recurrent_lib.Bidirectional, {})])
def test_cudnn_layer_equals_the_fused_layer(on_reference, mask_kind, layer_cls, kwargs):
  x, mask = _x(), _mask(mask_kind)
  fused = layer_cls(H, return_sequences=True, implementation="fused", **kwargs)
  params = fused.init(jax.random.key(3), x, mask)["params"]
  cudnn = layer_cls(H, return_sequences=True, implementation="cudnn", **kwargs)

  _assert_trees_close(_outputs_and_grads(cudnn, params, x, mask),
                      _outputs_and_grads(fused, params, x, mask))


def test_a_mask_with_holes_runs_the_fallback(monkeypatch):
  monkeypatch.setattr(cudnn, "available", lambda: True)
  monkeypatch.setattr(cudnn, "lstm_kernel", nan_kernel)
  x = _x()
  layer = recurrent_lib.RNN(H, return_sequences=True, implementation="cudnn")
  params = layer.init(jax.random.key(4), x)["params"]
  fused = recurrent_lib.RNN(H, return_sequences=True)

  holes, _ = layer.apply({"params": params}, x, _mask("holes"))
  np.testing.assert_allclose(holes, fused.apply({"params": params}, x, _mask("holes"))[0],
                             rtol=1e-5, atol=1e-6)
  padded, _ = layer.apply({"params": params}, x, _mask("pre"))
  assert np.isnan(np.asarray(padded)[np.asarray(_mask("pre"))]).all()  # cuDNN's branch ran


def test_classifier_on_cudnn_trains_like_the_fused_one(on_reference):
  ids = jnp.asarray(np.random.default_rng(5).integers(1, 30, (B, T)), jnp.int32)
  ids = ids.at[1, :3].set(0)
  fused = model_lib.LSTMClassifier(30, F, 3, recurrent=model_lib.stack(H, 2))
  cudnn = fused.clone(implementation="cudnn")
  params = fused.init(jax.random.key(6), ids)["params"]

  def grads(model):
    return jax.grad(lambda p: jnp.sum(jax.nn.log_softmax(model.apply({"params": p}, ids))))(
        params)

  _assert_trees_close(grads(cudnn), grads(fused))


def test_cudnn_without_a_gpu_is_a_clear_error():
  x = _x()
  with pytest.raises(ValueError, match="'cudnn' needs a CUDA GPU.*use implementation 'fused'"):
    recurrent_lib.RNN(H, implementation="cudnn").init(jax.random.key(0), x)


def test_the_cudnn_implementation_without_a_gpu_is_a_config_error():
  model = model_lib.LSTMClassifier(10, 4, 2, implementation="cudnn")
  with pytest.raises(config_validation.ConfigError,
                     match=r"model.implementation=cudnn needs a CUDA GPU.*backend is 'cpu'"):
    config_validation.check_model(model)
