"""A run of a model-family member (bidirectional, max pooling, a hidden layer,
a sigmoid output) trains, predicts, evaluates, and exports to plain Keras 3,
which predicts what `lstm_jax.predict --json` predicts on the JAX and the torch
backends."""

import importlib.util
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from lstm_jax import evaluate
from lstm_jax import export
from lstm_jax import keras_compat
from lstm_jax import serving
from lstm_jax.training import train
from test_serving import review
from test_serving import run_config
from keras_testing import KERAS_WARNINGS
from keras_testing import keras_on_jax
from test_serving import write_reviews
from conftest import REPO_ROOT

keras = keras_on_jax()
pytestmark = KERAS_WARNINGS

TEXTS = [review(random.Random(7), label) for label in ["pos", "neg"] * 6] + [
    "great", "an unknownword", "awful awful awful movie"]

# Loads an export with plain Keras on the backend KERAS_BACKEND names; prints
# the probabilities of the texts on stdin (one per line) as JSON.
KERAS_PREDICT = """
import json, pathlib, sys
import keras
from keras.src.legacy.preprocessing.text import tokenizer_from_json
out = pathlib.Path(sys.argv[1])
tokenizer = tokenizer_from_json((out / "keras_tokenizer.json").read_text())
preprocessing = json.loads((out / "preprocessing.json").read_text())
ids = keras.utils.pad_sequences(
    tokenizer.texts_to_sequences(sys.stdin.read().splitlines()), **preprocessing)
model = keras.saving.load_model(out / "model.keras")
print(json.dumps({"backend": keras.backend.backend(),
                  "probabilities": model.predict(ids, verbose=0).tolist()}))
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  base = tmp_path_factory.mktemp("family_run")
  write_reviews(base / "train.csv", ["pos", "neg"] * 160, seed=0)
  write_reviews(base / "other.csv", ["pos", "neg"] * 12, seed=5)
  config = run_config(base)
  config.model.recurrent_layers = ({"units": 8, "bidirectional": True},)
  config.model.pooling = "max"
  config.model.hidden_layers = ({"units": 8, "activation": "tanh", "dropout_after": 0.1},)
  config.model.embedding_dropout = 0.1
  config.model.output = "sigmoid"
  config.model.implementation = "fused"
  config.train.max_epochs = 4
  train.train_and_evaluate(config, base / "workdir")
  return base / "workdir"


@pytest.fixture(scope="module")
def exported(workdir, tmp_path_factory):
  out = tmp_path_factory.mktemp("exported") / "keras"
  export.export(workdir, out)
  return out


def predict_json(workdir: pathlib.Path) -> list[dict]:
  done = subprocess.run(
      [sys.executable, "-m", "lstm_jax.predict", f"--workdir={workdir}", "--json",
       "--top_k=2", *TEXTS], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr
  return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_sigmoid_model_learns_and_reports_binary_metrics(workdir):
  results = json.loads((workdir / "results.json").read_text())
  assert results["test_accuracy"] >= 0.9
  assert len(results["confusion_matrix"]) == 2 and results["test_macro_f1"] >= 0.9
  classifier = serving.load_classifier(workdir)
  assert classifier.model.output == "sigmoid" and classifier.model.pooling == "max"
  probabilities = classifier.predict_proba(TEXTS)
  assert probabilities.shape == (len(TEXTS), 2)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_a_sigmoid_model_evaluates_on_other_files(workdir):
  result = evaluate.evaluate_workdir(str(workdir), {}, files=[str(workdir.parent / "other.csv")])
  assert result["num_examples"] == 24 and result["accuracy"] >= 0.9


def test_export_writes_the_keras_files(workdir, exported):
  assert sorted(p.name for p in exported.iterdir()) == sorted(export.EXPORT_FILES)
  assert json.loads((exported / "labels.json").read_text()) == serving.read_labels(workdir)
  assert json.loads((exported / "preprocessing.json").read_text()) == {
      "maxlen": 8, "padding": "pre", "truncating": "pre"}


def test_exported_vocabulary_reads_with_keras_tokenizer_from_json(workdir, exported):
  from keras.src.legacy.preprocessing.text import tokenizer_from_json
  theirs = tokenizer_from_json((exported / "keras_tokenizer.json").read_text())
  ours = serving.load_classifier(workdir).tokenizer
  assert theirs.texts_to_sequences(TEXTS) == ours.texts_to_sequences(TEXTS)
  assert theirs.word_index == ours.word_index


def test_exported_model_imports_back_to_the_same_parameters(workdir, exported):
  classifier = serving.load_classifier(workdir)
  model, variables = keras_compat.from_keras(exported / "model.keras")
  assert model == classifier.model.clone(implementation="fused", dtype=model.dtype)
  jax.tree.map(np.testing.assert_array_equal, variables["params"],
               jax.tree.map(np.asarray, classifier.params))


@pytest.mark.parametrize("backend", ["jax", pytest.param("torch", marks=pytest.mark.keras)])
def test_exported_model_predicts_what_predict_json_prints(workdir, exported, backend):
  if importlib.util.find_spec(backend) is None:
    pytest.skip(f"{backend} is not installed (requirements-bench.txt installs torch)")
  done = subprocess.run([sys.executable, "-c", KERAS_PREDICT, str(exported)],
                        input="\n".join(TEXTS), capture_output=True, text=True, timeout=300,
                        env={**os.environ, "KERAS_BACKEND": backend})
  assert done.returncode == 0, done.stderr
  keras_output = json.loads(done.stdout.splitlines()[-1])
  assert keras_output["backend"] == backend
  # A sigmoid's Keras output is the probability of the second label.
  positive = serving.read_labels(workdir)[1]
  ours = [next(p["probability"] for p in row["top_k"] if p["label"] == positive)
          for row in predict_json(workdir)]
  np.testing.assert_allclose(np.asarray(keras_output["probabilities"])[:, 0], ours,
                             atol=1e-5, rtol=0)


def test_export_refuses_to_overwrite_an_earlier_export(workdir, exported):
  with pytest.raises(export.errors.BadValueError, match=r"already holds model.keras.*--overwrite"):
    export.export(workdir, exported)
  export.export(workdir, exported, overwrite=True)
  assert (exported / "model.keras").is_file()


@pytest.mark.parametrize("change", [{"padding": "middle"}, {"truncating": None},
                                    {"maxlen": 0}, {"maxlen": "200"}])
def test_a_hand_written_export_with_bad_padding_settings_is_named(exported, tmp_path, change):
  directory = tmp_path / "export"
  shutil.copytree(exported, directory)
  path = directory / "preprocessing.json"
  path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
  key = next(iter(change))
  with pytest.raises(export.errors.BadValueError, match=rf"preprocessing.json: {key} must"):
    export.load_export(directory)


def test_export_command_names_a_missing_workdir(tmp_path):
  done = subprocess.run(
      [sys.executable, "-m", "lstm_jax.export", f"--workdir={tmp_path / 'none'}",
       f"--out={tmp_path / 'out'}"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
  assert done.returncode == 2
  assert done.stderr.startswith("error: ") and str(tmp_path / "none") in done.stderr
  assert not (tmp_path / "out").exists()
