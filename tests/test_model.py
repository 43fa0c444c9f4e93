"""The classifier: parameter layout, masking, embedding options, dropout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax import batching
from lstm_jax import model as model_lib

V, E, C, H = 12, 4, 3, 5


def _ids(rows):
  return jnp.asarray(rows, jnp.int32)


IDS = _ids([[0, 0, 3, 4, 5], [6, 7, 8, 9, 10], [0, 0, 0, 0, 11]])


def _init(model, ids=IDS):
  return jax.jit(model.init)(jax.random.key(0), ids)


def _apply(model, variables, ids, **kwargs):
  return jax.jit(model.apply, static_argnames="train")(variables, ids, **kwargs)


def test_params_follow_the_documented_layout():
  model = model_lib.LSTMClassifier(V, E, C, units=H, num_layers=2)
  shapes = jax.tree.map(jnp.shape, _init(model)["params"])
  assert shapes == {
      "embedding": {"embedding": (V, E)},
      "lstm_0": {"kernel": (E, 4 * H), "recurrent_kernel": (H, 4 * H), "bias": (4 * H,)},
      "lstm_1": {"kernel": (H, 4 * H), "recurrent_kernel": (H, 4 * H), "bias": (4 * H,)},
      "dense": {"kernel": (H, C), "bias": (C,)},
  }


def test_bidirectional_layers_have_forward_and_backward_and_double_width():
  model = model_lib.LSTMClassifier(V, E, C, units=H, num_layers=2, bidirectional=True)
  params = _init(model)["params"]
  assert set(params["lstm_1"]) == {"forward", "backward"}
  assert params["lstm_1"]["forward"]["kernel"].shape == (2 * H, 4 * H)
  assert params["dense"]["kernel"].shape == (2 * H, C)
  assert _apply(model, {"params": params}, IDS).shape == (3, C)


def test_embedding_starts_uniform_in_keras_range():
  params = _init(model_lib.LSTMClassifier(200, 16, C))["params"]
  table = np.asarray(params["embedding"]["embedding"])
  assert -0.05 <= table.min() < -0.045 and 0.045 < table.max() <= 0.05


def test_logits_are_float32_of_shape_batch_by_classes():
  model = model_lib.LSTMClassifier(V, E, C, units=H)
  logits = _apply(model, _init(model), IDS)
  assert logits.shape == (3, C) and logits.dtype == jnp.float32


@pytest.mark.parametrize("bidirectional", [False, True])
def test_with_mask_zero_extra_padding_changes_nothing(bidirectional):
  model = model_lib.LSTMClassifier(V, E, C, units=H, num_layers=2, bidirectional=bidirectional)
  variables = _init(model)
  short = _ids([[3, 4, 5], [6, 7, 8]])
  pre = _ids([[0, 0, 3, 4, 5], [0, 0, 6, 7, 8]])
  post = _ids([[3, 4, 5, 0, 0], [6, 7, 8, 0, 0]])
  want = _apply(model, variables, short)
  np.testing.assert_allclose(_apply(model, variables, pre), want, atol=1e-6)
  np.testing.assert_allclose(_apply(model, variables, post), want, atol=1e-6)


def test_without_mask_zero_padding_is_fed_through_the_lstm():
  model = model_lib.LSTMClassifier(V, E, C, units=H, mask_zero=False)
  variables = _init(model)
  short, pre = _ids([[3, 4, 5]]), _ids([[0, 0, 3, 4, 5]])
  assert not np.allclose(_apply(model, variables, short), _apply(model, variables, pre), atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mask_zero", [True, False])
def test_projection_table_gives_the_same_logits(bidirectional, mask_zero):
  model = model_lib.LSTMClassifier(V, E, C, units=H, num_layers=2, bidirectional=bidirectional,
                                   mask_zero=mask_zero)
  variables = _init(model)
  table = model_lib.input_projection_table(variables["params"], model)
  assert table.shape == (V, (8 if bidirectional else 4) * H)
  np.testing.assert_allclose(_apply(model, variables, IDS, projection_table=table),
                             _apply(model, variables, IDS), rtol=1e-5, atol=1e-6)
  # The table is what the first layer reads: another table, other logits.
  assert not np.allclose(_apply(model, variables, IDS, projection_table=table + 1.0),
                         _apply(model, variables, IDS), atol=1e-3)


def test_projection_table_is_refused_in_training():
  model = model_lib.LSTMClassifier(V, E, C, units=H)
  variables = _init(model)
  table = model_lib.input_projection_table(variables["params"], model)
  with pytest.raises(ValueError, match="projection_table is for inference"):
    model.apply(variables, IDS, train=True, projection_table=table,
                rngs={"dropout": jax.random.key(1)})


def _batch_vocab(ids):
  vocab, index = batching.batch_vocabulary(np.asarray(ids)[None])
  return {"batch_vocab": jnp.asarray(vocab[0]), "token_index": jnp.asarray(index[0])}


@pytest.mark.parametrize("options", [
    {}, {"bidirectional": True, "num_layers": 2}, {"mask_zero": False},
    {"embedding_trainable": False}])
def test_batch_vocabulary_gives_the_same_logits_and_gradients(options):
  model = model_lib.LSTMClassifier(V, E, C, units=H, dropout=0.5, **options)
  params = _init(model)["params"]

  def run(**vocab):
    def loss(p):
      logits = model.apply({"params": p}, IDS, train=True, rngs={"dropout": jax.random.key(3)},
                           **vocab)
      return jnp.sum(jnp.sin(logits)), logits
    return jax.jit(jax.value_and_grad(loss, has_aux=True))(params)

  for got, want in zip(jax.tree.leaves(run(**_batch_vocab(IDS))), jax.tree.leaves(run()),
                       strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_batch_vocabulary_is_what_the_first_layer_reads():
  model = model_lib.LSTMClassifier(V, E, C, units=H)
  variables = _init(model)
  vocab = _batch_vocab(IDS)
  shifted = {**vocab, "batch_vocab": (vocab["batch_vocab"] + 1) % V}
  assert not np.allclose(_apply(model, variables, IDS, **shifted),
                         _apply(model, variables, IDS, **vocab), atol=1e-4)


def test_batch_vocabulary_is_ignored_when_training_with_lstm_input_dropout():
  # Input dropout draws a mask per sequence, which distinct rows cannot carry.
  model = model_lib.LSTMClassifier(V, E, C, units=H, lstm_dropout=0.5)
  variables = _init(model)
  train = lambda **vocab: _apply(model, variables, IDS, train=True,
                                 rngs={"dropout": jax.random.key(0)}, **vocab)
  np.testing.assert_array_equal(train(**_batch_vocab(IDS)), train())


def test_batch_vocabulary_of_another_shape_is_a_clear_error():
  model = model_lib.LSTMClassifier(V, E, C, units=H)
  variables = _init(model)
  vocab = _batch_vocab(IDS)
  with pytest.raises(ValueError, match=r"token_index must have the shape of token_ids \(3, 5\)"):
    model.apply(variables, IDS, batch_vocab=vocab["batch_vocab"],
                token_index=vocab["token_index"][:, 1:])
  with pytest.raises(ValueError, match="batch_vocab and token_index go together"):
    model.apply(variables, IDS, batch_vocab=vocab["batch_vocab"])


@pytest.mark.parametrize("trainable", [True, False])
def test_embedding_trainable_controls_its_gradient(trainable):
  model = model_lib.LSTMClassifier(V, E, C, units=H, embedding_trainable=trainable)
  params = _init(model)["params"]
  grads = jax.grad(lambda p: _apply(model, {"params": p}, IDS).sum())(params)
  embedding_grad = np.abs(grads["embedding"]["embedding"]).sum()
  assert (embedding_grad > 0) == trainable
  assert np.abs(grads["lstm_0"]["kernel"]).sum() > 0


def test_dropout_applies_only_in_training():
  model = model_lib.LSTMClassifier(V, E, C, units=H, dropout=0.5, lstm_dropout=0.3,
                                   recurrent_dropout=0.3)
  variables = _init(model)
  plain = _apply(model_lib.LSTMClassifier(V, E, C, units=H), variables, IDS)
  np.testing.assert_array_equal(_apply(model, variables, IDS), plain)
  train = lambda seed: _apply(model, variables, IDS, train=True,
                                   rngs={"dropout": jax.random.key(seed)})
  np.testing.assert_array_equal(train(0), train(0))
  assert not np.allclose(train(0), train(1))


@pytest.mark.parametrize("dropout_kind", ["dropout", "lstm_dropout", "recurrent_dropout"])
def test_each_dropout_option_takes_effect(dropout_kind):
  model = model_lib.LSTMClassifier(V, E, C, units=H, **{dropout_kind: 0.5})
  variables = _init(model)
  trained = _apply(model, variables, IDS, train=True, rngs={"dropout": jax.random.key(0)})
  assert not np.allclose(trained, _apply(model, variables, IDS))


def test_with_embedding_replaces_only_the_table():
  params = _init(model_lib.LSTMClassifier(V, E, C, units=H))["params"]
  matrix = np.arange(V * E, dtype=np.float64).reshape(V, E)
  new = model_lib.with_embedding(params, matrix)
  np.testing.assert_array_equal(new["embedding"]["embedding"], matrix)
  assert new["embedding"]["embedding"].dtype == jnp.float32
  assert new["dense"] is params["dense"] and new["lstm_0"] is params["lstm_0"]
  assert not np.array_equal(params["embedding"]["embedding"], matrix)  # input left as it was


def test_with_embedding_of_the_wrong_shape_is_a_clear_error():
  params = _init(model_lib.LSTMClassifier(V, E, C, units=H))["params"]
  with pytest.raises(ValueError, match=r"shape \(12, 7\).*\[vocab_size, embed_dim\] = \(12, 4\)"):
    model_lib.with_embedding(params, np.zeros((V, 7)))


def test_with_embedding_on_variables_instead_of_params_is_a_clear_error():
  variables = _init(model_lib.LSTMClassifier(V, E, C, units=H))
  with pytest.raises(ValueError, match=r"variables\['params'\]"):
    model_lib.with_embedding(variables, np.zeros((V, E)))


def test_bfloat16_classifier_is_close_to_float32():
  model = model_lib.LSTMClassifier(V, E, C, units=H, bidirectional=True)
  variables = _init(model)
  bf16 = _apply(model.clone(dtype=jnp.bfloat16), variables, IDS)
  assert bf16.dtype == jnp.float32
  np.testing.assert_allclose(bf16, _apply(model, variables, IDS), atol=2e-2)
