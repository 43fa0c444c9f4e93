r"""Exports a trained run as a plain Keras 3 model, with its vocabulary.

  python -m lstm_jax.export --workdir=runs/sentiment_keras --out=exported/sentiment

writes into `--out`:

  model.keras           the classifier (`keras_compat.to_keras`), for
                        `keras.saving.load_model` on any Keras 3 backend;
  keras_tokenizer.json  the vocabulary in Keras's `Tokenizer.to_json` format;
  labels.json           the class names, index = class id (as in the workdir);
  preprocessing.json    the `pad_sequences` arguments training used
                        (`maxlen`, `padding`, `truncating`).

In Keras (docs/KERAS.md has the whole example):

  tokenizer = tokenizer_from_json(open("keras_tokenizer.json").read())
  ids = keras.utils.pad_sequences(tokenizer.texts_to_sequences(texts), **preprocessing)
  keras.saving.load_model("model.keras").predict(ids)

gives the probabilities `python -m lstm_jax.predict --json` gives (for a
sigmoid output: the probability of the second label).
"""

import os
import pathlib
from typing import Sequence

from absl import app
from absl import flags

from lstm_jax import errors
from lstm_jax import keras_compat
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.text import tokenizer as tokenizer_lib
from lstm_jax.training import console

MODEL_FILE = "model.keras"
# Not the workdir's tokenizer.json: another format, for Keras's `tokenizer_from_json`.
TOKENIZER_FILE = "keras_tokenizer.json"
LABELS_FILE = workdir_lib.LABELS_FILE
PREPROCESSING_FILE = "preprocessing.json"
EXPORT_FILES = (MODEL_FILE, TOKENIZER_FILE, LABELS_FILE, PREPROCESSING_FILE)

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags; defined only when run as a program."""
  flags.DEFINE_string("workdir", None, "Workdir of a training run.", required=True)
  flags.DEFINE_string("out", None, "Directory to write the Keras files into.", required=True)
  flags.DEFINE_enum("weights", "best", serving.WEIGHTS,
                    "Which epoch's weights to export (as for lstm_jax.predict).")
  flags.DEFINE_bool("overwrite", False, "Replace export files already in --out.")


def _check_keras() -> None:
  try:
    keras_compat.import_keras()
  except ImportError as e:
    raise errors.MissingDependencyError(
        f"exporting needs Keras 3 ({e}); install it with `pip install keras`") from None


def export(workdir: os.PathLike, out: os.PathLike, *, weights: str = "best",
           overwrite: bool = False) -> dict[str, pathlib.Path]:
  """Writes the Keras files of a run's classifier into `out`.

  Args:
    workdir: the run's workdir (or a copy of its serving files).
    out: the directory to write into; created if missing.
    weights: "best", "last" or "results" (`serving.load_classifier`).
    overwrite: replace export files already in `out`.

  Returns:
    The path of each file written, by name (`EXPORT_FILES`).

  Raises:
    errors.UserError: the workdir cannot be served, Keras is missing, or `out`
      holds an earlier export and `overwrite` is off.
  """
  classifier = serving.load_classifier(workdir, weights=weights)
  _check_keras()
  out = pathlib.Path(out)
  existing = [name for name in EXPORT_FILES if (out / name).exists()]
  if existing and not overwrite:
    raise errors.BadValueError(f"{out} already holds {', '.join(existing)}; pass --overwrite "
                               "to replace them, or choose another --out")
  try:
    keras_model = keras_compat.to_keras(classifier.model, {"params": classifier.params})
  except ValueError as e:  # a model Keras has no layers for
    raise errors.BadValueError(f"{workdir}: cannot export this model to Keras: {e}") from None
  paths = {name: out / name for name in EXPORT_FILES}
  try:
    out.mkdir(parents=True, exist_ok=True)
    # Keras insists on the .keras suffix; written aside, then renamed into place.
    partial = out / f".partial.{MODEL_FILE}"
    keras_model.save(partial)
    os.replace(partial, paths[MODEL_FILE])
  except OSError as e:
    raise errors.WriteError(f"cannot write {paths[MODEL_FILE]}: {e}") from None
  workdir_lib.write_text_atomic(paths[TOKENIZER_FILE], classifier.tokenizer.to_keras_json())
  workdir_lib.write_json_atomic(paths[LABELS_FILE], classifier.label_names)
  workdir_lib.write_json_atomic(paths[PREPROCESSING_FILE], {
      "maxlen": classifier.max_length, "padding": classifier.padding,
      "truncating": classifier.truncating})
  return paths


def load_export(directory: os.PathLike, *, batch_size: int = 256) -> serving.Classifier:
  """Serves the Keras files of an export directory (`EXPORT_FILES`), as written
  here or by hand for a model made in Keras: `model.keras` imported with
  `keras_compat.from_keras`, the vocabulary of `keras_tokenizer.json`, the
  classes of `labels.json` and the padding of `preprocessing.json`.

  Raises:
    errors.UserError: a file is missing or unusable (named), or Keras is missing.
  """
  directory = pathlib.Path(directory)
  missing = [name for name in EXPORT_FILES if not (directory / name).is_file()]
  if missing:
    raise errors.MissingFileError(
        f"{directory} lacks {', '.join(missing)}: an export directory holds "
        f"{', '.join(EXPORT_FILES)} (python -m lstm_jax.export writes them)")
  _check_keras()
  tokenizer_path = directory / TOKENIZER_FILE
  tokenizer = tokenizer_lib.Tokenizer.from_keras_json(
      tokenizer_path.read_text(encoding="utf-8"), source=str(tokenizer_path))
  labels = serving.read_labels(directory)
  preprocessing = workdir_lib.read_json(directory / PREPROCESSING_FILE)
  if not isinstance(preprocessing, dict) or not {"maxlen", "padding",
                                                 "truncating"} <= preprocessing.keys():
    raise errors.BadValueError(f"{directory / PREPROCESSING_FILE} must hold maxlen, padding "
                               "and truncating (the pad_sequences arguments)")
  _check_preprocessing(directory / PREPROCESSING_FILE, preprocessing)
  try:
    model, variables = keras_compat.from_keras(directory / MODEL_FILE)
    return serving.from_model(model, variables, batch_size=batch_size, label_names=labels,
                              tokenizer=tokenizer, max_length=preprocessing["maxlen"],
                              padding=preprocessing["padding"],
                              truncating=preprocessing["truncating"])
  except ValueError as e:
    raise errors.BadValueError(f"{directory / MODEL_FILE}: {e}") from None


def _check_preprocessing(path: pathlib.Path, preprocessing: dict) -> None:
  """`pad_sequences`'s arguments as `export` writes them, or a `BadValueError` naming one."""
  for key in ("padding", "truncating"):
    if preprocessing[key] not in tokenizer_lib.PADDING_SIDES:
      raise errors.BadValueError(
          f"{path}: {key} must be one of {', '.join(tokenizer_lib.PADDING_SIDES)}, "
          f"got {preprocessing[key]!r}")
  maxlen = preprocessing["maxlen"]
  if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int)
                             or maxlen < 1):
    raise errors.BadValueError(f"{path}: maxlen must be a positive integer or null (the "
                               f"longest text), got {maxlen!r}")


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  console.use_serving_log_lines()
  try:
    paths = export(FLAGS.workdir, FLAGS.out, weights=FLAGS.weights, overwrite=FLAGS.overwrite)
  except errors.UserError as e:
    errors.exit_with(e)
  for path in paths.values():
    print(f"wrote {path}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
