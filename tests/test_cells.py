"""The recurrent cells behind one interface: each cell's equations, masking, direction
and configuration, through the one layer code path."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax import recurrent as recurrent_lib
from lstm_jax.config import schema
from lstm_jax.config import validation
from lstm_jax.models import classifier as model_lib

B, T, F, H = 3, 6, 4, 5
CELLS = [recurrent_lib.LSTMCell(), recurrent_lib.GRUCell(),
         recurrent_lib.GRUCell(reset_after=False), recurrent_lib.SimpleRNNCell(),
         recurrent_lib.SimpleRNNCell(activation="relu")]
IDS = ["lstm", "gru", "gru_reset_before", "simple_rnn", "simple_rnn_relu"]


def _sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def naive(cell, x, kernel, recurrent_kernel, bias):
  """Per-step float64 numpy straight from each cell's textbook equations; hs [B, T, H]."""
  x, kernel, recurrent_kernel, bias = (np.asarray(a, np.float64)
                                       for a in (x, kernel, recurrent_kernel, bias))
  h = np.zeros((x.shape[0], H))
  c = np.zeros((x.shape[0], H))
  hs = []
  for t in range(x.shape[1]):
    if cell.name == "lstm":
      z_i, z_f, z_c, z_o = np.split(x[:, t] @ kernel + h @ recurrent_kernel + bias, 4, -1)
      c = _sigmoid(z_f) * c + _sigmoid(z_i) * np.tanh(z_c)
      h = _sigmoid(z_o) * np.tanh(c)
    elif cell.name == "gru":
      input_bias, recurrent_bias = (bias[0], bias[1]) if cell.reset_after else (bias, 0 * bias)
      x_z, x_r, x_h = np.split(x[:, t] @ kernel + input_bias, 3, -1)
      u_z, u_r, u_h = np.split(recurrent_kernel, 3, -1)
      b_z, b_r, b_h = np.split(recurrent_bias, 3, -1)
      z = _sigmoid(x_z + h @ u_z + b_z)
      r = _sigmoid(x_r + h @ u_r + b_r)
      g = np.tanh(x_h + (r * (h @ u_h + b_h) if cell.reset_after else (r * h) @ u_h))
      h = z * h + (1 - z) * g
    else:
      z = x[:, t] @ kernel + h @ recurrent_kernel + bias
      h = np.tanh(z) if cell.activation == "tanh" else np.maximum(z, 0)
    hs.append(h)
  return np.stack(hs, axis=1)


def _params(cell, seed=0):
  rng = np.random.default_rng(seed)
  width = cell.gates * H
  return {"kernel": rng.normal(0, 0.5, (F, width)).astype(np.float32),
          "recurrent_kernel": rng.normal(0, 0.5, (H, width)).astype(np.float32),
          "bias": rng.normal(0, 0.5, cell.bias_shape(H)).astype(np.float32)}


def _x(seed=1, batch=B):
  return np.random.default_rng(seed).normal(size=(batch, T, F)).astype(np.float32)


def test_the_registry_holds_the_three_keras_cells():
  assert recurrent_lib.CELLS.names() == ("lstm", "gru", "simple_rnn")
  assert [c.gates for c in map(recurrent_lib.CELLS.get, recurrent_lib.CELLS)] == [4, 3, 1]


@pytest.mark.parametrize("implementation", ["scan", "fused"])
@pytest.mark.parametrize("cell", CELLS, ids=IDS)
def test_each_cell_computes_its_equations(cell, implementation):
  params, x = _params(cell), _x()
  layer = recurrent_lib.RNN(H, cell=cell, return_sequences=True, implementation=implementation)
  got, _ = layer.apply({"params": params}, jnp.asarray(x))
  np.testing.assert_allclose(got, naive(cell, x, **params), atol=2e-5)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("cell", CELLS, ids=IDS)
def test_a_padded_sequence_gives_the_unpadded_runs_results(cell, padding):
  params, x = _params(cell, 2), _x(3)
  lengths = [6, 4, 1]
  mask = np.zeros((B, T), bool)
  for b, length in enumerate(lengths):
    mask[b, T - length:] = padding == "pre"
    mask[b, :length] = padding == "post"
  layer = recurrent_lib.RNN(H, cell=cell)
  last, _ = layer.apply({"params": params}, jnp.asarray(x), jnp.asarray(mask))
  for b in range(B):
    alone, _ = layer.apply({"params": params}, jnp.asarray(x[b:b + 1][:, mask[b]]))
    np.testing.assert_allclose(last[b], alone[0], atol=1e-5)


@pytest.mark.parametrize("cell", CELLS, ids=IDS)
def test_bidirectional_runs_the_backward_copy_over_the_reversed_sequence(cell):
  fw, bw, x = _params(cell, 4), _params(cell, 5), _x(6)
  outputs, _ = recurrent_lib.Bidirectional(H, cell=cell, return_sequences=True).apply(
      {"params": {"forward": fw, "backward": bw}}, jnp.asarray(x))
  want = np.concatenate([naive(cell, x, **fw), naive(cell, x[:, ::-1], **bw)[:, ::-1]], -1)
  np.testing.assert_allclose(outputs, want, atol=2e-5)


@pytest.mark.parametrize("cell", CELLS, ids=IDS)
def test_the_final_state_is_the_cells_pytree(cell):
  _, state = recurrent_lib.RNN(H, cell=cell).apply({"params": _params(cell)}, jnp.asarray(_x()))
  shapes = [leaf.shape for leaf in jax.tree.leaves(state)]
  assert shapes == [(B, H)] * (2 if cell.name == "lstm" else 1)


@pytest.mark.parametrize("cell", CELLS, ids=IDS)
def test_gates_come_with_the_reference_scan(cell):
  params, x = _params(cell), _x()
  x_proj = jnp.swapaxes(jnp.asarray(x) @ params["kernel"] + cell.input_bias(params["bias"]),
                        0, 1)
  weights = cell.recurrent_weights(jnp.asarray(params["recurrent_kernel"]), params["bias"])
  (hs, gates, _), _ = recurrent_lib.scan.scan(cell, x_proj, weights, None,
                                              cell.initial_state(B, H), with_gates=True)
  assert set(gates) == set(cell.gate_names)
  assert all(g.shape == (T, B, H) for g in gates.values())
  np.testing.assert_allclose(np.swapaxes(hs, 0, 1), naive(cell, x, **params), atol=2e-5)


def test_default_initialisers_follow_keras():
  x = jnp.zeros((1, T, F))
  gru = recurrent_lib.RNN(H, cell=recurrent_lib.GRUCell()).init(jax.random.key(0), x)["params"]
  assert gru["bias"].shape == (2, 3 * H) and not np.any(gru["bias"])
  before = recurrent_lib.RNN(H, cell=recurrent_lib.GRUCell(reset_after=False)).init(
      jax.random.key(0), x)["params"]
  assert before["bias"].shape == (3 * H,)
  rnn = recurrent_lib.RNN(H, cell=recurrent_lib.SimpleRNNCell()).init(
      jax.random.key(0), x)["params"]
  rk = np.asarray(rnn["recurrent_kernel"])
  np.testing.assert_allclose(rk @ rk.T, np.eye(H), atol=1e-5)


def test_a_classifier_names_each_layer_by_its_cell():
  model = model_lib.LSTMClassifier(
      vocab_size=20, embed_dim=4, num_classes=2,
      recurrent=(model_lib.Recurrent(6, cell=recurrent_lib.SimpleRNNCell()),
                 model_lib.Recurrent(5, cell=recurrent_lib.GRUCell(), bidirectional=True),
                 model_lib.Recurrent(4)))
  params = model.init(jax.random.key(0), jnp.ones((2, 7), jnp.int32))["params"]
  assert {"simple_rnn_0", "gru_1", "lstm_2"} <= set(params)
  assert params["gru_1"]["forward"]["kernel"].shape == (6, 15)


@pytest.mark.parametrize("cell", CELLS, ids=IDS)
def test_the_projection_table_serves_every_cell(cell):
  model = model_lib.LSTMClassifier(vocab_size=30, embed_dim=4, num_classes=3,
                                   recurrent=(model_lib.Recurrent(5, cell=cell,
                                                                  bidirectional=True),))
  ids = jnp.asarray(np.random.default_rng(0).integers(0, 30, (4, 9)), jnp.int32)
  variables = model.init(jax.random.key(1), ids)
  table = model_lib.input_projection_table(variables["params"], model)
  assert table.shape == (30, 2 * cell.gates * 5)
  assert model_lib.projection_table_bytes(model) == table.size * 4
  np.testing.assert_allclose(model.apply(variables, ids, projection_table=table),
                             model.apply(variables, ids), atol=1e-5)


def test_a_layer_dict_names_its_cell_and_options():
  spec = model_lib.recurrent_layer({"units": 8, "cell": "gru", "reset_after": False,
                                    "bidirectional": True})
  assert spec == model_lib.Recurrent(8, cell=recurrent_lib.GRUCell(reset_after=False),
                                     bidirectional=True)
  assert model_lib.recurrent_layer(model_lib.recurrent_layer_dict(spec)) == spec
  assert model_lib.recurrent_layer({"units": 8}).cell == recurrent_lib.LSTMCell()


def _problems(**layer):
  config = schema.default_config()
  config.model.recurrent_layers = (layer,)
  with pytest.raises(validation.ConfigError) as raised:
    validation.validate(validation.normalize(config))
  return str(raised.value)


def test_an_unknown_cell_is_refused_with_the_registered_ones():
  assert ("model.recurrent_layers[0]: cell='lstmm': unknown recurrent cell; registered: "
          "lstm, gru, simple_rnn") in _problems(units=8, cell="lstmm")


def test_an_option_of_another_cell_is_refused_by_name():
  assert "model.recurrent_layers[0]: unknown field 'reset_after'" in _problems(
      units=8, cell="lstm", reset_after=True)


def test_an_unknown_activation_is_refused_by_name():
  assert "simple_rnn activation must be one of tanh, relu, got 'sigmoid'" in _problems(
      units=8, cell="simple_rnn", activation="sigmoid")


def test_a_config_file_of_before_the_rename_still_runs():
  config = schema.default_config()
  del config.model["recurrent_layers"]
  config.model.lstm_layers = ({"units": 32},)
  normalized = validation.normalize(config)
  assert "lstm_layers" not in normalized.model
  assert normalized.model.recurrent_layers[0]["units"] == 32
  assert normalized.model.recurrent_layers[0]["cell"] == "lstm"


def test_a_config_setting_both_names_differently_is_refused():
  config = schema.default_config()
  config.model.lstm_layers = ({"units": 32},)
  with pytest.raises(validation.ConfigError, match="model.lstm_layers is the old name of "
                     "model.recurrent_layers"):
    validation.normalize(config)


def test_a_workdir_of_before_the_rename_compares_equal_to_its_config():
  new = validation.to_plain(validation.normalize(schema.default_config()).to_dict())
  old = validation.to_plain(schema.default_config().to_dict())
  old["model"]["lstm_layers"] = old["model"].pop("recurrent_layers")
  assert validation.changed_keys(old, new) == set()


@pytest.mark.parametrize("cell", CELLS[1:], ids=IDS[1:])
def test_cudnn_runs_the_fused_path_of_a_cell_without_a_cudnn_layer(cell):
  # JAX's cuDNN binding has the LSTM only; other cells fall back, as Keras's do.
  assert cell.cudnn_layer() is None
  params, x = _params(cell), jnp.asarray(_x())
  outputs = {implementation: recurrent_lib.RNN(H, cell=cell, return_sequences=True,
                                               implementation=implementation).apply(
                                                   {"params": params}, x)[0]
             for implementation in ("cudnn", "fused")}
  np.testing.assert_array_equal(outputs["cudnn"], outputs["fused"])


@dataclasses.dataclass(frozen=True)
class MinimalGatedUnit(recurrent_lib.Cell):
  """A fourth cell, as a user adds one (docs/ARCHITECTURE.md, "Recurrent cells"): the
  minimal gated unit (Zhou et al. 2016), which Keras has no layer of.

    f = sigmoid(x_f + h_{t-1} @ U_f); g = tanh(x_h + (f * h_{t-1}) @ U_h)
    h = (1 - f) * h_{t-1} + f * g
  """
  name = "mgu"
  gates = 2
  gate_names = ("forget", "candidate")

  def step(self, z_x, state, weights, recurrent_mask):
    h_in = state if recurrent_mask is None else state * recurrent_mask
    x_f, x_h = jnp.split(z_x.astype(jnp.float32), 2, axis=-1)
    units = state.shape[-1]
    forget = jax.nn.sigmoid(x_f + recurrent_lib.cell.recurrent_projection(
        h_in, weights[:, :units]))
    candidate = jnp.tanh(x_h + recurrent_lib.cell.recurrent_projection(
        forget * h_in, weights[:, units:]))
    return (1.0 - forget) * state + forget * candidate, {"forget": forget,
                                                         "candidate": candidate}


@pytest.fixture
def fourth_cell():
  with recurrent_lib.CELLS.temporarily(MinimalGatedUnit.name, MinimalGatedUnit):
    yield MinimalGatedUnit


def test_a_fourth_cell_is_one_class_and_one_registry_entry(fourth_cell):
  config = schema.default_config()
  config.model.recurrent_layers = ({"units": 6, "cell": "mgu", "bidirectional": True},
                                   {"units": 4, "cell": "gru"})
  config.model.pooling = "average"
  config = validation.normalize(config)
  with pytest.raises(validation.ConfigError) as raised:  # no data given: the only problem
    validation.validate(config)
  assert "recurrent_layers" not in str(raised.value)
  model = model_lib.from_config(config.model, config.embedding, vocab_size=20, num_classes=3)
  assert model.recurrent[0].cell == fourth_cell()
  ids = jnp.asarray(np.random.default_rng(0).integers(0, 20, (4, 9)), jnp.int32)
  variables = model.init(jax.random.key(0), ids)
  assert variables["params"]["mgu_0"]["forward"]["kernel"].shape == (
      config.embedding.dim, 2 * 6)
  table = model_lib.input_projection_table(variables["params"], model)
  np.testing.assert_allclose(model.apply(variables, ids, projection_table=table),
                             model.apply(variables, ids), atol=1e-5)
  grads = jax.grad(lambda p: model.apply({"params": p}, ids).sum())(variables["params"])
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(grads))


def test_a_fourth_cell_masks_like_the_others(fourth_cell):
  test_a_padded_sequence_gives_the_unpadded_runs_results(fourth_cell(), "pre")


def test_a_cell_keras_has_no_layer_of_is_refused_by_the_keras_export(fourth_cell):
  keras_compat = pytest.importorskip("lstm_jax.keras_compat")
  model = model_lib.LSTMClassifier(vocab_size=20, embed_dim=4, num_classes=2,
                                   recurrent=(model_lib.Recurrent(5, cell=fourth_cell()),))
  with pytest.raises(ValueError, match="recurrent layer 0 is a 'mgu' cell, which Keras has "
                     "no layer of"):
    keras_compat.build_keras(model)
