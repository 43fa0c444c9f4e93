r"""The same model trained in Keras 3 on the same data, for a side-by-side row.

  python -m lstm_jax.study.keras_reference --workdir=runs/sentiment_keras

Reads a finished run's config, vocabulary and classes, rebuilds exactly its
splits, trains the equivalent Keras model (`keras_compat.build_keras` of the
run's model; Adam or AdamW with the run's clipping and learning-rate
schedule, batch size, epochs, EarlyStopping and ReduceLROnPlateau as
configured, `keras_training`) with `model.fit`, evaluates the test split and
stores the figures under "keras" in the run's `baselines.json`. Keras runs on
its JAX backend; it is a test/reference dependency (requirements-test.txt).
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time
from typing import Any, Optional

import ml_collections
import numpy as np

from lstm_jax import errors
from lstm_jax import keras_compat
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.models import classifier as model_lib
from lstm_jax.models import heads
from lstm_jax.optim import optimizers
from lstm_jax.optim import plateau
from lstm_jax.optim import schedules
from lstm_jax.study import baselines
from lstm_jax.training import input_pipeline
from lstm_jax.training import metrics as metrics_lib


def train_keras(config: ml_collections.ConfigDict, data: input_pipeline.Dataset) -> dict[str, Any]:
  """Fits the Keras twin like the run was trained; returns its test figures."""
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(config.seed)
  ours = model_lib.from_config(config.model, config.embedding, data.vocab_size, len(data.label_names))
  model = keras_compat.build_keras(ours, input_length=config.data.max_length,
                                   embedding_matrix=data.embedding_matrix)
  steps_per_epoch = math.ceil(len(data.train) / config.train.batch_size)
  optimizer, callbacks = keras_training(config, steps_per_epoch)
  model.compile(optimizer=optimizer, loss=ours.head.keras_loss,
                metrics=["accuracy"])
  start = time.monotonic()
  history = model.fit(data.train.token_ids, data.train.labels,
                      batch_size=config.train.batch_size, epochs=config.train.max_epochs,
                      validation_data=(data.validation.token_ids, data.validation.labels),
                      callbacks=callbacks, verbose=2)
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


# Keras's names of the parameters `train.weight_decay_exclude` names, where they differ.
KERAS_VARIABLE_NAMES = {"embedding": "embeddings"}


def keras_training(config: ml_collections.ConfigDict, steps_per_epoch: int) -> tuple[Any, list]:
  """The Keras optimizer (with its learning-rate schedule) and callbacks
  (EarlyStopping, ReduceLROnPlateau) that train as the config says: each the
  registered Keras counterpart of the run's setting (`optim/schedules.py`,
  `optim/optimizers.py`, `optim/plateau.py`).

  Raises:
    errors.NoKerasEquivalentError: a setting has none, named in the message.
  """
  import keras  # pylint: disable=g-import-not-at-top
  train = config.train
  if config.embedding.learning_rate_scale != 1.0:
    raise errors.NoKerasEquivalentError(
        f"embedding.learning_rate_scale={config.embedding.learning_rate_scale}: Keras has no "
        "learning rate per layer, so there is no Keras twin of this run")
  optimizer = optimizers.keras_optimizer(
      train, schedules.keras_learning_rate(train, steps_per_epoch),
      excluded=[KERAS_VARIABLE_NAMES.get(name, name) for name in train.weight_decay_exclude])
  stopping = config.early_stopping
  callbacks = [keras.callbacks.EarlyStopping(
      monitor=stopping.monitor, mode=stopping.mode, patience=stopping.patience,
      min_delta=stopping.min_delta, restore_best_weights=stopping.restore_best)]
  if schedules.SCHEDULES.get(train.lr_schedule).lowered_on_plateau:
    callbacks.append(plateau.keras_callback(config.reduce_lr_on_plateau))
  return optimizer, callbacks


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
  try:
    config = serving.read_config(workdir)
    data = input_pipeline.load_dataset(config.data, config.embedding, workdir,
                                       seed=config.seed)
    figures = train_keras(config, data)
  except errors.UserError as e:
    errors.exit_with(e)
  baselines.write_baselines(workdir, {"keras": figures})
  print(json.dumps({"workdir": str(workdir), "keras": figures}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
