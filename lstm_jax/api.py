"""`fit`: train on texts and labels held in memory, in one call, like Keras's `fit`.

It runs the command's own pipeline: the texts are written as JSON lines into the
workdir, a config is pointed at them and `train.train_and_evaluate` trains,
checkpoints and evaluates exactly as `python -m lstm_jax.main` would. The files
are named by their content, so the same call resumes or returns a finished run
(or, with a larger `train.max_epochs`, trains it further), and other texts in
the same workdir are refused as a changed config.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Any, Mapping, Optional, Sequence

import ml_collections

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.config import schema
from lstm_jax.training import run_records
from lstm_jax.training import train

Texts = Sequence[str]
Labels = Sequence[Any]


@dataclasses.dataclass(frozen=True)
class History:
  """What `fit` returns.

  Attributes:
    history: metric name -> one value per epoch, as Keras's `History.history`
      (`loss`, `accuracy`, `val_loss`, `val_accuracy`, ...).
    results: the run's `results.json` (test metrics, best epoch, ...).
    workdir: where the run lives; `serving.Classifier` and the commands read it.
  """
  history: dict[str, list[Any]]
  results: dict[str, Any]
  workdir: pathlib.Path


def _write_examples(folder: pathlib.Path, split: str, texts: Texts, labels: Labels) -> str:
  if len(texts) != len(labels):
    raise errors.BadValueError(
        f"fit: {split} has {len(texts)} texts but {len(labels)} labels; give one label per text")
  lines = "".join(json.dumps({"text": str(t), "label": str(l)}, ensure_ascii=False) + "\n"
                  for t, l in zip(texts, labels))
  digest = hashlib.sha256(lines.encode("utf-8")).hexdigest()[:16]
  path = folder / f"{split}-{digest}.jsonl"
  if not path.exists():
    workdir_lib.write_text_atomic(path, lines)
  return str(path)


def fit(texts: Texts, labels: Labels, workdir: os.PathLike, *,
        config: Optional[ml_collections.ConfigDict] = None,
        validation_data: Optional[tuple[Texts, Labels]] = None,
        test_data: Optional[tuple[Texts, Labels]] = None,
        overrides: Optional[Mapping[str, Any]] = None,
        restart: bool = False) -> History:
  """Trains a classifier of `texts` by `labels` with early stopping.

  The same call again resumes an interrupted run or returns a finished one;
  with a larger `train.max_epochs` (or `early_stopping.patience`) in
  `overrides` it trains the run further from its last epoch, as Keras's `fit`
  called again does.

  Args:
    texts: the training texts.
    labels: one label per text (any values; kept as strings).
    workdir: the run's folder (created; a rerun of the same call resumes).
    config: the experiment (default `lstm_jax.config.schema.default_config()`); its `data.*`
      file keys are replaced by the given texts.
    validation_data: (texts, labels) for validation and early stopping, as
      Keras's `fit(validation_data=)`; None holds `data.validation_split` of
      the training texts out.
    test_data: (texts, labels) to test on; None holds `data.test_split` of
      the training texts out, as the command does.
    overrides: `{"section.key": value}`, e.g. `{"train.max_epochs": 5}`.
    restart: delete the workdir's previous run first and start over.

  Returns:
    The history, the results and the workdir.

  Raises:
    lstm_jax.errors.UserError: bad input or a workdir holding another run;
      the message names what to pass instead.
  """
  workdir = pathlib.Path(workdir)
  config = schema.default_config() if config is None else config.copy_and_resolve_references()
  for key, value in (overrides or {}).items():
    section, _, name = key.rpartition(".")
    if section not in config or name not in config[section]:
      raise errors.BadValueError(
          f"fit: unknown config key {key!r}; "
          + schema.unknown_key_hint(key, value, errors.PYTHON))
    config[section][name] = value
  inputs = workdir / workdir_lib.INPUTS_DIR
  inputs.mkdir(parents=True, exist_ok=True)
  config.data.source = "files"
  config.data.format = "jsonl"
  config.data.encoding = "utf-8"
  config.data.text_fields = ("text",)
  config.data.label_field = "label"
  config.data.train_files = (_write_examples(inputs, "train", texts, labels),)
  for split, given in (("test", test_data), ("validation", validation_data)):
    config.data[f"{split}_files"] = (() if given is None
                                     else (_write_examples(inputs, split, *given),))
  results = train.train_and_evaluate(config, workdir, restart=restart,
                                     spelling=errors.PYTHON)
  epochs = run_records.read_history(workdir)
  history = {key: [epoch.get(key) for epoch in epochs]
             for key in (epochs[0] if epochs else {}) if key != "epoch"}
  return History(history=history, results=results, workdir=workdir)
