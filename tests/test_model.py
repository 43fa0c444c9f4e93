"""The classifier: parameter layout, masking, embedding options, dropout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax.models import classifier as model_lib
from lstm_jax.models import poolings
from lstm_jax.training import batching

V, E, C, H = 12, 4, 3, 5


def _ids(rows):
  return jnp.asarray(rows, jnp.int32)


IDS = _ids([[0, 0, 3, 4, 5], [6, 7, 8, 9, 10], [0, 0, 0, 0, 11]])


def _init(model, ids=IDS):
  return jax.jit(model.init)(jax.random.key(0), ids)


def _apply(model, variables, ids, **kwargs):
  return jax.jit(model.apply, static_argnames="train")(variables, ids, **kwargs)


def test_params_follow_the_documented_layout():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H, 2))
  shapes = jax.tree.map(jnp.shape, _init(model)["params"])
  assert shapes == {
      "embedding": {"embedding": (V, E)},
      "lstm_0": {"kernel": (E, 4 * H), "recurrent_kernel": (H, 4 * H), "bias": (4 * H,)},
      "lstm_1": {"kernel": (H, 4 * H), "recurrent_kernel": (H, 4 * H), "bias": (4 * H,)},
      "dense": {"kernel": (H, C), "bias": (C,)},
  }


def test_bidirectional_layers_have_forward_and_backward_and_double_width():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H, 2, bidirectional=True))
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
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H))
  logits = _apply(model, _init(model), IDS)
  assert logits.shape == (3, C) and logits.dtype == jnp.float32


@pytest.mark.parametrize("bidirectional", [False, True])
def test_with_mask_zero_extra_padding_changes_nothing(bidirectional):
  model = model_lib.LSTMClassifier(V, E, C,
                                   recurrent=model_lib.stack(H, 2, bidirectional=bidirectional))
  variables = _init(model)
  short = _ids([[3, 4, 5], [6, 7, 8]])
  pre = _ids([[0, 0, 3, 4, 5], [0, 0, 6, 7, 8]])
  post = _ids([[3, 4, 5, 0, 0], [6, 7, 8, 0, 0]])
  want = _apply(model, variables, short)
  np.testing.assert_allclose(_apply(model, variables, pre), want, atol=1e-6)
  np.testing.assert_allclose(_apply(model, variables, post), want, atol=1e-6)


def test_without_mask_zero_padding_is_fed_through_the_lstm():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H), mask_zero=False)
  variables = _init(model)
  short, pre = _ids([[3, 4, 5]]), _ids([[0, 0, 3, 4, 5]])
  assert not np.allclose(_apply(model, variables, short), _apply(model, variables, pre), atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mask_zero", [True, False])
def test_projection_table_gives_the_same_logits(bidirectional, mask_zero):
  model = model_lib.LSTMClassifier(V, E, C,
                                   recurrent=model_lib.stack(H, 2, bidirectional=bidirectional),
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
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H))
  variables = _init(model)
  table = model_lib.input_projection_table(variables["params"], model)
  with pytest.raises(ValueError, match="projection_table is for inference"):
    model.apply(variables, IDS, train=True, projection_table=table,
                rngs={"dropout": jax.random.key(1)})


def _batch_vocab(ids):
  batch_vocab, token_index = batching.batch_vocabulary(np.asarray(ids)[None])
  return {"batch_vocab": jnp.asarray(batch_vocab[0]), "token_index": jnp.asarray(token_index[0])}


@pytest.mark.parametrize("options", [
    {}, {"recurrent": model_lib.stack(H, 2, bidirectional=True)}, {"mask_zero": False},
    {"embedding_trainable": False}])
def test_batch_vocabulary_gives_the_same_logits_and_gradients(options):
  model = model_lib.LSTMClassifier(V, E, C, **{"recurrent": model_lib.stack(H), "head_dropout": 0.5,
                                                **options})
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
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H))
  variables = _init(model)
  vocab = _batch_vocab(IDS)
  shifted = {**vocab, "batch_vocab": (vocab["batch_vocab"] + 1) % V}
  assert not np.allclose(_apply(model, variables, IDS, **shifted),
                         _apply(model, variables, IDS, **vocab), atol=1e-4)


def test_batch_vocabulary_is_ignored_when_training_with_lstm_input_dropout():
  # Input dropout draws a mask per sequence, which distinct rows cannot carry.
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H, dropout=0.5))
  variables = _init(model)
  train = lambda **vocab: _apply(model, variables, IDS, train=True,
                                 rngs={"dropout": jax.random.key(0)}, **vocab)
  np.testing.assert_array_equal(train(**_batch_vocab(IDS)), train())


def test_batch_vocabulary_of_another_shape_is_a_clear_error():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H))
  variables = _init(model)
  vocab = _batch_vocab(IDS)
  with pytest.raises(ValueError, match=r"token_index must have the shape of token_ids \(3, 5\)"):
    model.apply(variables, IDS, batch_vocab=vocab["batch_vocab"],
                token_index=vocab["token_index"][:, 1:])
  with pytest.raises(ValueError, match="batch_vocab and token_index go together"):
    model.apply(variables, IDS, batch_vocab=vocab["batch_vocab"])


@pytest.mark.parametrize("trainable", [True, False])
def test_embedding_trainable_controls_its_gradient(trainable):
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H),
                                   embedding_trainable=trainable)
  params = _init(model)["params"]
  grads = jax.grad(lambda p: _apply(model, {"params": p}, IDS).sum())(params)
  embedding_grad = np.abs(grads["embedding"]["embedding"]).sum()
  assert (embedding_grad > 0) == trainable
  assert np.abs(grads["lstm_0"]["kernel"]).sum() > 0


def test_dropout_applies_only_in_training():
  model = model_lib.LSTMClassifier(V, E, C, head_dropout=0.5,
                                   recurrent=model_lib.stack(H, dropout=0.3, recurrent_dropout=0.3))
  variables = _init(model)
  plain = _apply(model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H)), variables, IDS)
  np.testing.assert_array_equal(_apply(model, variables, IDS), plain)
  train = lambda seed: _apply(model, variables, IDS, train=True,
                                   rngs={"dropout": jax.random.key(seed)})
  np.testing.assert_array_equal(train(0), train(0))
  assert not np.allclose(train(0), train(1))


@pytest.mark.parametrize("options", [
    {"head_dropout": 0.5}, {"embedding_dropout": 0.5},
    {"embedding_dropout": 0.5, "spatial_dropout": True},
    {"recurrent": model_lib.stack(H, dropout=0.5)},
    {"recurrent": model_lib.stack(H, recurrent_dropout=0.5)},
    {"recurrent": (model_lib.Recurrent(H, dropout_after=0.5), model_lib.Recurrent(H))},
    {"hidden": (model_lib.Hidden(H, dropout_after=0.5),)}], ids=str)
def test_each_dropout_option_takes_effect(options):
  model = model_lib.LSTMClassifier(V, E, C, **{"recurrent": model_lib.stack(H), **options})
  variables = _init(model)
  trained = _apply(model, variables, IDS, train=True, rngs={"dropout": jax.random.key(0)})
  assert not np.allclose(trained, _apply(model, variables, IDS))


def test_with_embedding_replaces_only_the_table():
  params = _init(model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H)))["params"]
  matrix = np.arange(V * E, dtype=np.float64).reshape(V, E)
  new = model_lib.with_embedding(params, matrix)
  np.testing.assert_array_equal(new["embedding"]["embedding"], matrix)
  assert new["embedding"]["embedding"].dtype == jnp.float32
  assert new["dense"] is params["dense"] and new["lstm_0"] is params["lstm_0"]
  assert not np.array_equal(params["embedding"]["embedding"], matrix)  # input left as it was


def test_with_embedding_of_the_wrong_shape_is_a_clear_error():
  params = _init(model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H)))["params"]
  with pytest.raises(ValueError, match=r"shape \(12, 7\).*\[vocab_size, embed_dim\] = \(12, 4\)"):
    model_lib.with_embedding(params, np.zeros((V, 7)))


def test_with_embedding_on_variables_instead_of_params_is_a_clear_error():
  variables = _init(model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H)))
  with pytest.raises(ValueError, match=r"variables\['params'\]"):
    model_lib.with_embedding(variables, np.zeros((V, E)))


def test_bfloat16_classifier_is_close_to_float32():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H, bidirectional=True))
  variables = _init(model)
  bf16 = _apply(model.clone(dtype=jnp.bfloat16), variables, IDS)
  assert bf16.dtype == jnp.float32
  np.testing.assert_allclose(bf16, _apply(model, variables, IDS), atol=2e-2)


def test_hidden_layers_and_sigmoid_output_follow_the_documented_layout():
  model = model_lib.LSTMClassifier(
      V, E, 2, recurrent=(model_lib.Recurrent(H, bidirectional=True), model_lib.Recurrent(3)),
      hidden=(model_lib.Hidden(7, "tanh"),), output="sigmoid")
  shapes = jax.tree.map(jnp.shape, _init(model)["params"])
  assert shapes["lstm_1"]["kernel"] == (2 * H, 4 * 3)
  assert shapes["hidden_0"] == {"kernel": (3, 7), "bias": (7,)}
  assert shapes["dense"] == {"kernel": (7, 1), "bias": (1,)}


@pytest.mark.parametrize("output, shape", [("softmax", (3, C)), ("sigmoid", (3, 1))])
def test_probabilities_have_the_shape_keras_predict_returns(output, shape):
  classes = C if output == "softmax" else 2
  model = model_lib.LSTMClassifier(V, E, classes, recurrent=model_lib.stack(H), output=output)
  variables = _init(model)
  probabilities = model.apply(variables, IDS, method=model.probabilities)
  assert probabilities.shape == shape
  logits = model.apply(variables, IDS)
  want = jax.nn.softmax(logits) if output == "softmax" else jax.nn.sigmoid(logits)
  np.testing.assert_allclose(probabilities, want, rtol=1e-6)


def test_average_pooling_averages_the_real_steps_and_max_pooling_takes_every_step():
  # Keras 3: GlobalAveragePooling1D honours the mask, GlobalMaxPooling1D ignores it.
  sequence = jnp.asarray([[[1.0, -2.0], [3.0, -4.0], [9.0, 5.0]]])
  mask = jnp.asarray([[True, True, False]])
  average, max_ = (poolings.POOLINGS.get(name).pool for name in ("average", "max"))
  np.testing.assert_allclose(average(sequence, mask), [[2.0, -3.0]])
  np.testing.assert_allclose(average(sequence, None), [[13 / 3, -1 / 3]])
  np.testing.assert_allclose(max_(sequence, mask), [[9.0, 5.0]])


def test_average_pooling_makes_extra_padding_change_nothing():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H, bidirectional=True),
                                   pooling="average")
  variables = _init(model)
  want = _apply(model, variables, _ids([[3, 4, 5]]))
  for padded in (_ids([[0, 0, 3, 4, 5]]), _ids([[3, 4, 5, 0, 0]])):
    np.testing.assert_allclose(_apply(model, variables, padded), want, atol=1e-6)


def test_average_pooling_of_a_row_of_padding_alone_is_zero_not_nan():
  model = model_lib.LSTMClassifier(V, E, C, recurrent=model_lib.stack(H), pooling="average")
  logits = _apply(model, _init(model), _ids([[0, 0, 0]]))
  assert np.all(np.isfinite(logits))


def _embedding_dropout_output(model, ids):
  variables = _init(model, ids)
  _, state = model.apply(variables, ids, train=True, rngs={"dropout": jax.random.key(0)},
                         capture_intermediates=True, mutable=["intermediates"])
  return np.asarray(state["intermediates"]["embedding_dropout"]["__call__"][0])


def test_spatial_dropout_drops_whole_features_of_a_sequence():
  ids = _ids(np.arange(1, 41).reshape(2, 20) % (V - 1) + 1)
  spatial = _embedding_dropout_output(model_lib.LSTMClassifier(
      V, 16, C, recurrent=model_lib.stack(H), embedding_dropout=0.5, spatial_dropout=True), ids)
  dropped = spatial == 0
  assert dropped.any()
  assert np.all(dropped == dropped[:, :1, :])  # the same features at every step
  plain = _embedding_dropout_output(model_lib.LSTMClassifier(
      V, 16, C, recurrent=model_lib.stack(H), embedding_dropout=0.5), ids)
  assert not np.all((plain == 0) == (plain == 0)[:, :1, :])


@pytest.mark.parametrize("options, message", [
    ({"recurrent": ()}, "at least one recurrent layer"),
    ({"pooling": "min"}, "pooling='min': unknown pooling; registered: last, max, average"),
    ({"recurrent": (model_lib.Recurrent(H, merge_mode="max"),)}, "recurrent layer 0: merge_mode"),
    ({"recurrent": (model_lib.Recurrent(H, dropout_after=0.2),)},
     "recurrent layer 0: dropout_after needs a layer that returns sequences"),
    ({"hidden": (model_lib.Hidden(4, "leaky"),)}, "hidden layer 0: activation must be one of"),
    ({"head_dropout": 1.0}, r"head_dropout must be in \[0, 1\)"),
])
def test_a_model_that_cannot_be_built_names_the_attribute(options, message):
  model = model_lib.LSTMClassifier(V, E, C, **{"recurrent": model_lib.stack(H), **options})
  with pytest.raises(ValueError, match=message):
    model.check()


def test_a_sigmoid_output_needs_two_classes():
  model = model_lib.LSTMClassifier(V, E, 3, recurrent=model_lib.stack(H), output="sigmoid")
  with pytest.raises(ValueError, match="sigmoid"):
    model.check()
