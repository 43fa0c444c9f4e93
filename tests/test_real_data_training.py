"""Short training runs on real corpora (slow: run with `pytest -m slow`)."""

import pytest

from configs import default
from configs import huffpost_headline41_glove
from lstm_jax.training import train

pytestmark = pytest.mark.slow


def one_device(config):
  """The test process shows 8 CPU devices (for the pmap tests); a real-size run
  on 8 of them over 2 cores can starve XLA's collective rendezvous, so these
  runs use one, as a plain CPU run does."""
  config.train.num_devices = 1
  return config


def test_mr_polarity_sentences_beat_the_majority_class_clearly(shared_data, tmp_path):
  folder = shared_data("sentiment_mr_polarity")
  config = one_device(default.get_config())
  config.data.format = "lines_per_label"
  config.data.encoding = "latin-1"
  config.data.train_files = (str(folder / "rt-polarity.pos"), str(folder / "rt-polarity.neg"))
  config.data.max_length = 40
  config.model.recurrent_layers = ({"units": 64},)
  config.embedding.dim = 64
  config.train.max_epochs = 3
  results = train.train_and_evaluate(config, tmp_path)
  # Balanced classes: the majority class scores 0.5.
  assert results["test_accuracy"] > 0.7
  assert results["num_train"] + results["num_val"] + results["num_test"] == 10662


def test_huffpost_headlines_with_glove_beat_the_majority_class(shared_data, tmp_path):
  folder = shared_data("news_huffpost_headlines")
  vectors = shared_data("glove_6b_50d/glove.6B.50d.top100k.txt.gz")
  config = one_device(huffpost_headline41_glove.get_config())
  config.data.source = "files"
  config.data.train_files = (str(folder / "huffpost.json"),)
  config.data.text_fields = ("raw",)
  config.data.label_field = "label"
  config.data.label_names_file = str(folder / "huffpost_label_names.json")
  config.embedding.path = str(vectors)
  config.embedding.dim = 50
  config.train.max_epochs = 2
  results = train.train_and_evaluate(config, tmp_path)
  assert len(results["label_names"]) == 41
  assert "POLITICS" in results["label_names"]
  # 41 balanced classes: the majority class scores about 1/41.
  assert results["test_accuracy"] > 0.2
  report = (tmp_path / "dataset_report.json").read_text()
  assert "glove_coverage" in report
