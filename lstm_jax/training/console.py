"""What training prints to the terminal, in Keras's words: the model summary,
a progress bar within an epoch, one line per epoch and the early-stopping lines.

`train.verbose` says how much, as Keras's `fit(verbose=)` does: 0 nothing,
1 everything with a progress bar (on a terminal; elsewhere, such as a log
file, a plain line every `PLAIN_INTERVAL_SECONDS`), 2 everything but the bar.
Only process 0 prints. What a run records in its workdir epoch by epoch is
`run_records`'s.
"""

import logging
import sys
import time
from typing import Any, Callable, Optional, Sequence, TextIO

from absl import flags as absl_flags
from absl import logging as absl_logging
import flax.linen as nn
import jax
import jax.numpy as jnp

from lstm_jax.training import metrics as metrics_lib
from lstm_jax.training import run_records

SILENT, PROGRESS_BAR, ONE_LINE_PER_EPOCH = 0, 1, 2
VERBOSITIES = (SILENT, PROGRESS_BAR, ONE_LINE_PER_EPOCH)
TTY_INTERVAL_SECONDS = 0.2  # redraws of the bar in place
PLAIN_INTERVAL_SECONDS = 30.0  # lines written when stdout is not a terminal


class _LogLineFormatter(logging.Formatter):
  """`warning: ...` like the commands' own `error: ...` lines; info as it is."""

  def format(self, record: logging.LogRecord) -> str:
    message = super().format(record)
    if record.levelno >= logging.WARNING:
      return f"{record.levelname.lower()}: {message}"
    return message


def use_serving_log_lines() -> None:
  """The log of a command that reads a finished run (predict, evaluate, export,
  inspect): warnings only unless `--verbosity` is given, since orbax and JAX log
  every restore at INFO; plain lines."""
  if not absl_flags.FLAGS["verbosity"].present:
    absl_logging.set_verbosity(absl_logging.WARNING)
  use_plain_log_lines()


def use_plain_log_lines() -> None:
  """Log lines without absl's `W1203 10:25:21.186130 1396529 file.py:134]`
  prefix, which is for log files, not for the user of a command."""
  absl_logging.get_absl_handler().setFormatter(_LogLineFormatter())


def epoch_line(record: dict[str, float], max_epochs: int) -> str:
  """Formats one epoch like Keras's `fit` log.

  >>> epoch_line({"epoch": 2, "loss": 0.5, "accuracy": 0.75, "val_loss": 0.6,
  ...             "val_accuracy": 0.7, "learning_rate": 1e-4, "grad_norm": 0.42,
  ...             "seconds": 3.2}, 10)
  'Epoch 2/10 - 3.2s - loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.6000 - val_accuracy: 0.7000 - learning_rate: 1.0000e-04 - grad_norm: 0.4200'

  `grad_norm`, the epoch's mean gradient norm before clipping, is not Keras's.
  """
  parts = [f"Epoch {record['epoch']}/{max_epochs}", f"{record['seconds']:.1f}s"]
  parts += [f"{k}: {keras_number(record[k])}" for k in run_records.EPOCH_KEYS[1:-1]]
  return " - ".join(parts)


def keras_number(value: float) -> str:
  """A figure as Keras's progress bar writes it: 4 decimals, or 4 in scientific
  notation at 1e-3 and below."""
  return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def end_of_training_lines(results: dict[str, Any]) -> list[str]:
  """Keras `EarlyStopping(verbose=1)`'s lines, for what applied to this run.

  >>> end_of_training_lines({"stopped_early": True, "epochs_run": 4, "best_epoch": 1,
  ...                        "restored_weights": "best"})
  ['Restoring model weights from the end of the best epoch: 1.', 'Epoch 4: early stopping']
  """
  lines = []
  if results["restored_weights"] == "best" and results["best_epoch"] != results["epochs_run"]:
    lines.append(f"Restoring model weights from the end of the best epoch: "
                 f"{results['best_epoch']}.")
  if results["stopped_early"]:
    lines.append(f"Epoch {results['epochs_run']}: early stopping")
  return lines


def format_eta(seconds: float) -> str:
  """Keras's ETA: `45s`, `1:05`, `1:02:05`."""
  seconds = int(seconds)
  if seconds < 60:
    return f"{seconds}s"
  minutes, seconds = divmod(seconds, 60)
  if minutes < 60:
    return f"{minutes}:{seconds:02d}"
  return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


class ProgressBar:
  """Keras's progress bar within an epoch, with the running training metrics:

    `12/391 [>.............................] - ETA: 45s - loss: 0.6931 - accuracy: 0.5000`

  Redrawn in place on a terminal; elsewhere a plain line now and then. The
  step sums are fetched from the devices only when a line is drawn.
  """

  def __init__(self, total: int, *, first_step: int = 0, stream: Optional[TextIO] = None,
               clock: Callable[[], float] = time.monotonic, width: int = 30):
    """`first_step`: steps done before (a resumed epoch); the ETA counts from here."""
    self._total = max(total, 1)
    self._first = first_step
    self._stream = stream or sys.stdout
    self._tty = self._stream.isatty()
    self._interval = TTY_INTERVAL_SECONDS if self._tty else PLAIN_INTERVAL_SECONDS
    self._clock = clock
    self._width = width
    self._start = clock()
    # A terminal shows the bar at once; a log gets its first line after an interval.
    self._last_draw = -float("inf") if self._tty else self._start
    self._drawn = 0  # characters of the bar on the terminal
    self._sums = None
    self._seen = 0

  def update(self, done: int, per_step: Sequence[dict[str, Any]]) -> None:
    """`done` steps of the epoch are done; `per_step`: their metric sums."""
    now = self._clock()
    last = done >= self._total and self._tty
    if now - self._last_draw < self._interval and not last:
      return
    self._last_draw = now
    for sums in per_step[self._seen:]:
      self._sums = metrics_lib.accumulate(self._sums, sums)
    self._seen = len(per_step)
    text = self.text(done, now)
    if self._tty:
      self._stream.write("\r" + text.ljust(self._drawn))
      self._drawn = len(text)
    else:
      self._stream.write(text + "\n")
    self._stream.flush()

  def text(self, done: int, now: float) -> str:
    digits = len(str(self._total))
    parts = [f"{done:{digits}d}/{self._total}"]
    if self._tty:
      filled = self._width * done // self._total
      bar = "=" * max(filled - 1, 0) + (">" if done < self._total else "=")
      parts[0] += f" [{bar}{'.' * (self._width - len(bar))}]"
    rate = (now - self._start) / max(done - self._first, 1)
    parts.append(f"ETA: {format_eta(rate * (self._total - done))}")
    if self._sums is not None and self._sums["count"] > 0:
      parts.append(f"loss: {self._sums['loss_sum'] / self._sums['count']:.4f}")
      parts.append(f"accuracy: {self._sums['correct'] / self._sums['count']:.4f}")
    return " - ".join(parts)

  def close(self) -> None:
    """Erases the bar; the epoch's line takes its place."""
    if self._drawn:
      self._stream.write("\r" + " " * self._drawn + "\r")
      self._stream.flush()
      self._drawn = 0

  def end_line(self) -> None:
    """Ends the bar's line where it is, so that what is printed next (why the
    epoch stopped) starts a line of its own."""
    if self._drawn:
      self._stream.write("\n")
      self._stream.flush()
      self._drawn = 0


def summary_lines(model: nn.Module, params: Any, frozen: Any, seq_length: int,
                  name: str) -> list[str]:
  """Keras's `model.summary()`: each layer of `model`, its output shape and
  parameter count, then the totals; the frozen ones are non-trainable.

  The layers and shapes come from tracing `model` on `params` (no compute).
  A layer that is set up but not called (the embedding, whose table the model
  reads) outputs what the next layer receives.

  Args:
    model: the classifier.
    params: its parameters (`variables['params']`).
    frozen: a tree like `params`, True for the leaves the optimizer leaves alone.
    seq_length: T, the length of the traced input.
    name: the model's name in the header.
  """
  layers: dict[str, list] = {}  # name → [type, input shape, output shape], in model order

  def record(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    path = context.module.scope.path
    if len(path) == 1:
      kind = getattr(context.module, "keras_class", type(context.module).__name__)
      layer = layers.setdefault(path[0], [kind, None, None])
      if context.method_name == "__call__":
        layer[1] = args[0].shape
        layer[2] = (out[0] if isinstance(out, tuple) else out).shape
    return out

  with nn.intercept_methods(record):
    jax.eval_shape(lambda p: model.apply({"params": p}, jnp.zeros((1, seq_length), jnp.int32)),
                   params)
  rows = []
  names = list(layers)
  for i, layer_name in enumerate(names):
    kind, _, shape = layers[layer_name]
    if shape is None:
      shape = next((layers[n][1] for n in names[i + 1:] if layers[n][1] is not None), None)
    count = sum(x.size for x in jax.tree.leaves(params.get(layer_name, {})))
    rows.append((f"{layer_name} ({kind})", str((None, *shape[1:])) if shape else "?", f"{count:,}"))
  sizes = [x.size for x in jax.tree.leaves(params)]
  frozen_sizes = [s for s, f in zip(sizes, jax.tree.leaves(frozen)) if f]
  total, non_trainable = sum(sizes), sum(frozen_sizes)
  width = (32, 26, 12)
  rule = "_" * sum(width)

  def row(cells):
    return (cells[0].ljust(width[0]) + cells[1].ljust(width[1]) + cells[2].rjust(width[2])).rstrip()

  return [f'Model: "{name}"', rule, row(("Layer (type)", "Output Shape", "Param #")),
          "=" * sum(width), *map(row, rows), "=" * sum(width),
          f"Total params: {total:,}", f"Trainable params: {total - non_trainable:,}",
          f"Non-trainable params: {non_trainable:,}", rule]


class Console:
  """The training's terminal output at `verbose`; silent on processes but 0."""

  def __init__(self, verbose: int, is_chief: bool, stream: Optional[TextIO] = None):
    self.verbose = verbose if is_chief else SILENT
    self._stream = stream or sys.stdout

  def print(self, *lines: str) -> None:
    if self.verbose != SILENT:
      for line in lines:
        print(line, file=self._stream, flush=True)

  def summary(self, model: nn.Module, params: Any, frozen: Any, seq_length: int,
              name: str) -> None:
    """Prints `summary_lines`; traces the model only when it is printed."""
    if self.verbose != SILENT:
      self.print(*summary_lines(model, params, frozen, seq_length, name))

  def progress_bar(self, total: int, first_step: int) -> Optional[ProgressBar]:
    if self.verbose != PROGRESS_BAR:
      return None
    return ProgressBar(total, first_step=first_step, stream=self._stream)
