"""`lstm_jax.fit`: one call on in-memory texts, the command's own pipeline underneath."""

import random
import re
import shutil

import pytest

import lstm_jax
from lstm_jax import errors
from lstm_jax.training import run_records

WORDS = {"good": ["great", "superb", "lovely"], "bad": ["awful", "boring", "dull"]}
FILLER = ["the", "a", "film", "plot", "actor", "scene"]
TINY = {"data.max_length": 10, "embedding.dim": 8, "model.recurrent_layers": ({"units": 8},),
        "train.batch_size": 32, "train.num_devices": 1, "train.max_epochs": 2, "train.learning_rate": 0.02}


def reviews(n, seed):
  rng = random.Random(seed)
  labels = [rng.choice(["good", "bad"]) for _ in range(n)]
  texts = [" ".join(rng.choices(FILLER, k=4) + [rng.choice(WORDS[label])]) for label in labels]
  return texts, labels


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("fit") / "run"
  return lstm_jax.fit(*reviews(300, 1), workdir, test_data=reviews(60, 2), overrides=TINY)


def test_fit_returns_the_history_of_the_workdir_as_keras_does(fitted):
  epochs = run_records.read_history(fitted.workdir)
  assert len(epochs) == 2
  assert fitted.history["val_loss"] == [e["val_loss"] for e in epochs]
  assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(fitted.history)


def test_fit_tests_on_the_given_test_data(fitted):
  assert fitted.results["num_test"] == 60
  assert 0.0 <= fitted.results["test_accuracy"] <= 1.0


def test_restart_trains_other_texts_validated_on_the_given_data(fitted, tmp_path):
  workdir = shutil.copytree(fitted.workdir, tmp_path / "run")
  again = lstm_jax.fit(*reviews(100, 1), workdir, validation_data=reviews(30, 4),
                       test_data=reviews(20, 2), overrides={**TINY, "train.max_epochs": 1},
                       restart=True)
  assert (again.results["num_train"], again.results["num_val"]) == (100, 30)
  assert len(again.history["loss"]) == 1
  # The texts of the deleted run are gone; the new run's train, validation and test stay.
  assert len(list((workdir / "inputs").iterdir())) == 3


def test_the_same_call_again_returns_the_finished_run(fitted):
  again = lstm_jax.fit(*reviews(300, 1), fitted.workdir, test_data=reviews(60, 2), overrides=TINY)
  assert again.results == fitted.results


def test_other_texts_in_the_same_workdir_are_refused_in_python_terms(fitted):
  with pytest.raises(errors.UserError, match="another config") as refused:
    lstm_jax.fit(*reviews(300, 3), fitted.workdir, overrides=TINY)
  assert "pass restart=True" in str(refused.value) and "--" not in str(refused.value)


def test_a_finished_fit_says_how_to_train_further_in_python_terms(fitted, capsys):
  lstm_jax.fit(*reviews(300, 1), fitted.workdir, test_data=reviews(60, 2), overrides=TINY)
  assert ("pass a larger value (overrides={'train.max_epochs': 4}); to start over, pass "
          "restart=True") in capsys.readouterr().out


def test_texts_and_labels_of_different_lengths_are_a_clear_error(tmp_path):
  with pytest.raises(errors.UserError, match="3 texts but 2 labels"):
    lstm_jax.fit(["a", "b", "c"], ["x", "y"], tmp_path)


def test_an_unknown_override_is_a_clear_error(tmp_path):
  with pytest.raises(errors.UserError, match="unknown config key 'train.epochs'"):
    lstm_jax.fit(["a"], ["x"], tmp_path, overrides={"train.epochs": 3})


def test_an_override_of_the_first_releases_names_the_key_that_replaced_it(tmp_path):
  with pytest.raises(errors.UserError, match=re.escape(
      "'model.units'; model.units of an earlier release is now model.recurrent_layers: pass "
      "overrides={'model.recurrent_layers': [{'units': 64}]}")):
    lstm_jax.fit(["a"], ["x"], tmp_path, overrides={"model.units": 64})
