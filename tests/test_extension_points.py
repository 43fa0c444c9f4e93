"""Each extension point is one registry: an entry added in one place is accepted
by the config, read or run, named in the errors and listed in the docs."""

import pathlib
import re

import pytest

from configs import default
from lstm_jax import datasets
from lstm_jax import registry
from lstm_jax.config import validation as cv
from lstm_jax.datasets import formats
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError

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


@pytest.fixture
def label_lines():
  with formats.FORMATS.temporarily("label_lines", LABEL_LINES):
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


def test_formats_sharing_a_key_share_its_definition(label_lines):
  other = formats.Option("separator", ",", str, "another separator")
  with formats.FORMATS.temporarily("commas", formats.Format(LABEL_LINES.read, options=(other,))):
    with pytest.raises(ValueError, match=r"'commas' defines data.separator again"):
      formats.options()


def _generated(text: str) -> dict[str, str]:
  """The docs' generated blocks by the function that makes them."""
  return dict(re.findall(r"<!-- generated: (\S+) -->\n(.*?)<!-- end generated -->", text,
                         re.DOTALL))


@pytest.mark.parametrize("function, make", [
    ("lstm_jax.datasets.formats.markdown_tables()", formats.markdown_tables),
])
def test_the_docs_tables_are_the_registries(function, make):
  blocks = _generated((DOCS / "USAGE.md").read_text("utf-8"))
  assert blocks.get(function) == make(), (
      f"docs/USAGE.md's table of {function} is out of date; paste its output there")
