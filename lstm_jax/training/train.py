"""Training: the epoch loop with early stopping and orbax checkpoints, and
`train_and_evaluate(config, workdir)`. The steps it runs are `steps.py`'s.

Only `train_and_evaluate` and its helpers here read the whole config; each
component gets its own section (the data, the optimizer, early stopping,
ReduceLROnPlateau) or the values it needs (batches, devices)."""

import contextlib
import dataclasses
import itertools
import logging
import math
import os
import pathlib
import shutil
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.config import schema
from lstm_jax.config import validation as config_validation
from lstm_jax.models import classifier as model_lib
from lstm_jax.optim import optimizers
from lstm_jax.optim import plateau as plateau_lib
from lstm_jax.optim import schedules
from lstm_jax.training import batching
from lstm_jax.training import checkpoints
from lstm_jax.training import class_weights
from lstm_jax.training import console as console_lib
from lstm_jax.training import continuation
from lstm_jax.training import dispatch
from lstm_jax.training import early_stopping
from lstm_jax.training import input_pipeline
from lstm_jax.training import metrics as metrics_lib
from lstm_jax.training import preemption
from lstm_jax.training import run_records
from lstm_jax.training import steps
from lstm_jax.training import workdir_lock



class NonFiniteLossError(errors.UserError, RuntimeError):
  """The training loss became NaN or infinite."""


class DivergedError(errors.UserError, RuntimeError):
  """The training loss is finite but far above chance: the run diverged."""


# Predicting uniformly costs ln C per example, and a run that learns anything
# averages less over an epoch; 10x that means confident wrong answers on most
# examples (learning rate 1e9 gives ~1e9). Scaled by the largest class weight.
DIVERGENCE_FACTOR = 10.0
# Judged on the last 1/DIVERGENCE_WINDOW of the epoch's steps: a run that recovers
# within the epoch from a few exploding steps (a relu SimpleRNN's losses of 1e4) goes on.
DIVERGENCE_WINDOW = 4


def divergence_threshold(num_classes: int, weights: Optional[np.ndarray]) -> float:
  """The mean training loss (of an epoch's last steps) above which a run has diverged."""
  largest = 1.0 if weights is None else max(1.0, float(np.max(weights)))
  return DIVERGENCE_FACTOR * math.log(max(num_classes, 2)) * largest


def _lost_epoch_advice(train: ml_collections.ConfigDict, epoch: int,
                       spelling: errors.Spelling) -> str:
  return ((f"the checkpoint of epoch {epoch - 1} is kept" if epoch > 1 else
           "no epoch had finished, so no checkpoint was written")
          + f". Lower train.learning_rate (now {train.learning_rate}) or check "
          f"clipping (train.clip_mode={train.clip_mode}, train.clip_norm="
          f"{train.clip_norm}), then rerun with {spelling.restart} or another workdir.")


def results_line(results: dict[str, Any]) -> str:
  return (f"test_accuracy: {results['test_accuracy']:.4f} - test_macro_f1: "
          f"{results['test_macro_f1']:.4f} - test_loss: {results['test_loss']:.4f} - "
          f"best_epoch: {results['best_epoch']}/{results['epochs_run']}")


def create_train_state(model: model_lib.LSTMClassifier, train: ml_collections.ConfigDict,
                       seq_length: int, embedding_matrix: Optional[np.ndarray] = None, *,
                       seed: int, steps_per_epoch: int,
                       embedding_learning_rate_scale: float = 1.0) -> steps.TrainState:
  """Initialises the parameters from `seed` and the optimizer of the `train`
  section (whose schedule spans `train.max_epochs` epochs of `steps_per_epoch`;
  a frozen embedding as the model says, a slower one by
  `embedding_learning_rate_scale`)."""
  init_rng = jax.random.fold_in(jax.random.PRNGKey(seed), 0)
  params = jax.jit(model.init)(init_rng, jnp.zeros((1, seq_length), jnp.int32))["params"]
  if embedding_matrix is not None:
    params = model_lib.with_embedding(params, embedding_matrix)
  tx = optimizers.from_config(train, params, steps_per_epoch,
                              embedding_trainable=model.embedding_trainable,
                              embedding_learning_rate_scale=embedding_learning_rate_scale)
  state = steps.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
  # An array like every other leaf, so that a checkpoint can be restored onto it.
  return state.replace(step=jnp.zeros((), jnp.int32))


def check_workdir_config(
    workdir: pathlib.Path, config: ml_collections.ConfigDict,
    spelling: errors.Spelling = errors.COMMAND_LINE) -> Optional[continuation.Continuation]:
  """Refuses to continue a workdir that was started with another config,
  unless only when the run ends changed (`continuation.plan`): then returns
  how it goes on, a finished run having lost its results.

  A workdir holding no checkpoint (not even a mid-epoch one) and no results
  has nothing to protect: its earlier start failed before an epoch ended (a
  bad file, a missing download), so the corrected command starts it over.
  """
  path = workdir / workdir_lib.CONFIG_FILE
  new = json_config(config)
  if path.exists():
    old = workdir_lib.read_json(path)
    changed = sorted(config_validation.changed_keys(old, new))
    if not changed:
      return None
    if _holds_a_run(workdir):
      going_on = continuation.plan(workdir, schema.upgrade(old), config, changed, spelling)
      if going_on and going_on.finished:
        # Before the new config: a run killed in between is then an unfinished
        # run of the old config, which the new command resumes.
        (workdir / workdir_lib.RESULTS_FILE).unlink()
      workdir_lib.write_json_atomic(path, new)
      return going_on
    logging.info("%s: an earlier start ended before any checkpoint; starting over with "
                 "the new config (differs in: %s)", workdir, ", ".join(changed))
    # Its vocabulary and data report came from the old config.
    clear_workdir(workdir, config)
  workdir_lib.write_json_atomic(path, new)
  return None


def _holds_a_run(workdir: pathlib.Path) -> bool:
  checkpoints_dir = workdir / workdir_lib.CHECKPOINT_DIR
  return ((workdir / workdir_lib.RESULTS_FILE).exists()
          or (checkpoints_dir.is_dir() and any(checkpoints_dir.iterdir())))


def json_config(config: ml_collections.ConfigDict) -> dict:
  return config_validation.to_plain(config.to_dict())


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: os.PathLike, *,
                       restart: bool = False,
                       spelling: errors.Spelling = errors.COMMAND_LINE) -> dict:
  """Trains with early stopping, evaluates the test split, writes the workdir.

  Rerunning the same command resumes from the last checkpoint; rerunning a
  finished run prints and returns its results, and with a larger
  `train.max_epochs` (or `early_stopping.patience`) trains it further
  (`continuation`). `restart` deletes the workdir's previous run first (under
  the workdir lock, so never a live run's). `spelling`: how messages name the
  caller's options (command-line flags or Python arguments).

  Returns:
    The contents of `results.json`.
  """
  config = config_validation.normalize(config)
  config_validation.validate(config)
  workdir = pathlib.Path(workdir)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise errors.WriteError(e.errno, f"cannot create the workdir {workdir}: {e.strerror}; "
                            "pick a workdir you can write to") from e
  is_chief = jax.process_index() == 0
  going_on = None
  with workdir_lock.WorkdirLock(workdir) if is_chief else contextlib.nullcontext():
    if is_chief:
      if restart:
        logging.warning("%s: deleting the previous run in %s", spelling.restart, workdir)
        clear_workdir(workdir, config)
      going_on = check_workdir_config(workdir, config, spelling)
    # The other processes look at the workdir once process 0 has checked it.
    sync_processes("lstm_jax_workdir_checked")
    results_path = workdir / workdir_lib.RESULTS_FILE
    if results_path.exists():
      results = workdir_lib.read_json(results_path)
      if is_chief:
        print(continuation.finished_line(workdir, results, config, spelling), flush=True)
      return results
    return _run(config, workdir, is_chief, spelling, going_on)


def clear_workdir(workdir: pathlib.Path, config: ml_collections.ConfigDict) -> None:
  """Deletes everything of a previous run but the lock this process holds and
  the files inside the workdir that `config` reads (the texts `lstm_jax.fit`
  wrote into `inputs/` for the new run)."""
  data = config.data
  read = {pathlib.Path(p).resolve()
          for p in (*data.train_files, *data.test_files, *data.validation_files)}

  def clear(folder: pathlib.Path) -> None:
    for path in folder.iterdir():
      if path.name == workdir_lib.LOCK_FILE or path.resolve() in read:
        continue
      if path.is_dir() and any(path.resolve() in p.parents for p in read):
        clear(path)
      elif path.is_dir():
        shutil.rmtree(path)
      else:
        path.unlink()

  clear(workdir)


def sync_processes(name: str) -> None:
  """Waits until every process of the run gets here; nothing with one process."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


@dataclasses.dataclass(frozen=True)
class _Training:
  """What stays fixed while a run trains: its data, compiled steps and places."""
  train: ml_collections.ConfigDict  # the config's `train` section
  batches: steps.BatchSpec
  workdir: pathlib.Path
  is_chief: bool
  data: input_pipeline.Dataset
  topology: steps.Topology
  p_train_step: Callable
  p_eval_step: Callable
  dropout_rng: jax.Array
  num_steps: int  # per epoch
  schedule: Any  # the learning rate by step (schedules.from_config)
  diverged_above: float  # a training loss above this is divergence
  console: console_lib.Console
  progress_dir: pathlib.Path  # where an interrupted epoch's progress goes
  spelling: errors.Spelling  # how messages name the caller's options

  def evaluate(self, params: Any, split: input_pipeline.EncodedSplit) -> dict[str, Any]:
    return steps.evaluate(self.p_eval_step, params, split, self.batches, self.topology,
                          self.data.label_names)


def batch_spec(config: ml_collections.ConfigDict) -> steps.BatchSpec:
  """How the config's splits are cut into batches."""
  return steps.BatchSpec(
      batch_size=config.train.batch_size, seed=config.seed, padding=config.data.padding,
      bucket_lengths=tuple(config.data.bucket_lengths) or None,
      distinct_tokens=config.model.distinct_tokens)


def _prepare(config: ml_collections.ConfigDict, workdir: pathlib.Path, is_chief: bool,
             spelling: errors.Spelling
             ) -> tuple[_Training, steps.TrainState, model_lib.LSTMClassifier]:
  """Reads the data, builds the model, its initial state and the pmapped steps."""
  topology = steps.Topology.create(config.train.num_devices)
  config_validation.check_batch_divides(config.train.batch_size, topology.num_global_devices)
  # Process 0 prepares the data and writes the vocabulary first; the others
  # then read them, so no two processes write the same file.
  if is_chief:
    data = input_pipeline.load_dataset(config.data, config.embedding, workdir,
                                       seed=config.seed)
  sync_processes("lstm_jax_data_ready")
  if not is_chief:
    data = input_pipeline.load_dataset(config.data, config.embedding, workdir,
                                       seed=config.seed, write=False)
  num_classes = len(data.label_names)
  model = model_lib.from_config(config.model, config.embedding, data.vocab_size, num_classes)
  config_validation.check_model(model)
  batches = batch_spec(config)
  num_steps = batching.num_batches(data.train.token_ids, batches.batch_size,
                                   bucket_lengths=batches.bucket_lengths)
  config_validation.check_warmup(config.train, num_steps)
  # On the host: pmap then places it on every device; with several processes
  # a donated single-device array would not survive that placement.
  state = jax.device_get(create_train_state(
      model, config.train, config.data.max_length, data.embedding_matrix, seed=config.seed,
      steps_per_epoch=num_steps,
      embedding_learning_rate_scale=config.embedding.learning_rate_scale))
  weights = class_weights.parse(config.train.class_weight, data.label_names, data.train.labels)
  if weights is not None and is_chief:
    logging.info("class weights: %s", ", ".join(
        f"{name}={w:.3g}" for name, w in zip(data.label_names, weights)))
  training = _Training(
      train=config.train, batches=batches, workdir=workdir, is_chief=is_chief, data=data,
      topology=topology,
      p_train_step=steps.pmapped_train_step(
          num_classes, model.head, None if weights is None else jnp.asarray(weights), topology),
      p_eval_step=steps.pmapped_eval_step(model.apply, num_classes, model.head, topology),
      dropout_rng=jax.random.fold_in(jax.random.PRNGKey(config.seed), 1),
      num_steps=num_steps,
      schedule=schedules.from_config(config.train, num_steps),
      diverged_above=divergence_threshold(num_classes, weights),
      console=console_lib.Console(config.train.verbose, is_chief),
      progress_dir=workdir / workdir_lib.CHECKPOINT_DIR / preemption.INTERRUPTED_DIR,
      spelling=spelling)
  return training, state, model


def _run(config: ml_collections.ConfigDict, workdir: pathlib.Path, is_chief: bool,
         spelling: errors.Spelling,
         going_on: Optional[continuation.Continuation] = None) -> dict:
  training, state, model = _prepare(config, workdir, is_chief, spelling)
  training.console.summary(model, state.params,
                           optimizers.frozen_mask(state.params, config.embedding.trainable),
                           config.data.max_length, config.name)
  stopper = early_stopping.EarlyStopping.start(config.early_stopping)
  ckpt = checkpoints.Checkpointer(workdir / workdir_lib.CHECKPOINT_DIR,
                                  monitor_mode=stopper.mode)
  plateau = (plateau_lib.Plateau.start(config.reduce_lr_on_plateau, config.train.learning_rate)
             if schedules.SCHEDULES.get(config.train.lr_schedule).lowered_on_plateau
             else None)
  history: list[dict[str, Any]] = []
  first_epoch = 1
  restored = ckpt.restore_latest_intact(state)
  if restored is not None:
    epoch, state, meta = restored
    history = meta["history"]
    stopper = dataclasses.replace(stopper, state=continuation.replayed_early_stopping(
        workdir, history, config.early_stopping, spelling))
    if plateau:
      plateau = plateau.restored(meta)
    first_epoch = epoch + 1
    if going_on:
      training.console.print(going_on.line(workdir, config, epoch, training.num_steps))
    else:
      logging.info("Resuming %s after epoch %d", workdir, epoch)
    if is_chief:
      # A run killed between its checkpoint and this file left it an epoch short.
      run_records.write_history(workdir, history)
  progress = None
  resumed = preemption.restore_progress(training.progress_dir, state, first_epoch)
  if resumed is not None:
    state, progress = resumed
    logging.info("Resuming epoch %d at step %d", first_epoch, progress.steps_done + 1)

  tb = run_records.TensorBoard(workdir) if is_chief else None
  compiled_shapes: set[tuple] = set()
  stop = preemption.StopRequest()
  stop.install()
  try:
    for epoch in range(first_epoch, config.train.max_epochs + 1):
      if early_stopping.should_stop(stopper.state):
        break
      state, record, step_records = _train_epoch(
          training, state, progress or preemption.EpochProgress(epoch), stop, compiled_shapes)
      history.append(record)
      stopper = stopper.update(record)
      meta = {stopper.META_KEY: stopper.state.to_dict(), "history": history}
      if plateau:
        plateau = plateau.update(record)
        state = state.replace(opt_state=plateau.apply(state.opt_state))
        meta[plateau.META_KEY] = plateau.state.to_dict()
      # Only early stopping's improvements compete for "best", so the kept best
      # checkpoint is the epoch Keras would restore, also with min_delta > 0.
      # Host arrays: orbax refuses pmap's per-process arrays in multi-process
      # runs, and writes host arrays from process 0 only.
      ckpt.save(epoch, jax.device_get(state), meta,
                metric_value=(record[stopper.monitor] if stopper.state.best_epoch == epoch
                              else math.nan))
      ckpt.wait_until_finished()
      preemption.discard_progress(training.progress_dir)
      progress = None
      if is_chief:
        run_records.write_history(workdir, history)
        tb.write_epoch(record)
        tb.write_steps(step_records)
      training.console.print(console_lib.epoch_line(record, config.train.max_epochs))
  finally:
    stop.uninstall()
    ckpt.wait_until_finished()
    if tb:
      tb.close()

  results = _final_results(training, state, ckpt, history, stopper.state,
                           restore_best=config.early_stopping.restore_best)
  training.console.print(*console_lib.end_of_training_lines(results))
  if is_chief:
    workdir_lib.write_json_atomic(workdir / workdir_lib.RESULTS_FILE, results)
  ckpt.close()
  return results


def _train_epoch(training: _Training, state: steps.TrainState,
                 progress: preemption.EpochProgress, stop: preemption.StopRequest,
                 compiled_shapes: set[tuple]
                 ) -> tuple[steps.TrainState, dict[str, Any], list[dict[str, Any]]]:
  """Trains one epoch from where `progress` left it; returns the state, the
  epoch's record and its steps' records (also written to steps.jsonl).
  `compiled_shapes` (updated) are the batch shapes compiled."""
  epoch, num_steps = progress.epoch, training.num_steps
  start = time.monotonic() - progress.seconds
  bar = training.console.progress_bar(num_steps, progress.steps_done)
  # Time before an interruption counts as it did then.
  per_step = list(progress.per_step)
  compile_seconds = progress.seconds - progress.timed_seconds
  epoch_tokens = progress.timed_tokens
  batches = itertools.islice(
      steps.make_batches(training.data.train, training.batches, training.topology,
                         epoch=epoch, shuffle=True),
      progress.steps_done, None)
  for i, batch in enumerate(batches, start=progress.steps_done):
    if stop.requested():
      if bar:  # the message of the stop goes on a line of its own
        bar.end_line()
      now = time.monotonic()
      _stop_in_epoch(stop, training.progress_dir, state, progress, dataclasses.replace(
          progress, steps_done=i, per_step=jax.device_get(per_step),
          seconds=now - start, timed_seconds=now - start - compile_seconds,
          timed_tokens=epoch_tokens), num_steps)
    shape = tuple(v.shape for v in batch.values())
    if shape in compiled_shapes:
      state, sums = training.p_train_step(state, batch, training.dropout_rng)
      epoch_tokens += batch["token_ids"].size
    else:
      # The first step of a shape compiles: wait for it and leave it out of
      # the throughput figure.
      step_start = time.monotonic()
      state, sums = jax.block_until_ready(
          training.p_train_step(state, batch, training.dropout_rng))
      compile_seconds += time.monotonic() - step_start
      compiled_shapes.add(shape)
    per_step.append(sums)
    dispatch.wait_for_room(per_step)
    if bar:
      bar.update(i + 1, per_step)
  per_step = jax.device_get(per_step)
  timed_seconds = time.monotonic() - start - compile_seconds
  if bar:
    bar.close()
  step_records = run_records.step_records(epoch, int(state.step), per_step)
  if training.is_chief:
    # Before the loss is checked: the steps of a diverging epoch are kept.
    run_records.write_steps(training.workdir, step_records)
  train_metrics = _checked_train_metrics(training, epoch, per_step)
  val_metrics = training.evaluate(state.params, training.data.validation)
  # The rate of the epoch's last update, as Keras logs it.
  learning_rate = (schedules.learning_rate_at(training.schedule, int(state.step) - 1)
                   * plateau_lib.learning_rate_factor(state.opt_state))
  return state, {"epoch": epoch, "loss": train_metrics["loss"],
                 "accuracy": train_metrics["accuracy"], "val_loss": val_metrics["loss"],
                 "val_accuracy": val_metrics["accuracy"], "learning_rate": learning_rate,
                 **run_records.grad_norm_summary(step_records),
                 "seconds": time.monotonic() - start,
                 "timed_seconds": timed_seconds, "timed_tokens": epoch_tokens}, step_records


def _checked_train_metrics(training: _Training, epoch: int,
                           per_step: list[dict[str, np.ndarray]]) -> dict[str, Any]:
  """The epoch's training metrics; a non-finite or diverged loss raises."""
  num_classes = len(training.data.label_names)
  bad_step = steps.first_nonfinite_step(per_step)
  if bad_step is not None:
    raise NonFiniteLossError(
        f"the training loss became non-finite at epoch {epoch}, step {bad_step + 1} of "
        f"{training.num_steps}; " + _lost_epoch_advice(training.train, epoch, training.spelling))
  train_metrics = metrics_lib.summarize(steps.sum_metrics(per_step), training.data.label_names)
  last = per_step[-max(1, len(per_step) // DIVERGENCE_WINDOW):]
  last_loss = metrics_lib.summarize(steps.sum_metrics(last), training.data.label_names)["loss"]
  if last_loss > training.diverged_above:
    raise DivergedError(
        f"the training diverged: the mean loss of epoch {epoch}'s last {len(last)} steps is "
        f"{last_loss:.4g}, more than {DIVERGENCE_FACTOR:g}x the "
        f"{math.log(max(num_classes, 2)):.3g} of guessing among {num_classes} classes; "
        + _lost_epoch_advice(training.train, epoch, training.spelling))
  return train_metrics


def _stop_in_epoch(stop: preemption.StopRequest, progress_dir: pathlib.Path,
                   state: steps.TrainState, saved: preemption.EpochProgress,
                   done: preemption.EpochProgress, num_steps: int) -> None:
  """Saves how far the epoch got, unless that is already saved, and raises
  `preemption.Interrupted`."""
  epoch = done.epoch
  if done.steps_done > saved.steps_done:
    preemption.save_progress(progress_dir, jax.device_get(state), done)  # see ckpt.save
    where = (f"in epoch {epoch} after step {done.steps_done} of {num_steps}; "
             f"its progress is saved in {progress_dir}")
  elif done.steps_done:
    where = f"in epoch {epoch} after step {done.steps_done} of {num_steps}, as saved before"
  elif epoch > 1:
    where = f"before epoch {epoch}; the checkpoint of epoch {epoch - 1} is kept"
  else:
    where = "before the first step"
  raise stop.interrupted(f"stopped {where}. Rerun the same command to resume.")


def _final_results(training: _Training, state: steps.TrainState, ckpt: checkpoints.Checkpointer,
                   history: list[dict[str, Any]], stopper: early_stopping.EarlyStoppingState,
                   *, restore_best: bool) -> dict[str, Any]:
  """Test metrics with the chosen weights (the best epoch's if `restore_best`),
  and the run's summary."""
  data = training.data
  # With a monitored metric that never became finite there is no best epoch.
  best_epoch = stopper.best_epoch or history[-1]["epoch"]
  params = state.params
  if restore_best and best_epoch != history[-1]["epoch"]:
    params = ckpt.restore_params(best_epoch, jax.device_get(state))
  test = training.evaluate(params, data.test)
  best = history[best_epoch - 1]
  timed_tokens = sum(r["timed_tokens"] for r in history)
  timed_seconds = sum(r["timed_seconds"] for r in history)
  return {
      "best_epoch": best_epoch,
      "epochs_run": history[-1]["epoch"],
      "stopped_early": early_stopping.should_stop(stopper),
      "best_val_loss": best["val_loss"],
      "val_accuracy": best["val_accuracy"],
      "train_accuracy": best["accuracy"],
      "test_loss": test["loss"],
      "test_accuracy": test["accuracy"],
      "test_macro_f1": test["macro_f1"],
      "per_class": test["per_class"],
      "confusion_matrix": test["confusion_matrix"],
      "label_names": data.label_names,
      "num_train": len(data.train),
      "num_val": len(data.validation),
      "num_test": len(data.test),
      "num_dropped": data.num_dropped,
      "train_seconds": sum(r["seconds"] for r in history),
      "train_tokens_per_second": timed_tokens / timed_seconds if timed_seconds else math.nan,
      "restored_weights": "best" if restore_best else "last",
  }
