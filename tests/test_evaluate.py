"""`lstm_jax.evaluate` on a real, tiny trained run."""

import json
import subprocess
import sys

import pytest

from lstm_jax import evaluate
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from test_serving import REPO_ROOT
from test_serving import trained_run
from test_serving import write_reviews

OTHER_LABELS = ["pos", "neg"] * 12 + ["meh"] * 3


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def results(workdir):
  return workdir_lib.read_json(workdir / workdir_lib.RESULTS_FILE)


@pytest.fixture(scope="module")
def other_file(tmp_path_factory):
  """24 reviews of the trained labels and 3 of a label the model never saw."""
  path = tmp_path_factory.mktemp("other") / "other.csv"
  write_reviews(path, OTHER_LABELS, seed=7)
  return path


def test_test_split_reproduces_the_runs_test_metrics(workdir, results):
  result = evaluate.evaluate_workdir(str(workdir), {}, split="test")

  assert result["loss"] == results["test_loss"]
  assert result["accuracy"] == results["test_accuracy"]
  assert result["macro_f1"] == results["test_macro_f1"]
  assert result["confusion_matrix"] == results["confusion_matrix"]
  assert result["num_examples"] == results["num_test"] and result["num_dropped"] == 0


def test_validation_split_reproduces_the_best_epochs_validation_metrics(workdir, results):
  result = evaluate.evaluate_workdir(str(workdir), {}, split="validation")

  assert result["loss"] == results["best_val_loss"]
  assert result["accuracy"] == results["val_accuracy"]


def test_other_file_is_evaluated_and_unseen_labels_are_dropped(workdir, other_file):
  result = evaluate.evaluate_workdir(str(workdir), {"data.test_files": str(other_file)})

  assert result["num_examples"] == 24
  assert result["dropped"] == {"label not in train": 3}
  assert result["accuracy"] == 1.0
  assert result["per_class"]["pos"]["support"] == 12


@pytest.fixture(scope="module")
def other_tsv(other_file):
  """`other_file`'s rows as a latin-1 TSV without a header, label first."""
  rows = [line.rsplit(",", 1) for line in other_file.read_text().splitlines()[1:]]
  path = other_file.with_name("other.tsv")
  path.write_text("".join(f"{label}\t{text} caf\u00e9\n" for text, label in rows), "latin-1")
  return path


def test_files_are_measured_with_their_own_reading_keys_alone(workdir, other_tsv, tmp_path,
                                                             monkeypatch):
  read = []
  real_read_file = evaluate.datasets.formats.read_file
  monkeypatch.setattr(evaluate.datasets.formats, "read_file",
                      lambda path, *args: read.append(path) or real_read_file(path, *args))
  result = evaluate.evaluate_workdir(
      str(workdir), {"data.format": "tsv", "data.encoding": "latin-1",
                     "data.columns": "label,text", "data.tfds_data_dir": str(tmp_path)},
      files=[str(other_tsv)])

  assert read == [str(other_tsv)]
  assert (result["split"], result["files"]) == ("files", [str(other_tsv)])
  assert result["num_examples"] == 24 and result["accuracy"] == 1.0
  assert result["dropped"] == {evaluate.LABEL_NOT_TRAINED: 3}


def test_command_line_measures_files_and_names_them(workdir, other_tsv, tmp_path):
  done = subprocess.run(
      [sys.executable, "-m", "lstm_jax.evaluate", f"--workdir={workdir}", f"--files={other_tsv}",
       "--config.data.format=tsv", "--config.data.encoding=latin-1",
       "--config.data.columns=label,text", f"--config.data.tfds_data_dir={tmp_path}"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

  assert done.returncode == 0, done.stderr
  assert done.stdout.startswith(f"{other_tsv}: 24 examples, 3 dropped")
  assert f"warning: 3 rows of {other_tsv} dropped" in done.stderr


@pytest.mark.parametrize("key", ["model.head_dropout", "data.vocab_size", "seed"])
def test_keys_of_the_trained_model_cannot_be_overridden(workdir, key):
  with pytest.raises(ValueError, match=f"--config.{key} cannot be overridden"):
    evaluate.eval_config(serving.read_config(workdir), {key: 3})


def test_overrides_are_normalized_like_training(workdir):
  config = evaluate.eval_config(serving.read_config(workdir),
                                {"data.test_files": "a.csv, b.csv"})

  assert config.data.test_files == ("a.csv", "b.csv")


def test_command_line_writes_json_and_a_summary(workdir, other_file, tmp_path):
  output = tmp_path / "eval.json"

  done = subprocess.run(
      [sys.executable, "-m", "lstm_jax.evaluate", f"--workdir={workdir}",
       f"--config.data.test_files={other_file}", f"--output={output}"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

  assert done.returncode == 0, done.stderr
  written = json.loads(output.read_text())
  assert written["num_examples"] == 24 and written["accuracy"] == 1.0
  assert "loss: " in done.stdout and "accuracy: 1.0000" in done.stdout
  assert "warning: 3 rows of the test split dropped (label not in train: 3)" in done.stderr


def test_command_line_names_a_missing_workdir(tmp_path):
  done = subprocess.run(
      [sys.executable, "-m", "lstm_jax.evaluate", f"--workdir={tmp_path / 'none'}"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

  assert done.returncode == 2
  assert done.stderr == f"error: workdir {tmp_path / 'none'} does not exist or is not a directory\n"
