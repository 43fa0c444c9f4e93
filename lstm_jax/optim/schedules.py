"""Learning-rate schedules: each is one entry of `SCHEDULES`.

An entry (`Schedule`) builds the rate as a function of the step (optax), names
the `train.*` keys it reads beyond `train.learning_rate` (of `KEYS`), and gives
its Keras equivalent for the Keras comparison run (`study/keras_reference.py`);
a schedule without one is refused there by name, never run at a constant rate.
The rest is derived from the registry: the values `train.lr_schedule` accepts,
the schema's schedule keys and their ranges (`KEYS`), the refusal of a key the
chosen schedule does not read, and the docs' table (`markdown_table`, copied
into docs/USAGE.md and held equal to it by a test).

A schedule spans the run: `train.max_epochs` x the steps of an epoch. Adding
one is one entry here (and its tests and the docs' row):

  def _exponential(learning_rate, total_steps, *, warmup_steps=0):
    return optax.warmup_exponential_decay_schedule(...)

  SCHEDULES.register("exponential", Schedule(
      _exponential, keys=("warmup_steps",), keras=None,
      meaning="...", keras_meaning="none"))

A key a new schedule needs is a new entry of `KEYS`.
"""

import dataclasses
from typing import Any, Callable, Mapping, Optional, Union

import ml_collections
import optax

from lstm_jax import errors
from lstm_jax import registry

LearningRate = Union[float, optax.Schedule]


@dataclasses.dataclass(frozen=True)
class Key:
  """A `train.*` key that schedules read.

  Attributes:
    default: its value in the schema; a schedule that does not read the key
      refuses any other.
    low: the lowest value accepted, included.
    meaning: what it does, for messages.
  """
  default: Any
  low: Any
  meaning: str


KEYS: Mapping[str, Key] = {
    "warmup_steps": Key(0, 0, "a linear warmup from 0 over this many steps"),
    "final_learning_rate": Key(0.0, 0.0, "the rate a decaying schedule ends at"),
}


@dataclasses.dataclass(frozen=True)
class Schedule:
  """One learning-rate schedule.

  Attributes:
    build: (learning_rate, total_steps, **its keys) → the rate: a float, or an
      optax schedule of the step (the number of updates already made).
    keys: the names of `KEYS` it reads.
    keras: the same arguments → the Keras 3 learning rate that follows the same
      curve (a float or a `keras.optimizers.schedules` object); may raise
      `errors.NoKerasEquivalentError` for settings Keras cannot follow. None:
      Keras has no equivalent, and the Keras comparison run refuses it.
    lowered_on_plateau: the training loop lowers the rate between epochs
      (`plateau.Plateau`, section `reduce_lr_on_plateau`), and the Keras run adds
      a `ReduceLROnPlateau` callback.
    meaning: what it does, for the docs' table.
    keras_meaning: its Keras counterpart, for the docs' table.
  """
  build: Callable[..., LearningRate]
  keys: tuple[str, ...] = ()
  keras: Optional[Callable[..., Any]] = None
  lowered_on_plateau: bool = False
  meaning: str = ""
  keras_meaning: str = "none"

  def settings(self, train: ml_collections.ConfigDict) -> dict[str, Any]:
    """The values of its keys in the `train` config section."""
    return {key: train[key] for key in self.keys}


SCHEDULES: registry.Registry[Schedule] = registry.Registry(
    "learning-rate schedule", key="train.lr_schedule")


def _check_warmup(warmup_steps: int, total_steps: int) -> None:
  if not 0 <= warmup_steps < total_steps:
    raise ValueError(f"warmup_steps must be in [0, total_steps={total_steps}), got {warmup_steps}")


def _after_warmup(after: optax.Schedule, learning_rate: float,
                  warmup_steps: int) -> optax.Schedule:
  """`after`, preceded by a linear warmup from 0 when `warmup_steps`."""
  if not warmup_steps:
    return after
  return optax.join_schedules(
      [optax.linear_schedule(0.0, learning_rate, warmup_steps), after], [warmup_steps])


def _keras():
  import keras  # pylint: disable=g-import-not-at-top
  return keras


def _keras_cosine(learning_rate: float, total_steps: int, warmup_steps: int,
                  alpha: float) -> Any:
  """Keras's `CosineDecay` with its own warmup (alpha = 1: constant after it)."""
  return _keras().optimizers.schedules.CosineDecay(
      0.0 if warmup_steps else learning_rate, decay_steps=total_steps - warmup_steps,
      alpha=alpha, warmup_target=learning_rate if warmup_steps else None,
      warmup_steps=warmup_steps)


def _constant(learning_rate: float, total_steps: int, *,
              warmup_steps: int = 0) -> LearningRate:
  # Without warmup the float itself, so that the optimizer (and its
  # checkpointed state) is the one of runs made before schedules existed.
  if not warmup_steps:
    return learning_rate
  _check_warmup(warmup_steps, total_steps)
  return _after_warmup(optax.constant_schedule(learning_rate), learning_rate, warmup_steps)


def _keras_constant(learning_rate: float, total_steps: int, *,
                    warmup_steps: int = 0) -> Any:
  if not warmup_steps:
    return learning_rate
  return _keras_cosine(learning_rate, total_steps, warmup_steps, alpha=1.0)


SCHEDULES.register("constant", Schedule(
    _constant, keys=("warmup_steps",), keras=_keras_constant,
    meaning="the rate, after an optional linear warmup from 0 over `warmup_steps`",
    keras_meaning="the rate; with a warmup `CosineDecay(0, …, alpha=1, "
                  "warmup_target=lr, warmup_steps=N)`"))


def _cosine(learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
            final_learning_rate: float = 0.0) -> LearningRate:
  _check_warmup(warmup_steps, total_steps)
  return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, total_steps,
                                            final_learning_rate)


def _keras_cosine_decay(learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
                        final_learning_rate: float = 0.0) -> Any:
  return _keras_cosine(learning_rate, total_steps, warmup_steps,
                       alpha=final_learning_rate / learning_rate)


SCHEDULES.register("cosine", Schedule(
    _cosine, keys=("warmup_steps", "final_learning_rate"), keras=_keras_cosine_decay,
    meaning="warmup, then cosine decay reaching `final_learning_rate` at the last step "
            "of `train.max_epochs`",
    keras_meaning="`CosineDecay(…, alpha=final/lr, warmup_target=lr, warmup_steps=N)`"))


def _linear(learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
            final_learning_rate: float = 0.0) -> LearningRate:
  _check_warmup(warmup_steps, total_steps)
  decay = optax.linear_schedule(learning_rate, final_learning_rate, total_steps - warmup_steps)
  return _after_warmup(decay, learning_rate, warmup_steps)


def _keras_linear(learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
                  final_learning_rate: float = 0.0) -> Any:
  if warmup_steps:
    raise errors.NoKerasEquivalentError(
        "train.lr_schedule='linear' with train.warmup_steps: Keras has no linear decay "
        "after a warmup; use 'cosine', or warmup_steps=0")
  return _keras().optimizers.schedules.PolynomialDecay(
      learning_rate, total_steps, end_learning_rate=final_learning_rate, power=1.0)


SCHEDULES.register("linear", Schedule(
    _linear, keys=("warmup_steps", "final_learning_rate"), keras=_keras_linear,
    meaning="warmup, then linear decay to `final_learning_rate`",
    keras_meaning="`PolynomialDecay(power=1)` (without warmup)"))


def _plateau(learning_rate: float, total_steps: int) -> LearningRate:
  del total_steps  # Lowered between epochs, by the optimizer state's factor.
  return learning_rate


SCHEDULES.register("reduce_on_plateau", Schedule(
    _plateau, keras=_plateau, lowered_on_plateau=True,
    meaning="the rate, lowered between epochs when the monitored metric stops improving "
            "(section `reduce_lr_on_plateau`: Keras's defaults and counting rules, "
            "`lstm_jax/optim/plateau.py`); it starts at the full rate, as Keras's does",
    keras_meaning="the rate and `callbacks.ReduceLROnPlateau`"))


def make_schedule(name: str, learning_rate: float, *, total_steps: int,
                  **settings: Any) -> LearningRate:
  """The rate of schedule `name` over `total_steps`; `settings`: values of its keys
  (a key left out has its default)."""
  return SCHEDULES.get(name).build(learning_rate, total_steps, **settings)


def from_config(train: ml_collections.ConfigDict, steps_per_epoch: int) -> LearningRate:
  """The learning-rate schedule of the `train` config section."""
  return make_schedule(train.lr_schedule, train.learning_rate,
                       total_steps=train.max_epochs * steps_per_epoch,
                       **SCHEDULES.get(train.lr_schedule).settings(train))


def keras_learning_rate(train: ml_collections.ConfigDict, steps_per_epoch: int) -> Any:
  """The Keras learning rate that follows `from_config(train, steps_per_epoch)`.

  Raises:
    errors.NoKerasEquivalentError: the schedule has no Keras equivalent, or not
      with these settings.
  """
  name = train.lr_schedule
  schedule = SCHEDULES.get(name)
  if schedule.keras is None:
    raise errors.NoKerasEquivalentError(
        f"train.lr_schedule={name!r} has no Keras equivalent registered "
        "(lstm_jax/optim/schedules.py), so there is no Keras twin of this run")
  return schedule.keras(train.learning_rate, train.max_epochs * steps_per_epoch,
                        **schedule.settings(train))


def unread_keys(train: ml_collections.ConfigDict) -> list[str]:
  """What is wrong with the `train` section's schedule keys: each one set away
  from its default that the chosen schedule does not read."""
  name = train.lr_schedule
  if name not in SCHEDULES:
    return []  # Named by the check of the accepted values.
  reads = SCHEDULES.get(name).keys
  problems = []
  for key, spec in KEYS.items():
    if key in reads or train[key] == spec.default:
      continue
    readers = [other for other, schedule in SCHEDULES.items() if key in schedule.keys]
    problems.append(f"train.{key}={train[key]!r} ({spec.meaning}) is not read by "
                    f"train.lr_schedule={name!r}; schedules that read it: "
                    f"{', '.join(readers)}. Pick one of them, or leave train.{key} at "
                    f"{spec.default!r}")
  return problems


def learning_rate_at(schedule: LearningRate, step: int) -> float:
  """The rate `schedule` gives the update of step `step` (counted from 0)."""
  return float(schedule(step)) if callable(schedule) else float(schedule)


def markdown_table() -> str:
  """The docs' table of the registered schedules."""
  rows = ["| `train.lr_schedule` | keys it reads | what it does | Keras counterpart |",
          "|---|---|---|---|"]
  for name, schedule in SCHEDULES.items():
    keys = ", ".join(f"`train.{key}`" for key in schedule.keys) or "—"
    rows.append(f"| `{name}` | {keys} | {schedule.meaning} | {schedule.keras_meaning} |")
  return "\n".join(rows) + "\n"
