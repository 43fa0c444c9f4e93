"""The strong configurations: valid, and one recipe whose tasks differ only in their data."""

import pathlib
import runpy

import pytest

from lstm_jax.config import validation as config_validation
from lstm_jax.study import experiments

STRONG = sorted((pathlib.Path(__file__).resolve().parents[1] / "configs" / "strong").glob("*.py"))
TASKS = ("huffpost_both", "huffpost_headline", "huffpost_headline41", "imdb", "letters_authors",
         "letters_languages", "mr")


def _config(path):
  return runpy.run_path(str(path))["get_config"]()


def test_every_task_of_the_study_and_mr_has_a_strong_config():
  assert tuple(p.stem for p in STRONG) == TASKS


@pytest.mark.parametrize("path", STRONG, ids=lambda p: p.stem)
def test_a_strong_config_is_valid(path, tmp_path):
  config = _config(path)
  # Local stand-ins for the task's corpus and GloVe file.
  train = tmp_path / "train.csv"
  train.write_text("text,label\na b,x\nc d,y\n")
  glove = tmp_path / "glove.txt"
  glove.write_text("a " + " ".join(["0.1"] * config.embedding.dim) + "\n")
  config.data.source, config.data.format = "files", "csv"
  config.data.train_files, config.data.label_field = (str(train),), "label"
  config.data.top_k_labels = 0
  config.embedding.path = str(glove)
  config_validation.validate(config)


@pytest.mark.parametrize("path", STRONG, ids=lambda p: p.stem)
def test_a_strong_config_is_the_recipe_with_its_data_keys(path):
  config = config_validation.to_plain(_config(path).to_dict())
  recipe = config_validation.to_plain(experiments.strong(
      config["name"], max_length=config["data"]["max_length"],
      max_epochs=config["train"]["max_epochs"]).to_dict())
  differs = {f"{section}.{key}" for section, values in config.items() if isinstance(values, dict)
             for key, value in values.items() if recipe[section][key] != value}
  assert {key.split(".")[0] for key in differs} <= {"data"}, differs


def test_a_misspelt_data_key_of_a_strong_config_is_named():
  config = experiments.strong("typo", max_length=32, max_epochs=1, lable_field="sender")
  with pytest.raises(config_validation.ConfigError, match=r"data\.lable_field: unknown key"):
    config_validation.validate(config)


def test_a_tasks_data_keys_override_the_recipes():
  config = experiments.strong("short", max_length=64, max_epochs=1, bucket_lengths=(64,),
                              label_field="sender")
  assert (config.data.bucket_lengths, config.data.label_field) == ((64,), "sender")
