"""Training a finished run further: a larger `train.max_epochs` or
`early_stopping.patience` continues from the last epoch; anything else that
changed is still refused by name. (That a run continued from 2 to 4 epochs
equals a 4-epoch run is `test_reliability.py`'s.)"""

import shutil

import pytest

from configs import default
from lstm_jax import errors
from lstm_jax.training import continuation
from lstm_jax.training import run_records
from lstm_jax.training import train
from test_train import scripted_validation
from test_train import tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """Where `tiny_config` writes its CSV: one file, prepared once for the module."""
  return tmp_path_factory.mktemp("data")


def test_a_cosine_schedule_goes_on_at_the_rates_of_a_run_started_with_more_epochs(
    data_dir, tmp_path, capsys):
  cosine = {"train.lr_schedule": "cosine"}
  workdir = tmp_path / "workdir"
  first = train.train_and_evaluate(tiny_config(data_dir, **cosine, **{"train.max_epochs": 1}),
                                   workdir)
  capsys.readouterr()
  config = tiny_config(data_dir, **cosine, **{"train.max_epochs": 2})
  results = train.train_and_evaluate(config, workdir)
  out = capsys.readouterr().out
  # Half way through a cosine from 0.02 to 0: 0.02 * (1 + cos(pi / 2)) / 2.
  assert (f"Continuing the finished run {workdir} after epoch 1 with train.max_epochs=2 (was "
          "1): epoch 2 follows; train.lr_schedule=cosine now spans 2 epochs, so the next "
          "step's rate is 0.01 where the 1-epoch schedule gives 0, as in a run started with "
          "train.max_epochs=2.") in out
  assert "Epoch 2/2" in out and "Epoch 1/2" not in out
  assert (results["epochs_run"], first["epochs_run"]) == (2, 1)
  # Epoch 2 ends at the rate of a 2-epoch run's last step.
  steps = -(-results["num_train"] // config.train.batch_size)
  schedule = train.schedules.from_config(config.train, steps)
  assert run_records.read_history(workdir)[1]["learning_rate"] == pytest.approx(
      train.schedules.learning_rate_at(schedule, 2 * steps - 1), rel=1e-6)


def test_a_finished_run_says_how_to_train_it_further():
  results = {"epochs_run": 3, "stopped_early": False, "best_epoch": 3}
  assert continuation.finished_line("runs/x", results, default.get_config(),
                                    errors.PYTHON) == (
          "runs/x is finished: it reached train.max_epochs=3. To train on, pass a "
          "larger value (overrides={'train.max_epochs': 6}); to start over, pass restart=True.")


@pytest.fixture(scope="module")
def stopped_early(data_dir, tmp_path_factory):
  """A run that early stopping ended at epoch 4 (best epoch 2, patience 2)."""
  workdir = tmp_path_factory.mktemp("stopped") / "workdir"
  with pytest.MonkeyPatch.context() as monkeypatch:
    scripted_validation(monkeypatch, [0.9, 0.5, 0.7, 0.8])
    results = train.train_and_evaluate(
        tiny_config(data_dir, **{"early_stopping.patience": 2}), workdir)
  assert (results["stopped_early"], results["epochs_run"]) == (True, 4)
  return workdir


def test_a_run_that_stopped_early_says_so_and_what_to_raise(data_dir, stopped_early):
  with pytest.raises(train.config_validation.ConfigError) as refused:
    train.train_and_evaluate(tiny_config(data_dir, **{"early_stopping.patience": 2,
                                                      "train.max_epochs": 10}), stopped_early)
  assert str(refused.value) == (
      f"{stopped_early} stopped early: val_loss has not improved since epoch 2, and "
      "early_stopping.patience=2 ended the run at epoch 4. To train on, pass a patience of 3 "
      "or more (--config.early_stopping.patience=3); to start over, pass --restart.")
  assert (stopped_early / "results.json").exists()


def test_a_larger_patience_trains_a_run_that_stopped_early_further(
    data_dir, stopped_early, tmp_path, monkeypatch):
  workdir = shutil.copytree(stopped_early, tmp_path / "workdir")
  scripted_validation(monkeypatch, [0.6, 0.4])
  results = train.train_and_evaluate(
      tiny_config(data_dir, **{"early_stopping.patience": 4}), workdir)
  # Epoch 5 (0.6) waits a third epoch; epoch 6 (0.4) improves; max_epochs is 6.
  assert (results["epochs_run"], results["best_epoch"], results["stopped_early"]) == (6, 6, False)


def test_a_smaller_patience_that_would_have_stopped_earlier_is_refused(data_dir, stopped_early):
  with pytest.raises(train.config_validation.ConfigError,
                     match="patience=1, .* would have stopped at epoch 3, but it has trained 4 "
                     "epochs: pass a patience of 2 or more"):
    train.train_and_evaluate(tiny_config(data_dir, **{"early_stopping.patience": 1}),
                             stopped_early)


def test_fewer_max_epochs_than_trained_are_refused(data_dir, stopped_early):
  with pytest.raises(train.config_validation.ConfigError,
                     match="has trained 4 epochs, more than train.max_epochs=3"):
    train.train_and_evaluate(tiny_config(data_dir, **{"early_stopping.patience": 2,
                                                      "train.max_epochs": 3}), stopped_early)


def test_another_changed_key_is_still_refused_by_name(data_dir, stopped_early):
  config = tiny_config(data_dir, **{"early_stopping.patience": 5, "train.learning_rate": 0.1})
  with pytest.raises(train.config_validation.ConfigError,
                     match=r"differs in: early_stopping.patience, train.learning_rate\) \(a run "
                     "goes on with a new train.max_epochs or early_stopping.patience alone"):
    train.train_and_evaluate(config, stopped_early)
