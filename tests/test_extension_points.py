"""Each extension point is one registry: an entry added in one place is accepted
by the config, read or run, named in the errors and listed in the docs."""

import pathlib
import re

import optax
import pytest

from configs import default
from lstm_jax import datasets
from lstm_jax import registry
from lstm_jax.config import validation as cv
from lstm_jax.datasets import formats
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError
from lstm_jax.optim import optimizers
from lstm_jax.optim import schedules
from lstm_jax.training import run_records
from lstm_jax.training import train
from test_train import tiny_config

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"

# A format of `label<separator>text` lines, with a key of its own.
SEPARATOR = formats.Option("separator", "|", str, "what separates the label from the text")


def _read_label_lines(path, options, parse):
  separator = SEPARATOR.of(options)
  for line_no, line in enumerate(readers.lines(path, options.encoding), 1):
    label, _, text = line.rstrip("\n").partition(separator)
    if example := parse([text], label, f"{path}:{line_no}"):
      yield example


LABEL_LINES = formats.Format(_read_label_lines, extensions=(".lab",), options=(SEPARATOR,),
                             meaning="`label|text` lines")


# A schedule: the rate, a tenth of it from the run's second half on.
def _halved(learning_rate, total_steps):
  return optax.piecewise_constant_schedule(learning_rate, {total_steps // 2: 0.1})


STEP_DOWN = schedules.Schedule(_halved, meaning="the rate, then a tenth of it")


@pytest.fixture
def label_lines():
  with formats.FORMATS.temporarily("label_lines", LABEL_LINES):
    yield


@pytest.fixture
def step_down():
  with schedules.SCHEDULES.temporarily("step_down", STEP_DOWN):
    yield


def _config(tmp_path, **data):
  """The default config over one training file (made after any registration, so
  that it holds a new format's keys)."""
  config = default.get_config()
  path = tmp_path / "train.lab"
  path.write_text("pos|a good film\nneg;a bad film\n" * 10, "utf-8")
  config.data.train_files = (str(path),)
  config.data.tfds_data_dir = str(tmp_path / "tfds")
  for key, value in data.items():
    config.data[key] = value
  return config


def test_a_registered_format_is_accepted_by_the_config_and_read_with_its_own_key(
    label_lines, tmp_path):
  config = _config(tmp_path, separator=";")  # `auto` knows the format by its extension
  cv.validate(config)
  splits = datasets.load_splits(config.data)
  assert set(splits.train.labels) == {"neg"}
  # `pos|a good film` has no `;`: all of it is the label, and the text is empty.
  assert splits.report["splits"]["train"]["dropped"] == {readers.EMPTY_TEXT: 10}
  config.data.format, config.data.separator = "label_lines", "|"
  cv.validate(config)
  assert set(datasets.load_splits(config.data).train.labels) == {"pos"}


def test_an_unknown_format_is_refused_naming_every_registered_one(label_lines, tmp_path):
  with pytest.raises(cv.ConfigError, match=r"data.format='xml' is not one of auto, jsonl, csv, "
                                           r"tsv, lines_per_label, label_lines"):
    cv.validate(_config(tmp_path, format="xml"))
  with pytest.raises(DataError, match=r"a\.xml: cannot tell the format from the extension "
                                      r"'\.xml'; set data.format to one of .*, label_lines"):
    formats.format_name(str(tmp_path / "a.xml"), "auto")


def test_a_format_that_is_not_registered_is_never_read_as_another(tmp_path):
  path = tmp_path / "a.tsv"
  path.write_text("text\tlabel\ngood\tpos\n", "utf-8")
  with pytest.raises(registry.UnknownEntryError,
                     match=r"data.format='xml': unknown data format; registered: jsonl"):
    formats.read_file(str(path), readers.ReadOptions(format="xml"), readers.Tally())


def test_a_list_valued_key_of_a_registered_format_takes_a_comma_separated_string(tmp_path):
  tags = formats.Option("tags", (), tuple, "labels to keep")
  with formats.FORMATS.temporarily("tagged", formats.Format(LABEL_LINES.read, options=(tags,))):
    config = _config(tmp_path, tags="pos,neg")  # as a command line gives it
    assert cv.normalize(config).data.tags == ("pos", "neg")


def test_formats_sharing_a_key_share_its_definition(label_lines):
  other = formats.Option("separator", ",", str, "another separator")
  with formats.FORMATS.temporarily("commas", formats.Format(LABEL_LINES.read, options=(other,))):
    with pytest.raises(ValueError, match=r"'commas' defines data.separator again"):
      formats.options()


def test_a_registered_schedule_is_accepted_and_trains(step_down, tmp_path):
  config = tiny_config(tmp_path, **{"train.lr_schedule": "step_down", "train.max_epochs": 2,
                                    "early_stopping.patience": 5, "train.verbose": 0})
  train.train_and_evaluate(config, tmp_path / "workdir")
  rates = [r["learning_rate"] for r in run_records.read_history(tmp_path / "workdir")]
  assert rates == pytest.approx([0.02, 0.002])


def test_an_unknown_schedule_is_refused_naming_every_registered_one(step_down, tmp_path):
  config = _config(tmp_path, format="csv")
  config.train.lr_schedule = "step"
  with pytest.raises(cv.ConfigError, match=r"train.lr_schedule='step': accepted values are "
                                           r"constant, cosine, linear, reduce_on_plateau, step_down"):
    cv.validate(config)


def test_a_key_the_new_schedule_does_not_read_is_refused(step_down, tmp_path):
  config = _config(tmp_path, format="csv")
  config.train.lr_schedule, config.train.warmup_steps = "step_down", 10
  with pytest.raises(cv.ConfigError, match=r"train.warmup_steps=10 .* is not read by "
                                           r"train.lr_schedule='step_down'"):
    cv.validate(config)


def _generated(text: str) -> dict[str, str]:
  """The docs' generated blocks by the function that makes them."""
  return dict(re.findall(r"<!-- generated: (\S+) -->\n(.*?)<!-- end generated -->", text,
                         re.DOTALL))


@pytest.mark.parametrize("function, make", [
    ("lstm_jax.datasets.formats.markdown_tables()", formats.markdown_tables),
    ("lstm_jax.optim.optimizers.markdown_table()", optimizers.markdown_table),
    ("lstm_jax.optim.schedules.markdown_table()", schedules.markdown_table),
])
def test_the_docs_tables_are_the_registries(function, make):
  blocks = _generated((DOCS / "USAGE.md").read_text("utf-8"))
  assert blocks.get(function) == make(), (
      f"docs/USAGE.md's table of {function} is out of date; paste its output there")
