"""The `data.*` config keys: defaults, parsing and checks.

Every key, its default and meaning:

| key | default | meaning |
|---|---|---|
| `source` | `'files'` | `imdb` (aclImdb archive), `huffpost` (Kaggle News Category JSON, manual download), `letters` (your letter collection), `files` (any CSV / TSV / JSON-lines files) |
| `train_files` | `()` | training files (`letters`, `files`); a list or a comma-separated string |
| `test_files` | `()` | test files; none: `test_split` of the training files is held out |
| `validation_files` | `()` | validation files (`letters`, `files`), as Keras `fit(validation_data=)`; none: `validation_split` of the training files is held out |
| `text_fields` | `('text',)` | field(s) holding the text, several joined with a space; for `huffpost` any of `headline`, `short_description` |
| `label_field` | `'label'` | field holding the label (`letters`: e.g. the sender or language field) |
| `encoding` | `'utf-8'` | any ASCII-compatible codec name, e.g. `latin-1`, `cp1252` |
| `format` | `'auto'` | `auto` (from the extension, `.gz` ignored), `jsonl`, `csv`, `tsv`, `lines_per_label` (one text per line, one file per label) |
| `columns` | `()` | column names of a CSV / TSV file without a header row |
| `quoting` | `'csv'` | CSV / TSV quoting: `csv` (`"` quotes a field, which may then hold delimiters and newlines; `""` is a quote inside it) or `none` (quotes are plain text, one row per line) |
| `file_labels` | `()` | `lines_per_label`: `name=label` items mapping a file's base name to its label; default: the file's suffix (`rt-polarity.pos` → `pos`), or its stem for `.txt` (`de.txt` → `de`) |
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

Labels stay strings; label whitespace is stripped, case is kept.
"""

import codecs
import dataclasses
import os
import pathlib
from typing import Any, Mapping

import ml_collections

from lstm_jax.datasets.errors import DataError
from lstm_jax.datasets.readers import QUOTINGS

SOURCES = ("imdb", "huffpost", "letters", "files")
FORMATS = ("auto", "jsonl", "csv", "tsv", "lines_per_label")
VALIDATION_MODES = ("stratified", "last")
HUFFPOST_VERSIONS = ("v3", "v2")
HUFFPOST_TEXT_FIELDS = ("headline", "short_description")
TFDS_DIR_ENV = "LSTM_JAX_TFDS_DIR"

DEFAULTS: Mapping[str, Any] = {
    "source": "files",
    "train_files": (),
    "test_files": (),
    "validation_files": (),
    "text_fields": ("text",),
    "label_field": "label",
    "encoding": "utf-8",
    "format": "auto",
    "columns": (),
    "quoting": "csv",
    "file_labels": (),
    "label_names_file": "",
    "label_separator": "",
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

def _as_tuple(key: str, value: Any) -> tuple[str, ...]:
  """A list, tuple or comma-separated string → tuple of non-empty strings."""
  if value is None:
    return ()
  if isinstance(value, str):
    value = value.split(",")
  if not isinstance(value, (list, tuple)):
    raise DataError(f"data.{key} must be a list or a comma-separated string, "
                    f"got {value!r}")
  return tuple(str(v).strip() for v in value if str(v).strip())


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
  if value not in allowed:
    raise DataError(f"data.{key}={value!r} is not one of {', '.join(allowed)}")
  return value


def _fraction(key: str, value: Any) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
      0.0 <= value < 1.0):
    raise DataError(f"data.{key}={value!r} must be a number in [0, 1)")
  return float(value)


def _count(key: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < 0:
    raise DataError(f"data.{key}={value!r} must be an integer >= 0")
  return value


def _existing(key: str, path: str) -> str:
  if not pathlib.Path(path).expanduser().is_file():
    raise DataError(f"data.{key}: file not found: {path}")
  return str(pathlib.Path(path).expanduser())


@dataclasses.dataclass(frozen=True)
class DataOptions:
  """The checked `data.*` config; field meanings in the module docstring."""
  source: str
  train_files: tuple[str, ...]
  test_files: tuple[str, ...]
  validation_files: tuple[str, ...]
  text_fields: tuple[str, ...]
  label_field: str
  encoding: str
  format: str
  columns: tuple[str, ...]
  quoting: str
  file_labels: tuple[tuple[str, str], ...]
  label_names_file: str
  label_separator: str
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
      return data.get(key, DEFAULTS[key])

    source = _choice("source", get("source"), SOURCES)
    encoding = str(get("encoding"))
    try:
      codecs.lookup(encoding)
    except LookupError:
      raise DataError(f"data.encoding={encoding!r} is not a known codec name "
                      "(e.g. utf-8, latin-1, cp1252)") from None
    if "\n".encode(encoding) != b"\n":
      raise DataError(f"data.encoding={encoding!r}: only ASCII-compatible "
                      "encodings are read (e.g. utf-8, latin-1, cp1252)")
    train_files = _as_tuple("train_files", get("train_files"))
    test_files = _as_tuple("test_files", get("test_files"))
    if source in ("letters", "files") and not train_files:
      raise DataError(f"data.train_files is empty: data.source={source!r} "
                      "reads the training rows from these files")
    validation_files = _as_tuple("validation_files", get("validation_files"))
    if validation_files and source not in ("letters", "files"):
      raise DataError(f"data.validation_files: data.source={source!r} holds out "
                      "data.validation_split instead; validation files go with "
                      "data.source='files' or 'letters'")
    train_files = tuple(_existing("train_files", p) for p in train_files)
    test_files = tuple(_existing("test_files", p) for p in test_files)
    validation_files = tuple(_existing("validation_files", p)
                             for p in validation_files)
    text_fields = _as_tuple("text_fields", get("text_fields"))
    if not text_fields:
      raise DataError("data.text_fields is empty: name the field(s) with the "
                      "text")
    if source == "huffpost" and not set(text_fields) <= set(
        HUFFPOST_TEXT_FIELDS):
      raise DataError(f"data.text_fields={','.join(text_fields)!r}: for "
                      f"huffpost use {' and/or '.join(HUFFPOST_TEXT_FIELDS)}")
    file_labels = []
    for item in _as_tuple("file_labels", get("file_labels")):
      name, sep, label = item.partition("=")
      if not sep or not name.strip() or not label.strip():
        raise DataError(f"data.file_labels item {item!r} must be name=label")
      file_labels.append((name.strip(), label.strip()))
    label_names_file = str(get("label_names_file") or "")
    if label_names_file:
      label_names_file = _existing("label_names_file", label_names_file)
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
        text_fields=text_fields,
        label_field=str(get("label_field")),
        encoding=encoding,
        format=_choice("format", get("format"), FORMATS),
        columns=_as_tuple("columns", get("columns")),
        quoting=_choice("quoting", get("quoting"), QUOTINGS),
        file_labels=tuple(file_labels),
        label_names_file=label_names_file,
        label_separator=str(get("label_separator") or ""),
        validation_split=_fraction("validation_split", get("validation_split")),
        validation_mode=_choice("validation_mode", get("validation_mode"),
                                VALIDATION_MODES),
        test_split=_fraction("test_split", get("test_split")),
        seed=_count("seed", get("seed")),
        top_k_labels=_count("top_k_labels", get("top_k_labels")),
        min_examples_per_label=_count("min_examples_per_label",
                                      get("min_examples_per_label")),
        huffpost_version=_choice("huffpost_version", get("huffpost_version"),
                                 HUFFPOST_VERSIONS),
        tfds_data_dir=tfds_data_dir,
        manual_dir=str(pathlib.Path(manual_dir).expanduser()),
        download=bool(get("download")),
    )
