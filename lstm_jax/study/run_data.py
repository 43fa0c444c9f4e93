"""A finished run's model and data, as the study's tools read them back.

`load` gives a run's trained classifier (the weights its test metrics are
for), the same model freshly initialised as its training started, and its
data, re-read and encoded exactly as training did (the run's config, its saved
vocabulary and class names).
"""

import dataclasses
import os
import pathlib
from typing import Any

import ml_collections

from lstm_jax import serving
from lstm_jax.training import input_pipeline
from lstm_jax.training import train

# The cells in the order and colours the study's figures and tables give them.
CELL_ORDER = ("simple_rnn", "gru", "lstm")
CELL_COLOURS = {"simple_rnn": "tab:red", "gru": "tab:blue", "lstm": "tab:green"}


@dataclasses.dataclass(frozen=True)
class RunData:
  """A run read back (see the module docstring).

  Attributes:
    run_dir: the workdir.
    config: its config.json.
    classifier: the trained classifier, `results` weights.
    initial_params: the parameters training started from (seeded as it was).
    data: the run's splits, encoded as training encoded them.
  """
  run_dir: pathlib.Path
  config: ml_collections.ConfigDict
  classifier: serving.Classifier
  initial_params: Any
  data: input_pipeline.Dataset

  @property
  def cell(self) -> str:
    """The first recurrent layer's cell, with its options ("simple_rnn (activation=relu)")."""
    cell = self.classifier.model.recurrent[0].cell
    options = ", ".join(f"{k}={v}" for k, v in cell.options().items())
    return f"{cell.name} ({options})" if options else cell.name


def load(run_dir: os.PathLike) -> RunData:
  """Reads a finished run (see the module docstring); `UserError`s name the file."""
  run_dir = pathlib.Path(run_dir)
  config = serving.read_config(run_dir)
  classifier = serving.load_classifier(run_dir, weights="results")
  data = input_pipeline.load_dataset(config.data, config.embedding, run_dir,
                                     seed=config.seed, write=False)
  initial = train.create_train_state(classifier.model, config.train, config.data.max_length,
                                     data.embedding_matrix, seed=config.seed,
                                     steps_per_epoch=1).params
  return RunData(run_dir, config, classifier, initial, data)
