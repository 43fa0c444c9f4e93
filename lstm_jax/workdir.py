"""The names of a run's workdir: a contract with scripts outside the project.

Every module spells a workdir file through these constants (a test greps the
package for the literal names); docs/ARCHITECTURE.md lists what each holds (a test
checks every doc that lists them against these names). Every write is atomic (a temporary
file, then a rename), so a run killed at any moment leaves either the old or the
new file, never half of one.
"""

import json
import os
import pathlib
from typing import Any

from lstm_jax import errors

CONFIG_FILE = "config.json"  # the resolved config
TOKENIZER_FILE = "tokenizer.json"  # the fitted tokenizer
LABELS_FILE = "labels.json"  # class names, index = class id
DATASET_REPORT_FILE = "dataset_report.json"  # rows read / used / dropped per split
CHECKPOINT_DIR = "checkpoints"  # orbax, one directory per epoch
METRICS_FILE = "metrics.jsonl"  # one line per epoch
STEPS_FILE = "steps.jsonl"  # one line per optimizer step: its loss and gradient norm
RESULTS_FILE = "results.json"  # written when the run is finished
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = ".lock"  # held by the running process
COMMAND_FILE = "command.txt"  # the command line of the last invocation
BASELINES_FILE = "baselines.json"  # written by `python -m lstm_jax.study.baselines`
INPUTS_DIR = "inputs"  # the texts `lstm_jax.fit` was given, as JSON lines
# Written by `python -m lstm_jax.study.report`:
CURVES_FIGURE_FILE = "curves.png"  # loss and accuracy per epoch
CONFUSION_FIGURE_FILE = "confusion.png"  # the test confusion matrix

# The items of one checkpoint directory.
PARAMS_ITEM = "parameters"  # the model's params (orbax StandardSave)
OPTIMIZER_ITEM = "optimizer"  # the rest of the train state; newest epochs only
STATE_ITEM = "state"  # the whole train state, in checkpoints written before the split
META_ITEM = "meta"  # epoch bookkeeping (JSON)
LAYOUT_ITEM = "tree"  # key path -> shape and dtype of every array of the state (JSON)
# The monitored value that ranks the epoch for "best" (JSON); orbax writes and names
# it, as `<item>/<item>`.
METRICS_ITEM = "metrics"
# Items written before the parameters got their own: read, never written.
LEGACY_ITEMS = (STATE_ITEM,)


def write_json_atomic(path: os.PathLike, obj: Any) -> None:
  """Writes `obj` as indented JSON to `path` atomically."""
  write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: os.PathLike, text: str) -> None:
  """Writes `text` to `path` through a temporary file and a rename."""
  path = pathlib.Path(path)
  tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except OSError as e:
    tmp.unlink(missing_ok=True)
    raise errors.WriteError(e.errno, f"could not write {path}: {e.strerror}") from e


def read_json(path: os.PathLike) -> Any:
  """The JSON content of `path`; a missing or unreadable file is a `UserError`
  naming it."""
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except FileNotFoundError:
    raise errors.MissingFileError(f"{path} not found") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise errors.BadValueError(f"{path} is not valid JSON ({e}): restore it from a "
                               "copy or rerun with --restart") from None
