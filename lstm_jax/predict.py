r"""Classifies new texts with a trained model.

  python -m lstm_jax.predict --workdir=runs/sentiment_keras "a moving, well acted film"
  python -m lstm_jax.predict --workdir=runs/sentiment_keras --input=reviews.txt --json

Texts come from the command line or from `--input` (one text per line, `-` for
standard input; blank lines are skipped and counted). Each text gets the
predicted label with its probability and the `--top_k` most probable labels;
`--json` writes one JSON object per text instead. A text with none of the
training vocabulary's words still gets an answer, with a warning on stderr.
"""

import json
import pathlib
import sys
from typing import Sequence

from absl import app
from absl import flags

from lstm_jax import errors
from lstm_jax import serving
from lstm_jax.training import console

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags; defined only when run as a program, so that the
  module's functions import anywhere."""
  flags.DEFINE_string("workdir", None, "Workdir of a training run.", required=True)
  flags.DEFINE_string("input", None, "File with one text per line; - for stdin.")
  flags.DEFINE_bool("json", False, "Write JSON lines instead of text.")
  flags.DEFINE_integer("top_k", 3, "How many of the most probable labels to show.",
                       lower_bound=1)
  flags.DEFINE_enum(
      "weights", "best", serving.WEIGHTS,
      "best: the best epoch by the monitored metric; last: the newest checkpoint; results: "
      "the weights results.json reports test metrics for.")


def read_texts(path: str) -> tuple[list[str], int]:
  """The non-blank lines of a file (`-`: stdin) and how many were blank."""
  if path == "-":
    lines = sys.stdin.read().splitlines()
  else:
    try:
      lines = pathlib.Path(path).read_text("utf-8").splitlines()
    except FileNotFoundError:
      raise errors.MissingFileError(f"--input file {path} not found") from None
    except UnicodeDecodeError as e:
      raise errors.BadValueError(f"--input file {path} is not UTF-8 text: {e}") from None
  texts = [line for line in lines if line.strip()]
  return texts, len(lines) - len(texts)


def as_json(text: str, prediction: serving.Prediction) -> str:
  return json.dumps({
      "text": text,
      "label": prediction.label,
      "probability": prediction.probability,
      "top_k": [{"label": label, "probability": p} for label, p in prediction.top_k],
      "unknown_fraction": prediction.unknown_fraction,
  }, ensure_ascii=False)


def as_line(text: str, prediction: serving.Prediction) -> str:
  top = ", ".join(f"{label} {p:.4f}" for label, p in prediction.top_k)
  return (f"{prediction.label} {prediction.probability:.4f} | "
          f"top {len(prediction.top_k)}: {top} | {text}")


def unknown_warning(index: int, text: str) -> str:
  shown = text if len(text) <= 60 else text[:57] + "..."
  return (f"warning: text {index} has no word of the training vocabulary; its label only "
          f"reflects the model's answer to an empty text: {shown!r}")


def main(argv: Sequence[str]) -> None:
  console.use_serving_log_lines()
  texts = list(argv[1:])
  try:
    if FLAGS.input is not None:
      read, blank = read_texts(FLAGS.input)
      texts += read
      if blank:
        print(f"skipped {blank} blank lines of {FLAGS.input}", file=sys.stderr)
    if not texts:
      raise errors.BadValueError("no texts to classify: pass them as arguments or with --input")
    classifier = serving.load_classifier(FLAGS.workdir, weights=FLAGS.weights)
  except errors.UserError as e:
    errors.exit_with(e)
  predictions = classifier.predict(texts, top_k=FLAGS.top_k)
  for index, (text, prediction) in enumerate(zip(texts, predictions), start=1):
    if prediction.no_known_words:
      print(unknown_warning(index, text), file=sys.stderr)
    print(as_json(text, prediction) if FLAGS.json else as_line(text, prediction))


if __name__ == "__main__":
  define_flags()
  app.run(main)
