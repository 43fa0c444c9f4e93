"""Tests for lstm_jax.study.baselines: majority class and TF-IDF + logistic regression."""

import json
import sys
import types

import pytest

import lstm_jax
from lstm_jax.study import baselines

POSITIVE = ["great", "wonderful", "superb", "moving"]
NEGATIVE = ["awful", "boring", "dull", "clumsy"]


def toy_split(n: int, offset: int = 0) -> types.SimpleNamespace:
  """Reviews whose sentiment word decides the label; 'film' is shared."""
  texts, labels = [], []
  for i in range(offset, offset + n):
    words, label = (POSITIVE, "pos") if i % 2 else (NEGATIVE, "neg")
    texts.append(f"a {words[i % 4]} film, {words[(i + 1) % 4]} acting")
    labels.append(label)
  return types.SimpleNamespace(texts=texts, labels=labels)


def test_majority_predicts_the_most_frequent_training_label():
  result = baselines.majority_baseline(["a", "a", "b"], ["a", "b", "b", "b"])
  assert result["label"] == "a"
  assert result["test_accuracy"] == 0.25
  # F1 of "a": precision 1/4, recall 1 -> 0.4; "b" is never predicted -> 0.
  assert result["test_macro_f1"] == pytest.approx(0.2)


def test_majority_breaks_ties_by_label_name():
  assert baselines.majority_baseline(["b", "a"], ["a"])["label"] == "a"
  assert baselines.majority_baseline(["a", "b"], ["a"])["label"] == "a"


def test_majority_needs_training_labels():
  with pytest.raises(ValueError, match="no training labels"):
    baselines.majority_baseline([], ["a"])


def test_tfidf_logreg_separates_words_it_has_seen():
  train, test = toy_split(40), toy_split(10, offset=100)
  result = baselines.tfidf_logreg_baseline(
      train.texts, train.labels, test.texts, test.labels, seed=0)
  assert result["test_accuracy"] == 1.0
  assert result["test_macro_f1"] == 1.0
  assert result["converged"]
  assert result["train_seconds"] >= 0.0
  # 8 sentiment words, 'film' and 'acting' (plus bigrams); 'a' is too short.
  assert result["num_features"] > 10


def test_tfidf_logreg_is_reproducible():
  train, test = toy_split(40), toy_split(10, offset=7)
  first, second = (
      baselines.tfidf_logreg_baseline(train.texts, train.labels, test.texts,
                                      test.labels, seed=3) for _ in range(2))
  del first["train_seconds"], second["train_seconds"]
  assert first == second


def test_write_keeps_the_keras_entry(tmp_path):
  (tmp_path / "baselines.json").write_text(json.dumps(
      {"keras": {"test_accuracy": 0.8}, "majority": {"test_accuracy": 0.1}}))
  baselines.write_baselines(tmp_path, {"majority": {"test_accuracy": 0.5}})
  written = json.loads((tmp_path / "baselines.json").read_text())
  assert written == {"keras": {"test_accuracy": 0.8},
                     "majority": {"test_accuracy": 0.5}}
  assert not (tmp_path / "baselines.json.tmp").exists()


@pytest.fixture
def fake_datasets(monkeypatch):
  """Replaces lstm_jax.datasets with a load_splits returning toy splits."""
  calls = []

  def load_splits(data_config):
    calls.append(data_config)
    test = toy_split(10, offset=50)
    test.texts.append("a great film")
    test.labels.append("neutral")  # not a training label: dropped
    return types.SimpleNamespace(train=toy_split(40), validation=toy_split(6),
                                 test=test)

  module = types.ModuleType("lstm_jax.datasets")
  module.load_splits = load_splits
  monkeypatch.setitem(sys.modules, "lstm_jax.datasets", module)
  monkeypatch.setattr(lstm_jax, "datasets", module, raising=False)
  return calls


def test_cli_writes_both_baselines_for_the_run_split(tmp_path, fake_datasets,
                                                    capsys):
  (tmp_path / "config.json").write_text(json.dumps(
      {"seed": 1, "data": {"name": "toy", "max_len": 20}}))
  assert baselines.main([f"--workdir={tmp_path}"]) == 0
  [data_config] = fake_datasets
  assert (data_config.name, data_config.max_len) == ("toy", 20)
  written = json.loads((tmp_path / "baselines.json").read_text())
  assert set(written) == {"majority", "tfidf_logreg"}
  assert written["majority"]["test_accuracy"] == 0.5
  assert written["tfidf_logreg"]["test_accuracy"] == 1.0
  for entry in written.values():
    assert (entry["num_test"], entry["num_test_dropped_unknown_label"]) == (
        10, 1)
  assert "tfidf_logreg: test accuracy 1.0000" in capsys.readouterr().out


def test_cli_names_a_missing_config(tmp_path, fake_datasets, capsys):
  assert baselines.main([f"--workdir={tmp_path}"]) == 2
  assert f"{tmp_path / 'config.json'}: missing" in capsys.readouterr().err
  assert not fake_datasets


def test_missing_sklearn_says_how_to_install(monkeypatch):
  monkeypatch.setitem(sys.modules, "sklearn", None)
  with pytest.raises(ImportError, match="requirements-test.txt"):
    baselines.majority_baseline(["a"], ["a"])
