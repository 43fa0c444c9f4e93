"""Training a run further, as calling Keras's `fit` again does.

A workdir whose config changed only in keys that say when the run ends
(`CONTINUABLE_KEYS`) goes on from its last epoch instead of being refused: its
epoch records, checkpoints, early stopping and ReduceLROnPlateau state carry on.
Early stopping is replayed over the monitored values of the epochs already
trained with the new settings, so the run stops where one started with them
would. It goes on only where that is well defined:

- a run that reached `train.max_epochs` continues to the new, larger value;
- a run that stopped early goes on once `early_stopping.patience` is raised
  above the epochs it waited (it says so, with the value to pass);
- an interrupted run resumes with the new values;
- new values under which the run would already have stopped (fewer epochs
  than it trained, a patience that ran out earlier) are refused.

The learning rate of the epochs to come is the new config's schedule at their
steps, as in a run started with the new `train.max_epochs`: constant rates (and
a finished warmup, and ReduceLROnPlateau's rate) go on unchanged; a cosine or
linear decay, which spans `train.max_epochs`, is stretched over the new number
of epochs, so its rate rises from where the old decay ended to where the
longer one is at that step. The epochs already trained keep the rates they had.
"""

import dataclasses
import pathlib
from typing import Any, Optional

import ml_collections

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.config import validation as config_validation
from lstm_jax.optim import schedules
from lstm_jax.training import early_stopping
from lstm_jax.training import run_records

# Keys that say when a run ends, not what its epochs compute: a finished or
# interrupted run changed only in these goes on from its last epoch.
CONTINUABLE_KEYS = ("train.max_epochs", "early_stopping.patience")


@dataclasses.dataclass(frozen=True)
class Continuation:
  """A run that goes on with a changed config.

  Attributes:
    old: the run's previous config (`config.json`, upgraded), plain JSON.
    changed: the keys that differ, all of `CONTINUABLE_KEYS`.
    finished: whether the run had finished (its `results.json` is gone now).
  """
  old: dict[str, Any]
  changed: tuple[str, ...]
  finished: bool

  def line(self, workdir: pathlib.Path, config: ml_collections.ConfigDict,
           epochs_done: int, steps_per_epoch: int) -> str:
    """The one line that says how the run goes on after `epochs_done` epochs."""
    new, old = config_validation.flatten(config.to_dict()), config_validation.flatten(self.old)
    changes = ", ".join(f"{key}={new[key]} (was {old[key]})" for key in self.changed)
    first, last = epochs_done + 1, config.train.max_epochs
    epochs = (f"epoch {first} follows" if first == last else
              f"epochs {first}-{last} follow" if first < last else "no epoch is left to train")
    verb = "Continuing the finished run" if self.finished else "Resuming"
    return (f"{verb} {workdir} after epoch {epochs_done} with {changes}: {epochs}; "
            f"{self._learning_rate(config, epochs_done * steps_per_epoch, steps_per_epoch)}.")

  def _learning_rate(self, config: ml_collections.ConfigDict, step: int,
                     steps_per_epoch: int) -> str:
    """How the rate of `step`, the next one, compares with the old schedule's."""
    old_train = ml_collections.ConfigDict(self.old["train"])
    before = schedules.learning_rate_at(schedules.from_config(old_train, steps_per_epoch), step)
    now = schedules.learning_rate_at(schedules.from_config(config.train, steps_per_epoch), step)
    if before == now:
      return "the learning-rate schedule goes on as before"
    return (f"train.lr_schedule={config.train.lr_schedule} now spans "
            f"{config.train.max_epochs} epochs, so the next step's rate is {now:.3g} where "
            f"the {old_train.max_epochs}-epoch schedule gives {before:.3g}, as in a run "
            f"started with train.max_epochs={config.train.max_epochs}")


def plan(workdir: pathlib.Path, old: dict[str, Any], config: ml_collections.ConfigDict,
         changed: list[str], spelling: errors.Spelling) -> Optional[Continuation]:
  """How the run of `workdir` goes on under `config`, or refuses to.

  Args:
    workdir: a workdir holding a run (a checkpoint or results).
    old: its `config.json`, upgraded (`schema.upgrade`).
    config: the new config.
    changed: the keys in which they differ (`validation.changed_keys`).
    spelling: how the messages name the caller's options.

  Returns:
    The continuation; None when a finished run has nothing left to train (its
    results stand).

  Raises:
    ConfigError: a key outside `CONTINUABLE_KEYS` changed, or the run cannot go
      on under the new values; the message says what to pass instead.
  """
  refused = [key for key in changed if key not in CONTINUABLE_KEYS]
  if refused:
    kept = (f" (a run goes on with a new {' or '.join(CONTINUABLE_KEYS)} alone)"
            if len(refused) < len(changed) else "")
    raise config_validation.ConfigError(
        f"{workdir / workdir_lib.CONFIG_FILE} was written by a run with another config "
        f"(differs in: {', '.join(changed)}){kept}. Use another workdir, or pass "
        f"{spelling.restart} to delete this run and start over.")
  history = run_records.read_history(workdir)
  done = history[-1]["epoch"] if history else 0
  max_epochs = config.train.max_epochs
  if max_epochs < done:
    raise config_validation.ConfigError(
        f"{workdir} has trained {done} epochs, more than train.max_epochs={max_epochs}: "
        f"pass {done} or more ({spelling.key('train.max_epochs', done)}) to go on, or "
        f"{spelling.restart} to start over.")
  state = replayed_early_stopping(workdir, history, config.early_stopping, spelling)
  if state.stopped:
    raise config_validation.ConfigError(
        f"{workdir} stopped early: " + stopped_early_advice(state, config, spelling))
  finished = (workdir / workdir_lib.RESULTS_FILE).exists()
  if finished and done >= max_epochs:
    return None
  return Continuation(old=old, changed=tuple(changed), finished=finished)


def replayed_early_stopping(workdir: pathlib.Path, history: list[dict[str, Any]],
                            settings: ml_collections.ConfigDict,
                            spelling: errors.Spelling) -> early_stopping.EarlyStoppingState:
  """Early stopping after the epochs of `history` under `settings` (the config's
  `early_stopping` section, which may differ from the one the epochs ran with).

  Raises:
    ConfigError: under these settings the run would have stopped before its
      last epoch; the message names the smallest patience that goes on.
  """
  mode = early_stopping.resolve_mode(settings.monitor, settings.mode)
  values = [record[settings.monitor] for record in history]
  states = early_stopping.replay(values, mode=mode, min_delta=settings.min_delta,
                                 patience=settings.patience)
  if len(states) < len(history):
    # The epochs each waited for an improvement, with a patience that never runs out.
    waits = [s.wait for s in early_stopping.replay(
        values, mode=mode, min_delta=settings.min_delta, patience=len(history) + 1)]
    needed = max(waits[:-1]) + 1
    raise config_validation.ConfigError(
        f"with early_stopping.patience={settings.patience}, {workdir} would have stopped "
        f"at epoch {len(states)}, but it has trained {len(history)} epochs: pass a patience "
        f"of {needed} or more ({spelling.key('early_stopping.patience', needed)}) to go on, "
        f"or {spelling.restart} to start over.")
  return states[-1] if states else early_stopping.EarlyStoppingState()


def stopped_early_advice(state: early_stopping.EarlyStoppingState,
                         config: ml_collections.ConfigDict, spelling: errors.Spelling) -> str:
  """Why a run stopped after `state.last_epoch` and what to pass to train on."""
  settings, needed = config.early_stopping, state.wait + 1
  best = (f"has not improved since epoch {state.best_epoch}" if state.best_epoch
          else "never became finite")
  more = (f" with a train.max_epochs above {state.last_epoch}"
          if config.train.max_epochs <= state.last_epoch else "")
  return (f"{settings.monitor} {best}, and early_stopping.patience={settings.patience} "
          f"ended the run at epoch {state.last_epoch}. To train on, pass a patience of "
          f"{needed} or more ({spelling.key('early_stopping.patience', needed)}){more}; "
          f"to start over, pass {spelling.restart}.")


def finished_line(workdir: pathlib.Path, results: dict[str, Any],
                  config: ml_collections.ConfigDict, spelling: errors.Spelling) -> str:
  """What a rerun of a finished run prints: how it ended and how to go on."""
  epochs = results["epochs_run"]
  if results["stopped_early"]:
    state = early_stopping.EarlyStoppingState(
        best_epoch=results["best_epoch"], wait=epochs - results["best_epoch"],
        last_epoch=epochs, stopped=True)
    return f"{workdir} is finished: " + stopped_early_advice(state, config, spelling)
  return (f"{workdir} is finished: it reached train.max_epochs={epochs}. To train on, "
          f"pass a larger value ({spelling.key('train.max_epochs', 2 * epochs)}); to start "
          f"over, pass {spelling.restart}.")
