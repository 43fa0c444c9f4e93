"""Faults injected into `train_and_evaluate` in this process: a signal in the
middle of an epoch, a crash between writes, damaged checkpoints, a full disk,
a non-finite loss; and the same seed giving the same run. Every resumed run
is compared with an uninterrupted one."""

import errno
import logging
import os
import pathlib
import shutil
import signal

import jax.numpy as jnp
import orbax.checkpoint as ocp
import pytest

import fault_harness as fh
from configs import default
from lstm_jax import workdir as workdir_lib
from lstm_jax.training import checkpoints
from lstm_jax.training import preemption
from lstm_jax.training import run_records
from lstm_jax.training import steps
from lstm_jax.training import train

STEPS_PER_EPOCH = 25  # the training split of 480 examples in batches of 16


def config_for(data: pathlib.Path):
  config = default.get_config()
  config.data.train_files = (str(data),)
  config.data.max_length = 12
  config.embedding.dim = 8
  config.model.recurrent_layers = ({"units": 8},)
  config.model.implementation = "scan"
  config.train.batch_size = 16
  config.train.num_devices = 1
  config.train.max_epochs = 4
  config.train.learning_rate = 0.01
  config.early_stopping.patience = 2
  return config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return fh.write_reviews(tmp_path_factory.mktemp("data") / "reviews.csv")


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
  """An uninterrupted run's workdir."""
  workdir = tmp_path_factory.mktemp("reference") / "workdir"
  train.train_and_evaluate(config_for(data), workdir)
  return workdir


@pytest.fixture(scope="module")
def crashed_after_epoch_3(data, tmp_path_factory):
  """A workdir whose run died right after the checkpoint of epoch 3."""
  workdir = tmp_path_factory.mktemp("crashed") / "workdir"
  with pytest.MonkeyPatch.context() as monkeypatch:
    crash_after_epoch(monkeypatch, 3)
    with pytest.raises(SystemExit):
      train.train_and_evaluate(config_for(data), workdir)
  return workdir


def crash_after_epoch(monkeypatch, epoch):
  """Makes the run die right after the checkpoint of `epoch` is written,
  before `metrics.jsonl`, as a kill at that moment would."""
  real = run_records.write_history

  def write_history(workdir, history):
    if len(history) == epoch:
      raise SystemExit(f"killed after the checkpoint of epoch {epoch}")
    real(workdir, history)

  monkeypatch.setattr(run_records, "write_history", write_history)


def test_same_seed_gives_the_same_run(data, reference, tmp_path):
  train.train_and_evaluate(config_for(data), tmp_path / "again")
  assert fh.differences(tmp_path / "again", reference) == []


def test_a_finished_run_trained_further_equals_a_run_started_with_more_epochs(
    data, reference, tmp_path, capsys):
  """As Keras's `fit` called again: 2 epochs, then 2 more, are the 4 epochs of
  the reference run (constant learning rate)."""
  two = config_for(data)
  two.train.max_epochs = 2
  assert train.train_and_evaluate(two, tmp_path / "workdir")["epochs_run"] == 2
  capsys.readouterr()
  train.train_and_evaluate(config_for(data), tmp_path / "workdir")
  assert (f"Continuing the finished run {tmp_path / 'workdir'} after epoch 2 with "
          "train.max_epochs=4 (was 2): epochs 3-4 follow; the learning-rate schedule goes on "
          "as before.") in capsys.readouterr().out
  assert fh.differences(tmp_path / "workdir", reference) == []


def test_sigint_mid_epoch_saves_the_step_and_resume_is_exact(data, reference, tmp_path,
                                                             monkeypatch):
  real = steps.make_batches

  def make_batches(split, spec, topology, *, epoch, shuffle):
    for i, batch in enumerate(real(split, spec, topology, epoch=epoch, shuffle=shuffle)):
      if shuffle and epoch == 2 and i == 6:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while step 6 is in flight
      yield batch

  monkeypatch.setattr(steps, "make_batches", make_batches)
  with pytest.raises(preemption.Interrupted,
                     match=f"SIGINT: stopped in epoch 2 after step 6 of {STEPS_PER_EPOCH}; "
                     "its progress is saved") as stopped:
    train.train_and_evaluate(config_for(data), tmp_path / "workdir")
  assert stopped.value.exit_code == 130
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  assert (tmp_path / "workdir" / "checkpoints" / preemption.INTERRUPTED_DIR).is_dir()
  monkeypatch.undo()
  train.train_and_evaluate(config_for(data), tmp_path / "workdir")
  assert fh.differences(tmp_path / "workdir", reference) == []


def test_a_second_signal_stops_at_once():
  stop = preemption.StopRequest()
  stop.install()
  try:
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.requested() and stop.signum == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
  finally:
    stop.uninstall()
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_crash_after_the_last_checkpoint_leaves_one_metrics_line_per_epoch(
    data, reference, tmp_path, monkeypatch):
  last = len(fh.history(reference))
  crash_after_epoch(monkeypatch, last)
  with pytest.raises(SystemExit):
    train.train_and_evaluate(config_for(data), tmp_path / "workdir")
  monkeypatch.undo()
  train.train_and_evaluate(config_for(data), tmp_path / "workdir")
  assert fh.differences(tmp_path / "workdir", reference) == []


def damage(path: pathlib.Path, how: str) -> None:
  if how == "truncate":
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
  else:
    path.unlink()


# A failed tensorstore read may leave an asyncio callback behind; harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("pattern, how", [
    pytest.param("parameters/d/*", "truncate", marks=pytest.mark.slow),
    ("optimizer/manifest.ocdbt", "delete")])
def test_damaged_newest_checkpoint_warns_and_resumes_from_the_previous(
    data, reference, crashed_after_epoch_3, tmp_path, caplog, pattern, how):
  workdir = tmp_path / "workdir"
  shutil.copytree(crashed_after_epoch_3, workdir)
  for path in (workdir / "checkpoints" / "3").glob(pattern):
    damage(path, how)
  with caplog.at_level(logging.WARNING):
    train.train_and_evaluate(config_for(data), workdir)
  assert "checkpoint of epoch 3" in caplog.text and "damaged" in caplog.text
  assert [p.name.split(".")[0] for p in (workdir / "checkpoints" / "damaged").iterdir()] == ["3"]
  assert fh.differences(workdir, reference) == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_no_intact_checkpoint_is_an_error_not_a_fresh_start(data, crashed_after_epoch_3,
                                                            tmp_path):
  workdir = tmp_path / "workdir"
  shutil.copytree(crashed_after_epoch_3, workdir)
  kept = sorted(p.name for p in (workdir / "checkpoints").iterdir())
  for epoch in kept:
    (workdir / "checkpoints" / epoch / "parameters" / "manifest.ocdbt").unlink()
  with pytest.raises(checkpoints.DamagedCheckpointError, match="no intact checkpoint"):
    train.train_and_evaluate(config_for(data), workdir)
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == kept
  assert not (workdir / "results.json").exists()


# orbax's failed write may leave an asyncio callback behind; harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_disk_full_while_writing_a_checkpoint(data, reference, tmp_path, monkeypatch):
  real = ocp.handlers.JsonCheckpointHandler._save_fn

  async def save_fn(self, x, directory):
    if f"{os.sep}3." in str(directory):
      raise OSError(errno.ENOSPC, "No space left on device")
    await real(self, x, directory)

  monkeypatch.setattr(ocp.handlers.JsonCheckpointHandler, "_save_fn", save_fn)
  workdir = tmp_path / "workdir"
  with pytest.raises(checkpoints.CheckpointWriteError,
                     match="epoch 3.*No space left on device.*epoch 2 is intact"):
    train.train_and_evaluate(config_for(data), workdir)
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == \
      ["1", "2"]
  monkeypatch.undo()
  train.train_and_evaluate(config_for(data), workdir)
  assert fh.differences(workdir, reference) == []


def test_disk_full_while_writing_the_results(data, reference, tmp_path, monkeypatch):
  real = workdir_lib.write_text_atomic

  def no_space(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  def write_text_atomic(path, text):
    with monkeypatch.context() as patch:
      if pathlib.Path(path).name == workdir_lib.RESULTS_FILE:
        patch.setattr(os, "fsync", no_space)
      real(path, text)

  monkeypatch.setattr(workdir_lib, "write_text_atomic", write_text_atomic)
  workdir = tmp_path / "workdir"
  with pytest.raises(OSError, match="could not write .*results.json: No space left"):
    train.train_and_evaluate(config_for(data), workdir)
  assert not list(workdir.glob("*results.json*"))
  monkeypatch.undo()
  train.train_and_evaluate(config_for(data), workdir)
  assert fh.differences(workdir, reference) == []


def test_non_finite_loss_names_epoch_and_step_and_keeps_the_last_checkpoint(
    data, tmp_path, monkeypatch):
  real = steps.train_step
  bad_step = STEPS_PER_EPOCH + 2  # epoch 2, step 3

  def train_step(state, batch, dropout_rng, **kwargs):
    new_state, sums = real(state, batch, dropout_rng, **kwargs)
    sums["loss_sum"] = jnp.where(state.step == bad_step, jnp.nan, sums["loss_sum"])
    return new_state, sums

  monkeypatch.setattr(steps, "train_step", train_step)
  workdir = tmp_path / "workdir"
  with pytest.raises(train.NonFiniteLossError,
                     match=f"epoch 2, step 3 of {STEPS_PER_EPOCH}; the checkpoint of epoch 1 "
                     r"is kept\. Lower train.learning_rate .*clipping"):
    train.train_and_evaluate(config_for(data), workdir)
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["1"]
  assert not (workdir / "results.json").exists()


def test_a_diverging_run_stops_with_the_loss_and_keeps_the_last_checkpoint(data, tmp_path):
  config = config_for(data)
  config.train.learning_rate = 1e9
  config.train.clip_mode = "none"
  workdir = tmp_path / "workdir"
  with pytest.raises(train.DivergedError,
                     match=r"the training diverged: the mean loss of epoch 1's last 6 steps is "
                     r".*more than 10x the "
                     r"0\.693 of guessing among 2 classes; no epoch had finished.*Lower "
                     r"train\.learning_rate \(now 1000000000\.0\)"):
    train.train_and_evaluate(config, workdir)
  assert not (workdir / "results.json").exists()
  # The diverging steps are kept, to be looked at.
  assert [s["epoch"] for s in run_records.read_steps(workdir)] == [1] * STEPS_PER_EPOCH


def test_a_run_that_recovers_from_exploding_steps_within_the_epoch_goes_on(
    data, tmp_path, monkeypatch):
  real = steps.train_step

  def train_step(state, batch, dropout_rng, **kwargs):
    new_state, sums = real(state, batch, dropout_rng, **kwargs)
    # Steps 3-5 of epoch 1 explode (their loss alone makes the epoch's mean 200x chance).
    exploding = (state.step >= 2) & (state.step <= 4)
    sums["loss_sum"] = jnp.where(exploding, 1e3 * sums["count"], sums["loss_sum"])
    return new_state, sums

  monkeypatch.setattr(steps, "train_step", train_step)
  workdir = tmp_path / "workdir"
  train.train_and_evaluate(config_for(data), workdir)
  first = run_records.read_history(workdir)[0]
  assert first["loss"] > train.divergence_threshold(2, None)
  assert (workdir / "results.json").exists()


def test_a_healthy_run_is_far_below_the_divergence_threshold(reference):
  history = run_records.read_history(reference)
  assert max(e["loss"] for e in history) < train.divergence_threshold(2, None) / 5
