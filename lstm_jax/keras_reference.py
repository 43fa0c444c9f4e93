r"""The same model trained in Keras 3 on the same data, for a side-by-side row.

  python -m lstm_jax.keras_reference --workdir=runs/sentiment_keras

Reads a finished run's config, vocabulary and classes, rebuilds exactly its
splits, trains the equivalent Keras model (Embedding → LSTM stack → Dropout →
Dense(softmax); Adam with the run's clipping; batch size, epochs and
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

from lstm_jax import baselines
from lstm_jax import input_pipeline
from lstm_jax import metrics as metrics_lib
from lstm_jax import reporting
from lstm_jax import workdir as workdir_lib

CLIP_ARGUMENT = {"global_norm": "global_clipnorm", "per_variable_norm": "clipnorm",
                 "value": "clipvalue"}


def build_keras_model(config: ml_collections.ConfigDict, vocab_size: int, num_classes: int,
                      embedding_matrix: Optional[np.ndarray]):
  """The Keras twin of `LSTMClassifier` for `config` (uncompiled)."""
  import keras  # pylint: disable=g-import-not-at-top
  layers = keras.layers
  inputs = keras.Input((config.data.max_length,), dtype="int32")
  initializer = ("uniform" if embedding_matrix is None
                 else keras.initializers.Constant(embedding_matrix))
  x = layers.Embedding(vocab_size, config.embedding.dim, mask_zero=config.model.mask_zero,
                       embeddings_initializer=initializer,
                       trainable=config.embedding.trainable)(inputs)
  for i in range(config.model.num_layers):
    lstm = layers.LSTM(config.model.units, return_sequences=i < config.model.num_layers - 1,
                       dropout=config.model.lstm_dropout,
                       recurrent_dropout=config.model.recurrent_dropout)
    x = (layers.Bidirectional(lstm) if config.model.bidirectional else lstm)(x)
  if config.model.dropout:
    x = layers.Dropout(config.model.dropout)(x)
  outputs = layers.Dense(num_classes, activation="softmax")(x)
  return keras.Model(inputs, outputs)


def train_keras(config: ml_collections.ConfigDict, data: input_pipeline.Dataset) -> dict[str, Any]:
  """Fits the Keras twin like the run was trained; returns its test figures."""
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(config.seed)
  model = build_keras_model(config, data.vocab_size, len(data.label_names),
                            data.embedding_matrix)
  clip = {}
  if config.train.clip_mode in CLIP_ARGUMENT:
    clip = {CLIP_ARGUMENT[config.train.clip_mode]: config.train.clip_norm}
  model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate, **clip),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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
  test = metrics_lib.summarize(_sums(probabilities, data.test.labels), data.label_names)
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


def _sums(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
  """Metric sums from Keras's probabilities (log taken, as its loss does)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  logits = jnp.log(jnp.clip(probabilities, 1e-7, 1.0))
  sums = metrics_lib.batch_metrics(logits, jnp.asarray(labels),
                                   jnp.ones(len(labels), jnp.float32), probabilities.shape[1])
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
  if not args.force and existing.is_file() and "keras" in reporting.read_json(existing):
    print(f"{workdir}: Keras reference already measured (--force to redo)")
    return 0
  try:
    import keras  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    print("error: Keras is not installed: pip install -r requirements-test.txt",
          file=sys.stderr)
    return 2
  config = ml_collections.ConfigDict(reporting.read_json(config_path))
  data = input_pipeline.load_dataset(config, workdir)
  figures = train_keras(config, data)
  baselines.write_baselines(workdir, {"keras": figures})
  print(json.dumps({"workdir": str(workdir), "keras": figures}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
