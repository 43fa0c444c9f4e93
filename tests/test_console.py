"""What training prints: Keras's progress bar, epoch and early-stopping lines
and model summary, as much as `train.verbose` asks."""

import doctest
import io
import logging
import os
import re
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax.models import classifier as model_lib
from lstm_jax.optim import optimizers
from lstm_jax.training import console
from lstm_jax.training import train
from test_train import scripted_validation
from test_train import tiny_config
from conftest import REPO_ROOT


class Terminal(io.StringIO):

  def isatty(self):
    return True


class FakeClock:

  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def step_sums(loss, correct, count):
  return {"loss_sum": np.float32(loss * count), "correct": np.float32(correct),
          "count": np.float32(count), "confusion": np.zeros((2, 2), np.float32)}


def test_doctests():
  assert doctest.testmod(console).failed == 0


def test_progress_bar_shows_steps_eta_and_running_metrics():
  clock, stream = FakeClock(), Terminal()
  bar = console.ProgressBar(10, stream=stream, clock=clock)
  clock.now = 4.0  # 2 s a step, 8 steps left
  bar.update(2, [step_sums(0.5, 1, 2), step_sums(0.8862, 1, 2)])
  assert stream.getvalue() == (
      "\r 2/10 [=====>........................] - ETA: 16s - loss: 0.6931 - accuracy: 0.5000")


def test_progress_bar_eta_counts_from_the_resumed_step():
  clock = FakeClock()
  bar = console.ProgressBar(391, first_step=100, stream=Terminal(), clock=clock)
  clock.now = 30.0  # 0.25 s a step since the resume, 171 steps left
  assert bar.text(220, clock.now) == (
      "220/391 [===============>..............] - ETA: 42s")


def test_progress_bar_is_erased_for_the_epoch_line():
  clock, stream = FakeClock(), Terminal()
  bar = console.ProgressBar(3, stream=stream, clock=clock)
  bar.update(1, [step_sums(0.7, 1, 2)])
  bar.close()
  assert stream.getvalue().endswith("\r" + " " * len(bar.text(1, 0.0)) + "\r")


def test_off_a_terminal_a_plain_line_every_half_minute():
  clock, stream = FakeClock(), io.StringIO()
  bar = console.ProgressBar(1000, stream=stream, clock=clock)
  per_step = []
  for i in range(1000):  # 125 s
    clock.now += 0.125
    per_step.append(step_sums(0.7, 1, 2))
    bar.update(i + 1, per_step)
  bar.close()
  lines = stream.getvalue().splitlines()
  assert len(lines) == 4
  assert lines[0] == " 240/1000 - ETA: 1:35 - loss: 0.7000 - accuracy: 0.5000"


def test_verbose_0_prints_nothing():
  stream = io.StringIO()
  quiet = console.Console(console.SILENT, is_chief=True, stream=stream)
  quiet.print("Epoch 1/1")
  assert quiet.progress_bar(10, 0) is None
  assert stream.getvalue() == ""


def test_verbose_2_has_no_progress_bar_and_other_processes_print_nothing():
  assert console.Console(console.ONE_LINE_PER_EPOCH, is_chief=True).progress_bar(10, 0) is None
  stream = io.StringIO()
  console.Console(console.PROGRESS_BAR, is_chief=False, stream=stream).print("Epoch 1/1")
  assert stream.getvalue() == ""


def test_a_training_run_at_verbose_0_prints_nothing(tmp_path, capsys):
  config = tiny_config(tmp_path, **{"train.max_epochs": 1, "train.verbose": 0})
  # The dataset library announces a dataset it prepares the first time.
  (tmp_path / "prepared").mkdir()
  train.input_pipeline.load_dataset(config.data, config.embedding, tmp_path / "prepared",
                                    seed=config.seed)
  capsys.readouterr()
  train.train_and_evaluate(config, tmp_path / "run")
  assert capsys.readouterr().out == ""


def test_early_stopping_and_restoring_are_printed(tmp_path, monkeypatch, capsys):
  scripted_validation(monkeypatch, [0.5, 0.7, 0.8, 0.9])
  train.train_and_evaluate(tiny_config(tmp_path, **{"early_stopping.patience": 2,
                                                    "train.verbose": 2}), tmp_path / "run")
  out = capsys.readouterr().out.splitlines()
  assert out[-3].startswith("Epoch 3/6 - ")
  assert out[-2:] == ["Restoring model weights from the end of the best epoch: 1.",
                      "Epoch 3: early stopping"]


def test_a_run_that_does_not_stop_early_prints_neither(tmp_path, monkeypatch, capsys):
  scripted_validation(monkeypatch, [0.5, 0.4])
  train.train_and_evaluate(tiny_config(tmp_path, **{"train.max_epochs": 2,
                                                    "train.verbose": 2}), tmp_path / "run")
  out = capsys.readouterr().out
  assert "early stopping" not in out and "Restoring" not in out


def test_ctrl_c_ends_the_progress_bar_line_before_its_message(tmp_path, monkeypatch):
  real = train.steps.make_batches

  def make_batches(*args, **kwargs):
    for i, batch in enumerate(real(*args, **kwargs)):
      if i == 3:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while step 3 is in flight
      yield batch

  monkeypatch.setattr(train.steps, "make_batches", make_batches)
  terminal = Terminal()
  monkeypatch.setattr(sys, "stdout", terminal)
  with pytest.raises(train.preemption.Interrupted):
    train.train_and_evaluate(tiny_config(tmp_path, **{"train.max_epochs": 1}),
                             tmp_path / "run")
  bar_line = terminal.getvalue().split("\r")[-1]
  assert re.fullmatch(r" *\d+/\d+ \[.*\] - ETA: .* - accuracy: \d\.\d{4} *\n", bar_line)


def summary_of(config):
  model = model_lib.from_config(config.model, config.embedding, 50, 3)
  params = train.create_train_state(model, config.train, config.data.max_length,
                                    seed=config.seed, steps_per_epoch=1).params
  frozen = optimizers.frozen_mask(params, config.embedding.trainable)
  return params, console.summary_lines(model, params, frozen, config.data.max_length, "tiny")


def count(lines, label):
  line, = [l for l in lines if l.startswith(label + ":")]
  return int(line.split(":")[1].replace(",", ""))


def test_summary_counts_every_parameter(tmp_path):
  params, lines = summary_of(tiny_config(tmp_path, **{"model.recurrent_layers": ({"units": 8},) * 2}))
  total = sum(x.size for x in jax.tree.leaves(params))
  assert count(lines, "Total params") == count(lines, "Trainable params") == total
  assert count(lines, "Non-trainable params") == 0


def test_summary_lists_the_layers_with_their_output_shapes(tmp_path):
  _, lines = summary_of(tiny_config(tmp_path, **{"model.recurrent_layers": ({"units": 8},) * 2}))
  rows = [re.split(r"\s{2,}", l) for l in lines if re.match(r"\w+ \(\w+\)", l)][1:]  # after the header
  assert [r[:2] for r in rows] == [
      ["embedding (Embed)", "(None, 12, 8)"], ["lstm_0 (LSTM)", "(None, 12, 8)"],
      ["lstm_1 (LSTM)", "(None, 8)"], ["Dropout_0 (Dropout)", "(None, 8)"],
      ["dense (Dense)", "(None, 3)"]]
  assert rows[0][2] == f"{50 * 8:,}" and rows[3][2] == "0" and rows[4][2] == f"{8 * 3 + 3:,}"


def test_a_frozen_embedding_is_non_trainable(tmp_path):
  params, lines = summary_of(tiny_config(tmp_path, **{"embedding.trainable": False}))
  assert count(lines, "Non-trainable params") == params["embedding"]["embedding"].size
  assert count(lines, "Total params") == sum(x.size for x in jax.tree.leaves(params))


@pytest.mark.parametrize("program", ["main", "evaluate", "predict"])
def test_help_is_short(program):
  done = subprocess.run([sys.executable, "-m", f"lstm_jax.{program}", "--help"], cwd=REPO_ROOT,
                        capture_output=True, text=True)
  assert "--workdir" in done.stdout
  assert len(done.stdout.splitlines()) < 40


def test_log_lines_read_like_the_commands_own_lines():
  formatter = console._LogLineFormatter()  # pylint: disable=protected-access
  def line(level):
    return formatter.format(logging.LogRecord("absl", level, "x.py", 1, "data: %s", ("ok",), None))
  assert line(logging.WARNING) == "warning: data: ok"
  assert line(logging.INFO) == "data: ok"
