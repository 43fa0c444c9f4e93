r"""Shows what a trained classifier does with a text, token by token.

  python -m lstm_jax.inspect --workdir=runs/sentiment_keras "a moving, well acted film" \
    --out=film.png
  python -m lstm_jax.inspect --keras_dir=exported/sentiment --input=reviews.txt --json

For each text: one figure (`--out`; with several texts FILE_1.png, FILE_2.png,
...) with the prediction as it forms (the model on each prefix of the text),
the gates of a recurrent layer after each token (their mean over units and a
heat map of the units that vary most) and each token's contribution to the
prediction (integrated gradients on the embeddings); with `--json`, one JSON
object per text with the same numbers (docs/INSPECT.md). Texts are encoded
exactly as `python -m lstm_jax.predict` encodes them.

The model is a finished run's workdir (`--workdir`) or an export directory of
Keras files (`--keras_dir`: model.keras, keras_tokenizer.json, labels.json,
preprocessing.json, as `python -m lstm_jax.export` writes them).
"""

import json
import pathlib
import sys
from typing import Sequence

from absl import app
from absl import flags

from lstm_jax import errors
from lstm_jax import export
from lstm_jax import predict
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.explain import figure as figure_lib
from lstm_jax.explain import inspection
from lstm_jax.training import console

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags; defined only when run as a program."""
  flags.DEFINE_string("workdir", None, "Workdir of a finished training run.")
  flags.DEFINE_string("keras_dir", None, "Directory of exported Keras files, instead of "
                      "--workdir.")
  flags.DEFINE_string("input", None, "File with one text per line; - for stdin.")
  flags.DEFINE_string("out", None, "PNG file for the figure (FILE_N.png for text N when "
                      "there are several).")
  flags.DEFINE_bool("json", False, "Write one JSON object per text to stdout.")
  flags.DEFINE_enum("weights", "best", serving.WEIGHTS, "Which epoch's weights (as for "
                    "lstm_jax.predict); `last` also reads an unfinished run.")
  flags.DEFINE_string("layer", None, "Recurrent layer whose gates are shown (lstm_0, "
                      "gru_0/backward, ...); default the first.")
  flags.DEFINE_string("target", None, "Class the attributions explain; default each text's "
                      "predicted class.")
  flags.DEFINE_integer("steps", inspection.ATTRIBUTION_STEPS, "Intervals of the integrated "
                       "gradients' path integral.", lower_bound=1)
  flags.DEFINE_integer("units", figure_lib.UNITS, "Units in each heat map.", lower_bound=1)
  flags.DEFINE_list("heat_maps", None, "Gates and states drawn as heat maps, e.g. "
                    "forget,input,output,cell_state; default all of the layer's.")


def load(workdir: str | None, keras_dir: str | None, weights: str) -> serving.Classifier:
  """The classifier of a finished workdir or of an export directory."""
  if (workdir is None) == (keras_dir is None):
    raise errors.BadValueError("pass exactly one of --workdir and --keras_dir")
  if keras_dir is not None:
    return export.load_export(keras_dir)
  results = pathlib.Path(workdir) / workdir_lib.RESULTS_FILE
  if weights != "last" and pathlib.Path(workdir).is_dir() and not results.exists():
    epochs = serving.saved_epochs(workdir)
    raise errors.BadValueError(
        f"{workdir} holds an unfinished run ({workdir_lib.RESULTS_FILE} is not written yet; "
        f"checkpoints of epochs {epochs}): inspect it when it has finished, or pass "
        "--weights=last to inspect its newest checkpoint")
  return serving.load_classifier(workdir, weights=weights)


def figure_paths(out: str, count: int) -> list[pathlib.Path]:
  """`out` for one text; out_1.png, out_2.png, ... for several."""
  path = pathlib.Path(out)
  if count == 1:
    return [path]
  return [path.with_name(f"{path.stem}_{i}{path.suffix}") for i in range(1, count + 1)]


def main(argv: Sequence[str]) -> None:
  console.use_serving_log_lines()
  texts = list(argv[1:])
  try:
    if FLAGS.input is not None:
      texts += predict.read_texts(FLAGS.input)[0]
    if not texts:
      raise errors.BadValueError("no texts to inspect: pass them as arguments or with --input")
    if FLAGS.out is None and not FLAGS.json:
      raise errors.BadValueError("nothing to write: pass --out=FILE.png for the figure, "
                                 "--json for the numbers, or both")
    if FLAGS.out is not None and pathlib.Path(FLAGS.out).suffix.lower() != ".png":
      raise errors.BadValueError(f"--out must name a .png file, got {FLAGS.out}")
    classifier = load(FLAGS.workdir, FLAGS.keras_dir, FLAGS.weights)
    inspections = inspection.inspect(classifier, texts, target=FLAGS.target,
                                     steps=FLAGS.steps)
    for item in inspections:
      item.layer(FLAGS.layer)  # an unknown layer is named before anything is written
    if FLAGS.out is not None:
      for item, path in zip(inspections, figure_paths(FLAGS.out, len(inspections))):
        figure = figure_lib.inspection_figure(item, layer=FLAGS.layer, units=FLAGS.units,
                                              heat_maps=FLAGS.heat_maps)
        try:
          path.parent.mkdir(parents=True, exist_ok=True)
          figure.savefig(path, dpi=110)
        except OSError as e:
          raise errors.WriteError(e.errno, f"cannot write {path}: {e.strerror}") from e
        print(f"wrote {path}", file=sys.stderr)
  except errors.UserError as e:
    errors.exit_with(e)
  if FLAGS.json:
    for item in inspections:
      print(json.dumps(item.to_json(FLAGS.layer), ensure_ascii=False))


if __name__ == "__main__":
  define_flags()
  app.run(main)
