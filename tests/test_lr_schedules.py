"""Learning-rate schedules and ReduceLROnPlateau in the training loop."""

import numpy as np
import pytest

from lstm_jax.config import validation as config_validation
from lstm_jax.optim import schedules
from lstm_jax.training import batching
from lstm_jax.training import run_records
from lstm_jax.training import train
from test_train import scripted_validation
from test_train import tiny_config

PLATEAU = {"train.lr_schedule": "reduce_on_plateau", "reduce_lr_on_plateau.patience": 1,
           "reduce_lr_on_plateau.factor": 0.5, "early_stopping.patience": 10}
VAL_LOSSES = [0.9, 0.8, 0.85, 0.7, 0.75, 0.76]


def _rates(workdir):
  return [record["learning_rate"] for record in run_records.read_history(workdir)]


def test_reduce_on_plateau_halves_the_rate_after_an_epoch_without_improvement(
    tmp_path, monkeypatch, capsys):
  scripted_validation(monkeypatch, VAL_LOSSES)
  config = tiny_config(tmp_path, **PLATEAU)
  train.train_and_evaluate(config, tmp_path / "workdir")
  # Each epoch logs the rate it trained with; epochs 3 and 5 do not improve.
  np.testing.assert_allclose(_rates(tmp_path / "workdir"),
                             [0.02, 0.02, 0.02, 0.01, 0.01, 0.005], rtol=1e-6)
  assert "learning_rate: 0.0100" in capsys.readouterr().out


def test_a_resumed_plateau_run_lowers_the_rate_where_an_uninterrupted_one_does(
    tmp_path, monkeypatch):
  scripted_validation(monkeypatch, VAL_LOSSES)
  train.train_and_evaluate(tiny_config(tmp_path, **PLATEAU), tmp_path / "whole")
  whole = run_records.read_history(tmp_path / "whole")

  class Killed(Exception):
    pass

  real_write_history, written = run_records.write_history, []

  def write_history_then_die(workdir, history):
    real_write_history(workdir, history)
    written.append(len(history))
    if len(history) == 3:  # after epoch 3's checkpoint, whose rate is lowered
      raise Killed

  scripted_validation(monkeypatch, VAL_LOSSES)
  monkeypatch.setattr(run_records, "write_history", write_history_then_die)
  with pytest.raises(Killed):
    train.train_and_evaluate(tiny_config(tmp_path, **PLATEAU), tmp_path / "resumed")
  monkeypatch.setattr(run_records, "write_history", real_write_history)
  scripted_validation(monkeypatch, VAL_LOSSES[3:])
  train.train_and_evaluate(tiny_config(tmp_path, **PLATEAU), tmp_path / "resumed")
  resumed = run_records.read_history(tmp_path / "resumed")
  for key in ("loss", "accuracy", "val_loss", "learning_rate"):
    assert [r[key] for r in resumed] == [r[key] for r in whole], key


def test_a_cosine_run_logs_the_rate_of_each_epochs_last_step(tmp_path):
  config = tiny_config(tmp_path, **{"train.lr_schedule": "cosine", "train.warmup_steps": 3,
                                    "train.max_epochs": 3, "early_stopping.patience": 10})
  train.train_and_evaluate(config, tmp_path / "workdir")
  data = train.input_pipeline.load_dataset(config.data, config.embedding, tmp_path / "workdir",
                                           seed=config.seed, write=False)
  steps_per_epoch = batching.num_batches(data.train.token_ids, config.train.batch_size)
  schedule = schedules.from_config(config.train, steps_per_epoch)
  want = [float(schedule(epoch * steps_per_epoch - 1)) for epoch in (1, 2, 3)]
  np.testing.assert_allclose(_rates(tmp_path / "workdir"), want, rtol=1e-6)
  assert want[0] > want[1] > want[2] > 0


def test_a_warmup_longer_than_the_run_is_refused_before_training(tmp_path):
  config = tiny_config(tmp_path, **{"train.lr_schedule": "cosine", "train.warmup_steps": 1000})
  with pytest.raises(config_validation.ConfigError, match="warmup_steps=1000 does not end"):
    train.train_and_evaluate(config, tmp_path / "workdir")
  assert not (tmp_path / "workdir" / "checkpoints").exists()
