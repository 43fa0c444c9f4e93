"""The cells comparison's configs: valid, and each the study's config of its task with
another cell (and, for the clipping pair, clipping) the only difference."""

import pathlib
import runpy

import pytest

from lstm_jax.config import validation as config_validation
from lstm_jax.models import classifier as model_lib

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"
CELLS = sorted((CONFIGS / "cells").glob("*.py"))
# Each task's study config, with the study's LSTM.
STUDY_CONFIG = {"letters_authors": "letters_authors_keras", "huffpost_both": "huffpost_both_keras",
                "imdb": "sentiment_keras"}
CLIPPING_PAIR = ("letters_authors_simple_rnn_relu_clipped",
                 "letters_authors_simple_rnn_relu_unclipped")


def _config(path):
  return runpy.run_path(str(path))["get_config"]()


def _plain(config):
  return config_validation.to_plain(config.to_dict())


def test_three_cells_on_three_tasks_and_the_clipping_pair():
  assert [p.stem for p in CELLS] == sorted(
      [f"{task}_{cell}" for task in STUDY_CONFIG for cell in ("gru", "lstm", "simple_rnn")]
      + list(CLIPPING_PAIR))


@pytest.mark.parametrize("path", CELLS, ids=lambda p: p.stem)
def test_a_cells_config_is_valid_and_named_by_its_file(path, tmp_path):
  config = _config(path)
  assert config.name == path.stem
  train = tmp_path / "train.csv"
  train.write_text("text,label\na b,x\nc d,y\n")
  config.data.source, config.data.format = "files", "csv"
  config.data.train_files, config.data.label_field = (str(train),), "label"
  config.data.top_k_labels = 0
  config_validation.validate(config_validation.normalize(config))


@pytest.mark.parametrize("path", CELLS, ids=lambda p: p.stem)
def test_a_cells_config_is_its_tasks_study_config_with_another_cell(path):
  config = _plain(_config(path))
  task = next(t for t in STUDY_CONFIG if path.stem.startswith(t))
  study = _plain(_config(CONFIGS / f"{STUDY_CONFIG[task]}.py"))
  differs = {f"{section}.{key}" for section, values in config.items() if isinstance(values, dict)
             for key, value in values.items() if study[section][key] != value}
  expected = {"model.recurrent_layers"} | (
      {"train.clip_mode"} if path.stem.endswith("_unclipped") else set())
  assert differs == expected
  [layer] = config["model"]["recurrent_layers"]
  spec = model_lib.recurrent_layer(layer)
  assert spec.units == 128
  assert spec.cell.name == path.stem.removeprefix(f"{task}_").split("_relu")[0]


def test_the_clipping_pair_differs_only_in_clipping():
  clipped, unclipped = (_plain(_config(CONFIGS / "cells" / f"{name}.py"))
                        for name in CLIPPING_PAIR)
  assert unclipped["train"]["clip_mode"] == "none"
  assert clipped["train"]["clip_mode"] == "global_norm"
  assert unclipped["model"]["recurrent_layers"][0]["activation"] == "relu"
  clipped["train"]["clip_mode"] = "none"
  clipped["name"] = unclipped["name"]
  assert clipped == unclipped
