"""`serving.load_classifier` on a real, tiny trained run.

The run (`trained_run`) is trained once per test session on generated reviews
whose label is given by one sentiment word among filler words; the predict
and evaluate tests reuse it.
"""

import csv
import json
import pathlib
import random
import shutil
import subprocess
import sys
import textwrap

import jax
import ml_collections
import numpy as np
import pytest

from configs import default as default_config
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.models import classifier as model_lib
from lstm_jax.training import checkpoints
from lstm_jax.training import input_pipeline
from lstm_jax.training import train
from conftest import REPO_ROOT

POSITIVE = ("good", "great", "excellent", "wonderful", "superb")
NEGATIVE = ("bad", "awful", "terrible", "horrible", "poor")
FILLER = ("the", "a", "movie", "film", "plot", "was", "is", "and", "it", "this")
SERVING_FILES = ("config.json", "tokenizer.json", "labels.json", "checkpoints")


def review(rng: random.Random, label: str) -> str:
  """Four filler words and one word of the label's sentiment, shuffled."""
  words = [rng.choice(FILLER) for _ in range(4)]
  words.append(rng.choice(POSITIVE if label == "pos" else NEGATIVE))
  rng.shuffle(words)
  return " ".join(words)


def write_reviews(path: pathlib.Path, labels: list[str], seed: int) -> None:
  """A `text,label` CSV with one generated review per label."""
  rng = random.Random(seed)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    writer.writerows([review(rng, label), label] for label in labels)


def run_config(base: pathlib.Path) -> ml_collections.ConfigDict:
  config = default_config.get_config()
  config.data.train_files = (str(base / "train.csv"),)
  config.data.tfds_data_dir = str(base / "tfds")
  config.data.max_length = 8
  config.embedding.dim = 8
  config.model.recurrent_layers = ({"units": 8},)
  config.model.implementation = "scan"
  config.train.batch_size = 16
  config.train.learning_rate = 0.03
  config.train.max_epochs = 3
  return config


def trained_run(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
  """The workdir of a finished tiny run; trained on the first call of the
  session, later calls find it finished."""
  base = tmp_path_factory.getbasetemp() / "serving_run"
  base.mkdir(exist_ok=True)
  if not (base / "train.csv").exists():
    write_reviews(base / "train.csv", ["pos", "neg"] * 160, seed=0)
  train.train_and_evaluate(run_config(base), base / "workdir")
  return base / "workdir"


def copy_files(workdir: pathlib.Path, target: pathlib.Path,
               names: tuple[str, ...]) -> pathlib.Path:
  target.mkdir()
  for name in names:
    source = workdir / name
    if source.is_dir():
      shutil.copytree(source, target / name)
    else:
      shutil.copy(source, target / name)
  return target


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def results(workdir):
  return workdir_lib.read_json(workdir / workdir_lib.RESULTS_FILE)


@pytest.fixture(scope="module")
def classifier(workdir):
  return serving.load_classifier(workdir)


def test_probabilities_equal_the_trained_models_outputs(workdir, classifier, results):
  config = serving.read_config(workdir)
  texts = [review(random.Random(1), label) for label in ["pos", "neg"] * 20]
  # The reference: the full training state restored by the training code path.
  model = model_lib.from_config(config.model, config.embedding, classifier.tokenizer.vocab_size, 2)
  target = jax.device_get(train.create_train_state(
      model, config.train, config.data.max_length, seed=config.seed, steps_per_epoch=1))
  state, _ = checkpoints.Checkpointer(workdir / "checkpoints").restore(
      results["best_epoch"], target)
  encoded = input_pipeline.encode(texts, ["pos"] * len(texts), ["pos", "neg"],
                                  classifier.tokenizer, config.data)
  logits = model.apply({"params": state.params}, encoded.token_ids, train=False)

  probabilities = classifier.predict_proba(texts)

  assert probabilities.dtype == np.float32 and probabilities.shape == (40, 2)
  np.testing.assert_allclose(probabilities, jax.nn.softmax(logits), rtol=1e-5, atol=1e-6)


def test_classifier_gathers_from_a_projection_table_or_computes_without_one(
    workdir, classifier, monkeypatch):
  texts = [review(random.Random(2), label) for label in ["pos", "neg"] * 5]
  units = serving.read_config(workdir).model.recurrent_layers[0]["units"]
  assert classifier.projection_table.shape == (classifier.tokenizer.vocab_size, 4 * units)
  monkeypatch.setattr(serving, "MAX_PROJECTION_TABLE_BYTES", 0)
  without_table = serving.load_classifier(workdir)

  assert without_table.projection_table is None
  np.testing.assert_allclose(without_table.predict_proba(texts), classifier.predict_proba(texts),
                             rtol=1e-5, atol=1e-6)


def test_clear_texts_get_their_label(classifier):
  predictions = classifier.predict(["what a great film", "the plot is awful"])

  assert [p.label for p in predictions] == ["pos", "neg"]
  assert all(p.probability > 0.9 for p in predictions)


def test_top_k_is_ranked_and_capped_at_the_number_of_classes(classifier):
  (prediction,) = classifier.predict(["a wonderful movie"], top_k=5)

  assert [label for label, _ in prediction.top_k] == ["pos", "neg"]
  assert prediction.top_k[0] == (prediction.label, prediction.probability)
  assert sum(p for _, p in prediction.top_k) == pytest.approx(1.0, abs=1e-6)


def test_text_without_known_words_is_answered_and_flagged(classifier):
  unknown, known = classifier.predict(["zzz qqq", "a superb film"])

  assert unknown.no_known_words and unknown.label in ("pos", "neg")
  assert not known.no_known_words and known.unknown_fraction == 0.0


def test_weights_choose_the_epoch(workdir, results):
  assert serving.choose_epoch(workdir, "last") == results["epochs_run"]
  assert serving.choose_epoch(workdir, "best") == results["best_epoch"]
  assert serving.choose_epoch(workdir, "results") == results["best_epoch"]


@pytest.mark.parametrize("name", SERVING_FILES)
def test_missing_file_is_named(workdir, tmp_path, name):
  copy = copy_files(workdir, tmp_path / "run", tuple(n for n in SERVING_FILES if n != name))

  with pytest.raises(serving.WorkdirError, match=f"{name} not found in .*may not be finished"):
    serving.load_classifier(copy)


def test_results_weights_need_results_json(workdir, tmp_path):
  copy = copy_files(workdir, tmp_path / "run", SERVING_FILES)

  with pytest.raises(serving.WorkdirError, match="results.json not found"):
    serving.load_classifier(copy, weights="results")


def test_checkpoints_without_an_epoch_are_refused(workdir, tmp_path):
  copy = copy_files(workdir, tmp_path / "run", SERVING_FILES[:3])
  (copy / "checkpoints").mkdir()

  with pytest.raises(serving.WorkdirError, match="no checkpoint in .*first epoch"):
    serving.load_classifier(copy)


def test_config_of_another_model_is_refused(workdir, tmp_path):
  copy = copy_files(workdir, tmp_path / "run", SERVING_FILES)
  config = serving.read_config(copy).to_dict()
  config["model"]["recurrent_layers"] = [{"units": 4}]
  (copy / "config.json").write_text(ml_collections.ConfigDict(config).to_json())

  with pytest.raises(serving.WorkdirError, match=r"do not fit .*\['lstm_0'\]\['bias'\]"):
    serving.load_classifier(copy)


def test_the_config_of_a_run_from_before_a_key_reads_as_it_ran(workdir, tmp_path):
  copy = copy_files(workdir, tmp_path / "run", SERVING_FILES)
  config = json.loads((copy / "config.json").read_text())
  del config["model"]["time_chunks"], config["model"]["distinct_tokens"]
  (copy / "config.json").write_text(json.dumps(config))
  model = serving.read_config(copy).model
  assert (model.time_chunks, model.distinct_tokens) == (1, False)


def test_fresh_process_loads_the_shipped_files_without_training_code(
    workdir, classifier, results, tmp_path):
  shipped = copy_files(workdir, tmp_path / "model", SERVING_FILES[:3])
  best = f"checkpoints/{results['best_epoch']}"
  shutil.copytree(workdir / best, shipped / best)
  script = textwrap.dedent(f"""
      import sys
      from lstm_jax import serving
      classifier = serving.load_classifier({str(shipped)!r})
      print(classifier.predict_proba(["a great film"]).tolist())
      print(sorted(m for m in sys.modules
                   if m.startswith(("lstm_jax.", "tensorflow_datasets", "optax"))))
      """)

  done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                        text=True, check=True)

  probabilities, modules = done.stdout.splitlines()
  np.testing.assert_allclose(eval(probabilities), classifier.predict_proba(["a great film"]),
                             rtol=1e-5)
  assert "lstm_jax.training.train" not in modules and "lstm_jax.optim.optimizers" not in modules
  assert "lstm_jax.datasets.builders" not in modules and "tensorflow_datasets" not in modules


def _tiny_model():
  model = model_lib.LSTMClassifier(30, 4, 3, recurrent=model_lib.stack(5), pooling="average")
  return model, model.init(jax.random.key(0), np.ones((1, 6), np.int32))


def test_a_model_and_variables_are_served_at_the_probabilities_of_the_model():
  model, variables = _tiny_model()
  classifier = serving.from_model(model, variables, batch_size=4)
  ids = np.random.default_rng(0).integers(0, 30, (9, 6)).astype(np.int32)
  want = model.apply(variables, ids, method=model.probabilities)
  np.testing.assert_allclose(classifier.predict_proba_ids(ids), want, rtol=1e-5, atol=1e-6)
  assert classifier.label_names == ["0", "1", "2"] and classifier.epoch is None


def test_a_served_model_without_a_tokenizer_says_it_takes_token_ids():
  classifier = serving.from_model(*_tiny_model())
  with pytest.raises(ValueError, match="no tokenizer.*predict_proba_ids"):
    classifier.predict(["some text"])


def test_served_label_names_must_match_the_classes():
  with pytest.raises(ValueError, match="2 label_names for a model of 3 classes"):
    serving.from_model(*_tiny_model(), label_names=["a", "b"])
