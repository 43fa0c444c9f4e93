r"""The same model trained in Keras 3 on the same data, for a side-by-side row.

  python -m lstm_jax.study.keras_reference --workdir=runs/sentiment_keras

Reads a finished run's config, vocabulary and classes, rebuilds exactly its
splits, trains the equivalent Keras model (`keras_compat.build_keras` of the
run's model; Adam with the run's clipping; batch size, epochs and
EarlyStopping as configured) with `model.fit`, evaluates the test split and
stores the figures under "keras" in the run's `baselines.json`. Keras runs on
its JAX backend; it is a test/reference dependency (requirements-test.txt).
"""

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Any, Optional

import ml_collections
import numpy as np

from lstm_jax import heads
from lstm_jax import input_pipeline
from lstm_jax import keras_compat
from lstm_jax import metrics as metrics_lib
from lstm_jax import model as model_lib
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.study import baselines

CLIP_ARGUMENT = {"global_norm": "global_clipnorm", "per_variable_norm": "clipnorm",
                 "value": "clipvalue"}


def train_keras(config: ml_collections.ConfigDict, data: input_pipeline.Dataset) -> dict[str, Any]:
  """Fits the Keras twin like the run was trained; returns its test figures."""
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(config.seed)
  ours = model_lib.from_config(config, data.vocab_size, len(data.label_names))
  model = keras_compat.build_keras(ours, input_length=config.data.max_length,
                                   embedding_matrix=data.embedding_matrix)
  clip = {}
  if config.train.clip_mode in CLIP_ARGUMENT:
    clip = {CLIP_ARGUMENT[config.train.clip_mode]: config.train.clip_norm}
  model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate, **clip),
                loss=keras_compat.KERAS_LOSSES[ours.output], metrics=["accuracy"])
  stopper = keras.callbacks.EarlyStopping(
      monitor=config.early_stopping.monitor, patience=config.early_stopping.patience,
      min_delta=config.early_stopping.min_delta,
      restore_best_weights=config.early_stopping.restore_best)
  start = time.monotonic()
  history = model.fit(data.train.token_ids, data.train.labels,
                      batch_size=config.train.batch_size, epochs=config.train.max_epochs,
                      validation_data=(data.validation.token_ids, data.validation.labels),
                      callbacks=[stopper], verbose=2)
  train_seconds = time.monotonic() - start
  probabilities = model.predict(data.test.token_ids, batch_size=256, verbose=0)
  test = metrics_lib.summarize(_sums(probabilities, data.test.labels, ours.head,
                                     len(data.label_names)),
                               data.label_names)
  val_losses = history.history["val_loss"]
  return {
      "test_accuracy": test["accuracy"],
      "test_macro_f1": test["macro_f1"],
      "test_loss": test["loss"],
      "epochs_run": len(val_losses),
      "best_epoch": int(np.argmin(val_losses)) + 1,
      "train_seconds": train_seconds,
      "keras_version": keras.__version__,
      "backend": keras.backend.backend(),
  }


def _sums(probabilities: np.ndarray, labels: np.ndarray, head: heads.Head,
          num_classes: int) -> dict[str, np.ndarray]:
  """Metric sums from Keras's probabilities, clipped as its loss clips them."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  logits = head.logits_of(jnp.asarray(probabilities))
  sums = metrics_lib.batch_metrics(logits, jnp.asarray(labels),
                                   jnp.ones(len(labels), jnp.float32), num_classes, head=head)
  return {k: np.asarray(v) for k, v in sums.items()}


def main(argv: Optional[list[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True, help="a finished lstm_jax run")
  parser.add_argument("--force", action="store_true", help="retrain even if measured")
  args = parser.parse_args(argv)
  os.environ.setdefault("KERAS_BACKEND", "jax")
  workdir = pathlib.Path(args.workdir)
  config_path = workdir / workdir_lib.CONFIG_FILE
  if not config_path.is_file():
    print(f"error: {config_path} not found: --workdir must be an lstm_jax run",
          file=sys.stderr)
    return 2
  existing = workdir / workdir_lib.BASELINES_FILE
  if not args.force and existing.is_file() and "keras" in workdir_lib.read_json(existing):
    print(f"{workdir}: Keras reference already measured (--force to redo)")
    return 0
  try:
    import keras  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    print("error: Keras is not installed: pip install -r requirements-test.txt",
          file=sys.stderr)
    return 2
  config = serving.read_config(workdir)
  data = input_pipeline.load_dataset(config, workdir)
  figures = train_keras(config, data)
  baselines.write_baselines(workdir, {"keras": figures})
  print(json.dumps({"workdir": str(workdir), "keras": figures}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
