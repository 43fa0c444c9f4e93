r"""Evaluates a trained model on a split of its data or on other files.

  python -m lstm_jax.evaluate --workdir=runs/sentiment_keras
  python -m lstm_jax.evaluate --workdir=runs/my_run --files=other.csv \
    --config.data.format=tsv --config.data.encoding=latin-1 --output=other_eval.json

`--files` measures every row of those files and reads nothing else: the run's
reading keys (format, encoding, columns, text and label fields, ...) apply to
them unless `--config.data.*` overrides them, and the run's training files are
not read. Without `--files`, a split of the run's own data is measured: the data
config is the run's `config.json`, `--config.data.*` keys override it (and
`--config.train.batch_size`, `--config.train.num_devices`). The saved
tokenizer and class names are used, never refitted: rows whose label the model
was not trained on are dropped and counted, with a warning. The metrics are
training's: loss, accuracy, macro-F1, per-class precision / recall / F1 and
the confusion matrix. Without overrides, `--split=test` with `--weights=results`
reproduces the test metrics of `results.json`.
"""

import collections
import sys
from typing import Any, Mapping, Sequence

from absl import app
from absl import flags
import ml_collections
from ml_collections import config_flags

from lstm_jax import datasets
from lstm_jax import errors
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.config import schema
from lstm_jax.config import validation as config_validation
from lstm_jax.training import console
from lstm_jax.training import input_pipeline
from lstm_jax.training import steps
from lstm_jax.training import train

SPLITS = ("test", "validation", "train")
# Keys that change what is read, not the trained model or its vocabulary.
OVERRIDABLE = ("data.", "train.batch_size", "train.num_devices")
TOKENIZER_KEYS = ("data.vocab_size", "data.lowercase", "data.oov_token")
LABEL_NOT_TRAINED = "label not in the trained labels"
MAX_CONFUSION_PRINTED = 12

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags; defined only when run as a program, so that the
  module's functions import anywhere."""
  flags.DEFINE_string("workdir", None, "Workdir of a training run.", required=True)
  config_flags.DEFINE_config_dict(
      "config", schema.default_config(),
      "Overrides of the run's config.json, e.g. --config.data.test_files=other.csv; "
      "the keys are listed in lstm_jax/config/schema.py.",
      lock_config=True)
  # Its default is the whole default config, which --help would print as a value.
  FLAGS["config"].default_as_str = None
  flags.DEFINE_list("files", [], "Files to measure, all their rows; the run's data "
                    "is then not read. Their reading keys: --config.data.*.")
  flags.DEFINE_enum("split", "test", SPLITS,
                    "The split of the run's data to evaluate (without --files).")
  flags.DEFINE_enum(
      "weights", "results", serving.WEIGHTS,
      "results: the weights results.json reports test metrics for; best: the best epoch by "
      "the monitored metric; last: the newest checkpoint.")
  flags.DEFINE_string("output", None, "Write the metrics to this JSON file.")


def eval_config(run_config: ml_collections.ConfigDict,
                overrides: Mapping[str, Any]) -> ml_collections.ConfigDict:
  """The run's config with the overrides (`section.key` → value) applied.

  Raises:
    errors.BadValueError: an override would change the model or the vocabulary.
  """
  plain = run_config.to_dict()
  for key, value in overrides.items():
    if not key.startswith(OVERRIDABLE) or key in TOKENIZER_KEYS:
      raise errors.BadValueError(
          f"--config.{key} cannot be overridden: evaluation uses the trained model and its "
          "saved vocabulary; only data.* keys (except data.vocab_size, data.lowercase, "
          "data.oov_token), train.batch_size and train.num_devices can")
    section, name = key.split(".", 1)
    plain[section][name] = value
  return config_validation.normalize(ml_collections.ConfigDict(plain))


def files_data_config(data: ml_collections.ConfigDict, files: Sequence[str]
                      ) -> ml_collections.ConfigDict:
  """`data` with its reading keys, reading every row of `files` into one split."""
  data = ml_collections.ConfigDict(data.to_dict())
  data.source = "files"
  data.train_files = tuple(files)
  data.test_files = data.validation_files = ()
  # Nothing is held out or filtered: untrained labels are counted, not hidden.
  data.validation_split = data.test_split = 0.0
  data.top_k_labels = data.min_examples_per_label = 0
  return data


def evaluate_workdir(workdir: str, overrides: Mapping[str, Any], *, split: str = "test",
                     weights: str = "results", files: Sequence[str] = ()) -> dict[str, Any]:
  """Evaluates a trained model on `files`, or on one split of the run's data.

  Args:
    workdir: the run's directory.
    overrides: `section.key` → value, applied to the run's config.json.
    split: "test", "validation" or "train" (without `files`).
    weights: which checkpoint to evaluate (`serving.WEIGHTS`).
    files: files to measure, every row; the run's data is then not read.

  Returns:
    The metrics of `metrics.summarize`, plus `split` ("files" for `files`),
    `files`, `weights`, `epoch`,
    `num_examples`, `dropped` (reason → rows), `num_dropped`, `label_names`
    and `data` (the data config used).

  Raises:
    errors.UserError: with a message naming the file or key.
  """
  if split not in SPLITS:
    raise errors.BadValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
  config = eval_config(serving.read_config(workdir), overrides)
  if files:
    config.data = files_data_config(config.data, files)
  classifier = serving.load_classifier(workdir, weights=weights)
  label_names = classifier.label_names
  splits = datasets.load_splits(config.data)
  read_split = "train" if files else split
  measured = getattr(splits, read_split)
  texts, labels, untrained = datasets.with_known_labels(measured.texts, measured.labels,
                                                        label_names)
  dropped = collections.Counter(splits.report["splits"][read_split]["dropped"])
  if untrained:
    dropped[LABEL_NOT_TRAINED] += untrained
  if not texts:
    raise errors.BadValueError(f"{measured_name(files, split)} has no row with a trained "
                               f"label (dropped: {dict(dropped)}); the model knows "
                               f"{label_names}")
  encoded = input_pipeline.encode(texts, labels, label_names, classifier.tokenizer,
                                  config.data)
  topology = steps.Topology.create(config.train.num_devices)
  config_validation.check_batch_divides(config.train.batch_size, topology.num_global_devices)
  p_eval_step = steps.pmapped_eval_step(classifier.model.apply, len(label_names),
                                       classifier.model.head, topology)
  metrics = steps.evaluate(p_eval_step, classifier.params, encoded, train.batch_spec(config),
                           topology, label_names)
  return {
      "split": "files" if files else split,
      "files": list(files),
      "weights": weights,
      "epoch": classifier.epoch,
      "num_examples": len(encoded),
      "num_dropped": sum(dropped.values()),
      "dropped": dict(dropped),
      **metrics,
      "label_names": label_names,
      "data": config_validation.to_plain(config.data.to_dict()),
  }


def measured_name(files: Sequence[str], split: str) -> str:
  """What was measured, for messages: the files, else the run's split."""
  return ", ".join(files) or f"the {split} split"


def summary(result: Mapping[str, Any]) -> str:
  """A readable account of `evaluate_workdir`'s result."""
  names = result["label_names"]
  width = max(len("class"), *map(len, names))
  lines = [
      f"{measured_name(result['files'], result['split'])}: {result['num_examples']} examples, "
      f"{result['num_dropped']} dropped; weights of epoch {result['epoch']} "
      f"({result['weights']})",
      f"loss: {result['loss']:.4f} - accuracy: {result['accuracy']:.4f} - "
      f"macro_f1: {result['macro_f1']:.4f}",
      "",
      f"{'class':<{width}}  precision  recall      f1  support",
  ]
  for name in names:
    c = result["per_class"][name]
    lines.append(f"{name:<{width}}  {c['precision']:9.4f}  {c['recall']:6.4f}  "
                 f"{c['f1']:6.4f}  {c['support']:7d}")
  if len(names) <= MAX_CONFUSION_PRINTED:
    lines += ["", "confusion matrix (rows: true, columns: predicted, in class order):"]
    lines += ["  " + " ".join(f"{n:6d}" for n in row) for row in result["confusion_matrix"]]
  return "\n".join(lines)


def dropped_warning(result: Mapping[str, Any]) -> str:
  reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(result["dropped"].items()))
  return (f"warning: {result['num_dropped']} rows of "
          f"{measured_name(result['files'], result['split'])} dropped ({reasons})")


def main(argv: Sequence[str]) -> None:
  console.use_serving_log_lines()
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  overrides = {name[len("config."):]: FLAGS[name].value for name in FLAGS
               if name.startswith("config.") and FLAGS[name].present}
  try:
    if FLAGS.files and FLAGS["split"].present:
      raise errors.BadValueError("--split chooses a split of the run's data; --files measures "
                                 "all rows of the files: pass one of them")
    result = evaluate_workdir(FLAGS.workdir, overrides, split=FLAGS.split,
                              weights=FLAGS.weights, files=FLAGS.files)
  except errors.UserError as e:
    errors.exit_with(e)
  if result["num_dropped"]:
    print(dropped_warning(result), file=sys.stderr)
  if FLAGS.output:
    workdir_lib.write_json_atomic(FLAGS.output, result)
  print(summary(result))


if __name__ == "__main__":
  define_flags()
  app.run(main)
