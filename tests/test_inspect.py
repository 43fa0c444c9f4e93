"""`lstm_jax.explain` and `python -m lstm_jax.inspect`: the numbers are the model's.

The gates are those the recurrence computes (the recomputed outputs are the
layers' own, and the first step's gates are the LSTM's equations written out);
the last step's probabilities are `predict`'s, each earlier one the model's
answer to a prefix of the text; the attributions add up to the probability
change integrated gradients promise. Trained models are the tiny runs of
`test_serving` (an LSTM) and a GRU trained the same way.
"""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax import errors
from lstm_jax import export
from lstm_jax import inspect as inspect_command
from lstm_jax import recurrent
from lstm_jax import serving
from lstm_jax.explain import figure as figure_lib
from lstm_jax.explain import inspection
from lstm_jax.explain import recording
from lstm_jax.models import classifier as model_lib
from lstm_jax.training import train
from test_serving import REPO_ROOT
from test_serving import SERVING_FILES
from test_serving import copy_files
from test_serving import run_config
from test_serving import trained_run
from test_serving import write_reviews

TEXTS = ["the movie was great", "a film and it is terrible", "plot is poor"]


def run_inspect(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "lstm_jax.inspect", *args], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def lstm_workdir(tmp_path_factory):
  return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def gru_workdir(tmp_path_factory):
  base = tmp_path_factory.mktemp("gru_run")
  write_reviews(base / "train.csv", ["pos", "neg"] * 160, seed=0)
  config = run_config(base)
  config.model.recurrent_layers = ({"units": 8, "cell": "gru"},)
  train.train_and_evaluate(config, base / "workdir")
  return base / "workdir"


@pytest.fixture(scope="module")
def lstm_classifier(lstm_workdir):
  return serving.load_classifier(lstm_workdir)


@pytest.fixture(scope="module")
def lstm_inspections(lstm_classifier):
  return inspection.inspect(lstm_classifier, TEXTS)


MODELS = {
    "lstm": (model_lib.Recurrent(6),),
    "gru": (model_lib.Recurrent(6, cell=recurrent.GRUCell()),),
    "gru_reset_before": (model_lib.Recurrent(6, cell=recurrent.GRUCell(reset_after=False)),),
    "simple_rnn": (model_lib.Recurrent(6, cell=recurrent.SimpleRNNCell("relu")),),
    "bidirectional_stack": (
        model_lib.Recurrent(5, bidirectional=True),
        model_lib.Recurrent(4, cell=recurrent.GRUCell(), bidirectional=True, merge_mode="sum"),
        model_lib.Recurrent(3, cell=recurrent.SimpleRNNCell())),
}


@pytest.mark.parametrize("implementation", ["fused", "scan"])
@pytest.mark.parametrize("layers", MODELS.values(), ids=MODELS.keys())
def test_recomputed_outputs_are_the_layers_own(layers, implementation):
  model = model_lib.LSTMClassifier(vocab_size=20, embed_dim=4, num_classes=3,
                                   recurrent=layers, implementation=implementation,
                                   time_chunks=3)
  ids = np.random.default_rng(0).integers(1, 20, (4, 9)).astype(np.int32)
  ids[1, :5] = 0  # pre-padded
  ids[2, 4:] = 0  # post-padded
  ids[3, :8] = 0  # one token
  params = model.init(jax.random.PRNGKey(1), ids)["params"]
  applied = jax.jit(lambda p, i: recording.apply(model, p, i))(params, ids)

  names = [layer.name for layer in recording.traced_layers(model)]
  assert sorted(applied.trace) == sorted(names)
  for layer in recording.traced_layers(model):
    np.testing.assert_allclose(applied.recomputed[layer.name], applied.outputs[layer.name],
                               atol=2e-6, err_msg=layer.name)
    assert set(applied.trace[layer.name]) == set(layer.value_names)
  np.testing.assert_allclose(applied.logits, model.apply({"params": params}, ids), atol=1e-6)


def test_the_first_steps_gates_are_the_lstm_equations():
  model = model_lib.LSTMClassifier(vocab_size=20, embed_dim=4, num_classes=2,
                                   recurrent=(model_lib.Recurrent(5),))
  ids = np.array([[0, 0, 7, 3]], np.int32)
  params = model.init(jax.random.PRNGKey(2), ids)["params"]
  values = recording.apply(model, params, ids).trace["lstm_0"]
  layer = params["lstm_0"]
  # h and c are zero before the first real token, so z = x @ kernel + bias.
  z = params["embedding"]["embedding"][7] @ layer["kernel"] + layer["bias"]
  z_i, z_f, z_c, z_o = np.split(np.asarray(z), 4)
  sigmoid = lambda v: 1 / (1 + np.exp(-v))
  expected = {"input": sigmoid(z_i), "forget": sigmoid(z_f), "cell_update": np.tanh(z_c),
              "output": sigmoid(z_o)}
  expected["cell_state"] = expected["input"] * expected["cell_update"]
  expected["hidden"] = expected["output"] * np.tanh(expected["cell_state"])
  for name, value in expected.items():
    np.testing.assert_allclose(values[name][0, 2], value, rtol=1e-5, atol=1e-6, err_msg=name)
  # A masked padding step leaves the state as it was: zero.
  np.testing.assert_array_equal(values["cell_state"][0, :2], 0.0)


def test_gates_are_recorded_at_each_token_of_the_text(lstm_classifier, lstm_inspections):
  item = lstm_inspections[0]
  ids = lstm_classifier.encode([TEXTS[0]])[0]
  trace = recording.apply(lstm_classifier.model, lstm_classifier.params, ids[None]).trace
  assert item.tokens == ["the", "movie", "was", "great"]
  np.testing.assert_array_equal(item.positions, np.flatnonzero(ids))
  for name in ("input", "forget", "cell_update", "output", "hidden", "cell_state"):
    np.testing.assert_array_equal(item.values["lstm_0"][name], trace["lstm_0"][name][0, ids != 0])
    assert item.values["lstm_0"][name].shape == (4, 8)


def test_the_last_probabilities_are_predicts(lstm_classifier, lstm_inspections):
  expected = lstm_classifier.predict_proba(TEXTS)
  for item, row in zip(lstm_inspections, expected):
    np.testing.assert_allclose(item.probabilities[-1], row, rtol=1e-6, atol=1e-7)
  assert [i.label for i in lstm_inspections] == [p.label for p in lstm_classifier.predict(TEXTS)]


def test_each_probability_is_the_models_answer_to_a_prefix(lstm_classifier, lstm_inspections):
  item = lstm_inspections[1]
  prefixes = [" ".join(item.tokens[:k]) for k in range(1, len(item.tokens) + 1)]
  np.testing.assert_allclose(item.probabilities, lstm_classifier.predict_proba(prefixes),
                             rtol=1e-6, atol=1e-7)


def test_attributions_add_up_to_the_probability_change(lstm_classifier, lstm_inspections):
  for item in lstm_inspections:
    a = item.attribution
    assert a.target == item.label
    assert a.probability == pytest.approx(float(np.max(item.probabilities[-1])), abs=1e-5)
    assert abs(a.gap) < 0.01 * max(abs(a.probability - a.baseline_probability), 0.05)
    assert len(a.values) == len(item.tokens)
  # The baseline: the same sequence with every token's vector zero.
  model, params = lstm_classifier.model, lstm_classifier.params
  ids = lstm_classifier.encode([TEXTS[0]])
  zeros = jnp.zeros((1, ids.shape[1], model.embed_dim))
  logits = recording.apply(model, params, ids, first_layer_inputs=zeros, trace=False).logits
  target = lstm_classifier.label_names.index(lstm_inspections[0].attribution.target)
  assert lstm_inspections[0].attribution.baseline_probability == pytest.approx(
      float(jax.nn.softmax(logits)[0, target]), abs=1e-6)


def test_more_quadrature_steps_shrink_the_gap(lstm_classifier, lstm_inspections):
  coarse = inspection.inspect(lstm_classifier, [TEXTS[1]], steps=4)[0].attribution
  fine = lstm_inspections[1].attribution
  assert fine.steps == 64
  assert abs(fine.gap) < abs(coarse.gap)
  assert abs(fine.gap) < 2e-3


def test_the_sentiment_word_carries_the_prediction(lstm_inspections):
  for item, word in zip(lstm_inspections, ["great", "terrible", "poor"]):
    assert item.tokens[int(np.argmax(item.attribution.values))] == word


def test_another_target_class_is_explained_on_request(lstm_classifier):
  item = inspection.inspect(lstm_classifier, [TEXTS[0]], target="neg")[0]
  assert item.attribution.target == "neg"
  assert item.attribution.probability == pytest.approx(item.probabilities[-1][0], abs=1e-5)
  with pytest.raises(errors.BadValueError, match="'maybe' is not one of the model's classes"):
    inspection.inspect(lstm_classifier, [TEXTS[0]], target="maybe")


def test_padding_truncation_and_unknown_words_are_reported(lstm_classifier):
  short, long = inspection.inspect(
      lstm_classifier, ["great qqq film", "the a film plot was is and it this movie good"])
  assert short.tokens == ["great", "film"] and short.unknown_words == ["qqq"]
  assert short.padding_steps == 6 and short.words_cut == 0
  # Keras truncates at the front ("pre"): the last 8 words stay.
  assert long.tokens == ["plot", "was", "is", "and", "it", "this", "movie", "good"]
  assert long.words_cut == 3 and long.padding_steps == 0


@pytest.mark.parametrize("text,message", [
    ("", "text 1 is empty"),
    ("  ...  ", "text 1 is empty"),
    ("zzz qqq", "text 1 has no word of the training vocabulary"),
])
def test_a_text_with_nothing_to_inspect_is_refused(lstm_classifier, text, message):
  with pytest.raises(errors.UserError, match=message):
    inspection.inspect(lstm_classifier, [text])


def test_token_ids_are_inspected_without_a_tokenizer(lstm_classifier, lstm_inspections):
  served = serving.from_model(lstm_classifier.model, {"params": lstm_classifier.params},
                              label_names=lstm_classifier.label_names, max_length=8)
  ids = lstm_classifier.encode([TEXTS[0]])[0]
  item = inspection.inspect_ids(served, ids)
  assert item.tokens == [str(i) for i in ids[ids != 0]]
  np.testing.assert_allclose(item.probabilities, lstm_inspections[0].probabilities, atol=1e-7)
  with pytest.raises(errors.BadValueError, match="no tokenizer"):
    inspection.inspect(served, TEXTS)


def test_json_holds_tokens_probabilities_gates_and_attributions(lstm_inspections):
  item = lstm_inspections[0]
  row = json.loads(json.dumps(item.to_json()))
  assert row["tokens"] == item.tokens
  assert row["padding"] == {"side": "pre", "steps": 4, "masked": True}
  assert row["probabilities"][-1] == {"neg": float(item.probabilities[-1][0]),
                                      "pos": float(item.probabilities[-1][1])}
  assert set(row["gates"]) == {"input", "forget", "cell_update", "output", "hidden",
                               "cell_state"}
  np.testing.assert_allclose(row["gates"]["forget"], item.values["lstm_0"]["forget"],
                             atol=1e-6)
  assert row["attribution"]["method"] == "integrated_gradients"
  assert sum(row["attributions"]) == pytest.approx(row["attribution"]["sum"], abs=1e-5)
  with pytest.raises(errors.BadValueError, match="no recurrent layer 'gru_0'.*lstm_0"):
    item.to_json("gru_0")


def test_the_figure_has_a_panel_per_gate_and_state(lstm_inspections):
  figure = figure_lib.inspection_figure(lstm_inspections[0])
  titles = {ax.get_title(loc="left").split(":")[0]: ax for ax in figure.axes}
  assert {"input", "forget", "cell_update", "output", "hidden", "cell_state"} <= set(titles)
  labels = [t.get_text() for t in titles["each token's contribution to p(pos)"].get_xticklabels()]
  assert labels == ["4 padding (masked)", "the", "movie", "was", "great"]


def test_the_figure_draws_the_heat_maps_asked_for(lstm_inspections):
  figure = figure_lib.inspection_figure(lstm_inspections[0],
                                        heat_maps=["forget", "cell_state"], units=3)
  titles = [ax.get_title(loc="left") for ax in figure.axes]
  assert [t.split(":")[0] for t in titles if "units that vary most" in t] == [
      "forget", "cell_state"]
  with pytest.raises(errors.BadValueError, match="lstm_0 \\(lstm\\) has no gate or state reset"):
    figure_lib.inspection_figure(lstm_inspections[0], heat_maps=["reset"])


def test_most_varying_units_are_chosen_for_the_heat_map():
  values = np.zeros((5, 4))
  values[:, 2] = np.arange(5)
  values[:, 0] = np.arange(5) * 0.5
  assert figure_lib.most_varying_units(values, 2).tolist() == [0, 2]


def test_command_line_draws_and_prints_an_lstm_run(lstm_workdir, lstm_inspections, tmp_path):
  done = run_inspect(f"--workdir={lstm_workdir}", "--json", f"--out={tmp_path / 'f.png'}",
                     *TEXTS[:2])
  assert done.returncode == 0, done.stderr
  assert (tmp_path / "f_1.png").stat().st_size > 10_000 and (tmp_path / "f_2.png").exists()
  rows = [json.loads(line) for line in done.stdout.splitlines()]
  assert [r["tokens"] for r in rows] == [i.tokens for i in lstm_inspections[:2]]
  for row, item in zip(rows, lstm_inspections):
    assert row["probabilities"][-1]["pos"] == pytest.approx(item.probabilities[-1][1], abs=1e-6)


def test_a_gru_run_is_inspected_with_its_gates(gru_workdir):
  classifier = serving.load_classifier(gru_workdir)
  [item] = inspection.inspect(classifier, [TEXTS[0]])
  row = item.to_json()
  assert row["cell"] == "gru" and row["layer"] == "gru_0"
  assert set(row["gates"]) == {"update", "reset", "candidate", "hidden"}
  trace = recording.apply(classifier.model, classifier.params,
                          classifier.encode([TEXTS[0]])).trace["gru_0"]
  np.testing.assert_allclose(row["gates"]["update"], trace["update"][0, -4:], atol=1e-6)
  np.testing.assert_allclose(item.probabilities[-1], classifier.predict_proba([TEXTS[0]])[0],
                             rtol=1e-6, atol=1e-7)
  figure = figure_lib.inspection_figure(item)
  titles = {ax.get_title(loc="left").split(":")[0] for ax in figure.axes}
  assert {"update", "reset", "candidate", "hidden"} <= titles


def test_a_keras_imported_lstm_is_inspected_like_its_run(lstm_workdir, lstm_inspections,
                                                         tmp_path):
  export.export(lstm_workdir, tmp_path / "keras")
  item = inspection.inspect(export.load_export(tmp_path / "keras"), [TEXTS[0]])[0]
  expected = lstm_inspections[0]
  assert item.tokens == expected.tokens
  np.testing.assert_allclose(item.probabilities, expected.probabilities, atol=1e-6)
  for name, value in expected.values["lstm_0"].items():
    np.testing.assert_allclose(item.values["lstm_0"][name], value, atol=1e-6, err_msg=name)
  np.testing.assert_allclose(item.attribution.values, expected.attribution.values, atol=1e-5)

  done = run_inspect(f"--keras_dir={tmp_path / 'keras'}", "--json",
                     f"--out={tmp_path / 'k.png'}", TEXTS[0])
  assert done.returncode == 0, done.stderr
  assert json.loads(done.stdout)["tokens"] == expected.tokens
  assert (tmp_path / "k.png").exists()


def test_a_keras_gru_model_is_inspected_at_kerass_probabilities(lstm_workdir, lstm_classifier,
                                                                tmp_path):
  """A GRU made in Keras, beside the vocabulary, labels and padding of the LSTM run."""
  keras = pytest.importorskip("keras")
  export.export(lstm_workdir, tmp_path / "keras")
  inputs = keras.Input((8,), dtype="int32")
  x = keras.layers.Embedding(lstm_classifier.tokenizer.vocab_size, 8, mask_zero=True)(inputs)
  x = keras.layers.GRU(6)(x)
  outputs = keras.layers.Dense(2, activation="softmax")(x)
  keras_model = keras.Model(inputs, outputs)
  keras_model.save(tmp_path / "keras" / "model.keras")
  classifier = export.load_export(tmp_path / "keras")
  item = inspection.inspect(classifier, [TEXTS[0]])[0]
  ids = classifier.encode([TEXTS[0]])
  np.testing.assert_allclose(item.probabilities[-1], keras_model.predict(ids, verbose=0)[0],
                             atol=1e-5)
  assert set(item.values["gru_0"]) == {"update", "reset", "candidate", "hidden"}


def test_an_unfinished_run_is_refused_unless_its_last_weights_are_asked_for(lstm_workdir,
                                                                          tmp_path):
  unfinished = copy_files(lstm_workdir, tmp_path / "unfinished", SERVING_FILES)
  with pytest.raises(errors.UserError, match=r"holds an unfinished run \(results.json is not "
                     r"written yet; checkpoints of epochs \[.*3\]\).*--weights=last"):
    inspect_command.load(str(unfinished), None, "best")
  assert inspect_command.load(str(unfinished), None, "last").epoch == 3


def test_a_directory_without_the_keras_files_is_named(tmp_path):
  with pytest.raises(errors.UserError, match="lacks model.keras, keras_tokenizer.json"):
    inspect_command.load(None, str(tmp_path), "best")
  with pytest.raises(errors.UserError, match="exactly one of --workdir and --keras_dir"):
    inspect_command.load(None, None, "best")


def test_command_line_errors_are_one_line(lstm_workdir):
  done = run_inspect(f"--workdir={lstm_workdir}", "--json", "great", "zzz qqq")
  assert done.returncode == errors.EXIT_CODE
  assert done.stderr.strip().splitlines() == [
      "error: text 2 has no word of the training vocabulary ('zzz qqq'): the model would "
      "read an empty sequence"]
  assert done.stdout == ""
