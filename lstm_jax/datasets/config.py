"""The `data.*` config keys: defaults, parsing and checks.

Every key, its default and meaning:

| key | default | meaning |
|---|---|---|
| `source` | `'files'` | `imdb` (aclImdb archive), `huffpost` (Kaggle News Category JSON, manual download), `letters` (your letter collection), `files` (files of any `format`) |
| `train_files` | `()` | training files (`letters`, `files`); a list or a comma-separated string |
| `test_files` | `()` | test files; none: `test_split` of the training files is held out |
| `validation_files` | `()` | validation files (`letters`, `files`), as Keras `fit(validation_data=)`; none: `validation_split` of the training files is held out |
| `text_fields` | `('text',)` | field(s) holding the text, several joined with a space; for `huffpost` any of `headline`, `short_description` |
| `label_field` | `'label'` | field holding the label (`letters`: e.g. the sender or language field) |
| `encoding` | `'utf-8'` | any ASCII-compatible codec name, e.g. `latin-1`, `cp1252` |
| `format` | `'auto'` | a format of `formats.FORMATS`, or `auto`: each file's from its extension (`.gz` ignored) |
| `label_names_file` | `''` | optional JSON object mapping label ids to names, e.g. `{"0": "POLITICS"}` |
| `label_separator` | `''` | splits a label into several values (e.g. `;` for letters with several senders); a row with several is dropped |
| `validation_split` | `0.1` | fraction of the training rows held out for validation |
| `validation_mode` | `'stratified'` | `stratified` (per label, seeded) or `last` (the last fraction, unshuffled, like Keras `fit(validation_split=)`) |
| `test_split` | `0.1` | fraction of the training rows held out (stratified, seeded) as test when the source has no test split |
| `seed` | `0` | seed of the held-out draws |
| `top_k_labels` | `0` | keep only the k most frequent training labels (0: all) |
| `min_examples_per_label` | `0` | drop labels with fewer training rows (0: keep all) |
| `huffpost_version` | `'v3'` | `v3` (42 categories, `News_Category_Dataset_v3.json`) or `v2` (41, `News_Category_Dataset_v2.json`) |
| `tfds_data_dir` | `''` | where prepared data goes; empty: `$LSTM_JAX_TFDS_DIR`, else `~/tensorflow_datasets` |
| `manual_dir` | `''` | manually downloaded files; empty: `<tfds_data_dir>/downloads/manual` |
| `download` | `True` | allow downloading (`imdb`); False: the archive must be in `manual_dir` |

The formats, and the keys each reads for itself (such as CSV's `columns` and
`quoting`), are entries of `formats.py`; docs/USAGE.md lists them. The reading
keys are checked by `formats.read_options`, the others here.

Labels stay strings; label whitespace is stripped, case is kept.
"""

import dataclasses
import os
import pathlib
from typing import Any, Mapping

import ml_collections

from lstm_jax.datasets import formats
from lstm_jax.datasets import keys
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError

SOURCES = ("imdb", "huffpost", "letters", "files")
VALIDATION_MODES = ("stratified", "last")
HUFFPOST_VERSIONS = ("v3", "v2")
HUFFPOST_TEXT_FIELDS = ("headline", "short_description")
TFDS_DIR_ENV = "LSTM_JAX_TFDS_DIR"

# The keys of the source and its splits; the reading keys are `formats.read_defaults()`.
SOURCE_DEFAULTS: Mapping[str, Any] = {
    "source": "files",
    "train_files": (),
    "test_files": (),
    "validation_files": (),
    "validation_split": 0.1,
    "validation_mode": "stratified",
    "test_split": 0.1,
    "seed": 0,
    "top_k_labels": 0,
    "min_examples_per_label": 0,
    "huffpost_version": "v3",
    "tfds_data_dir": "",
    "manual_dir": "",
    "download": True,
}


def defaults() -> dict[str, Any]:
  """Every `data.*` key of this package at its default."""
  return {**SOURCE_DEFAULTS, **formats.read_defaults()}


@dataclasses.dataclass(frozen=True)
class DataOptions:
  """The checked `data.*` config; field meanings in the module docstring, the
  reading keys in `read` (`formats.read_options`)."""
  source: str
  train_files: tuple[str, ...]
  test_files: tuple[str, ...]
  validation_files: tuple[str, ...]
  read: readers.ReadOptions
  validation_split: float
  validation_mode: str
  test_split: float
  seed: int
  top_k_labels: int
  min_examples_per_label: int
  huffpost_version: str
  tfds_data_dir: str
  manual_dir: str
  download: bool

  @classmethod
  def from_config(cls, data: ml_collections.ConfigDict | Mapping[str, Any]
                 ) -> "DataOptions":
    """Reads and checks the keys of this module; other keys are ignored.

    Raises:
      DataError: naming the key, the value and what is accepted.
    """
    def get(key: str) -> Any:
      return data.get(key, SOURCE_DEFAULTS[key])

    source = keys.choice("source", get("source"), SOURCES)
    read = formats.read_options(data)
    train_files = keys.as_tuple("train_files", get("train_files"))
    test_files = keys.as_tuple("test_files", get("test_files"))
    if source in ("letters", "files") and not train_files:
      raise DataError(f"data.train_files is empty: data.source={source!r} "
                      "reads the training rows from these files")
    validation_files = keys.as_tuple("validation_files", get("validation_files"))
    if validation_files and source not in ("letters", "files"):
      raise DataError(f"data.validation_files: data.source={source!r} holds out "
                      "data.validation_split instead; validation files go with "
                      "data.source='files' or 'letters'")
    train_files = tuple(keys.existing("train_files", p) for p in train_files)
    test_files = tuple(keys.existing("test_files", p) for p in test_files)
    validation_files = tuple(keys.existing("validation_files", p)
                             for p in validation_files)
    if source == "huffpost" and not set(read.text_fields) <= set(
        HUFFPOST_TEXT_FIELDS):
      raise DataError(f"data.text_fields={','.join(read.text_fields)!r}: for "
                      f"huffpost use {' and/or '.join(HUFFPOST_TEXT_FIELDS)}")
    tfds_data_dir = str(get("tfds_data_dir") or os.environ.get(
        TFDS_DIR_ENV, "") or pathlib.Path("~/tensorflow_datasets"))
    tfds_data_dir = str(pathlib.Path(tfds_data_dir).expanduser())
    manual_dir = str(get("manual_dir") or pathlib.Path(
        tfds_data_dir, "downloads", "manual"))
    return cls(
        source=source,
        train_files=train_files,
        test_files=test_files,
        validation_files=validation_files,
        read=read,
        validation_split=keys.fraction("validation_split", get("validation_split")),
        validation_mode=keys.choice("validation_mode", get("validation_mode"),
                                    VALIDATION_MODES),
        test_split=keys.fraction("test_split", get("test_split")),
        seed=keys.count("seed", get("seed")),
        top_k_labels=keys.count("top_k_labels", get("top_k_labels")),
        min_examples_per_label=keys.count("min_examples_per_label",
                                          get("min_examples_per_label")),
        huffpost_version=keys.choice("huffpost_version", get("huffpost_version"),
                                     HUFFPOST_VERSIONS),
        tfds_data_dir=tfds_data_dir,
        manual_dir=str(pathlib.Path(manual_dir).expanduser()),
        download=bool(get("download")),
    )
