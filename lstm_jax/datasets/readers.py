"""Rows → examples: what every format's reader shares.

A format (`formats.py`) turns a file into rows; each row goes through a
`RowParser`, which yields an `Example` or counts the row in a `Tally` under the
reason it was dropped. Bad input that cannot be a row (a binary file, a
malformed JSON line, undecodable bytes, a missing column, a CSV quote that
swallows the lines after it) raises `DataError` naming the file, the line and
the fix.
"""

import collections
import dataclasses
import gzip
import json
import pathlib
import zlib
from typing import Any, Iterator, Mapping

from lstm_jax.datasets.errors import DataError

# Reasons a row is dropped (keys of `Tally.dropped`, shown in the report).
EMPTY_TEXT = "empty text"
TEXT_NOT_STRING = "text is not a string"
INVALID_UNICODE = "invalid unicode (lone surrogate)"
MISSING_LABEL = "missing label"
SEVERAL_LABELS = "several labels"
LABEL_NOT_STRING = "label is not a string or number"
LABEL_NOT_NAMED = "label not in label_names_file"
WRONG_FIELD_COUNT = "wrong number of columns"

FIRST_DROPPED = 5  # Rows named per drop reason.
_SNIFF_BYTES = 8192  # read first for NUL bytes, the mark of a binary file

@dataclasses.dataclass(frozen=True)
class Example:
  """One usable row: non-blank `text`, one `label`, `id` = `file:line`."""
  text: str
  label: str
  id: str


@dataclasses.dataclass
class Tally:
  """Rows read, rows dropped by reason (rows kept = read - dropped), and the
  ids (`file:line`) of the first `FIRST_DROPPED` rows of each reason."""
  read: int = 0
  dropped: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  first_dropped: dict[str, list[str]] = dataclasses.field(default_factory=dict)

  def drop(self, reason: str, row_id: str = "") -> None:
    """Counts a dropped row; `row_id` is empty for drops of a whole label."""
    self.dropped[reason] += 1
    if row_id:
      first = self.first_dropped.setdefault(reason, [])
      if len(first) < FIRST_DROPPED:
        first.append(row_id)


@dataclasses.dataclass(frozen=True)
class ReadOptions:
  """How to turn a file's rows into examples: the reading keys of `data.*`
  (`formats.read_options` makes it from a config).

  Attributes:
    format: a name of `formats.FORMATS`, or "auto" (from the file's extension).
    encoding: the files' codec.
    text_fields: the field(s) holding the text, joined with a space.
    label_field: the field holding the label.
    label_separator: splits a label into several values.
    label_names: (label id, name) pairs of `data.label_names_file`.
    format_options: (key, value) of the keys the formats define for themselves
      (`formats.Option`); a key left out has its default.
  """
  format: str = "auto"
  encoding: str = "utf-8"
  text_fields: tuple[str, ...] = ("text",)
  label_field: str = "label"
  label_separator: str = ""
  label_names: tuple[tuple[str, str], ...] = ()
  format_options: tuple[tuple[str, Any], ...] = ()

  def fingerprint(self) -> dict[str, Any]:
    """Every option by key, the formats' own beside the others: what a prepared
    copy of the files depends on."""
    options = dataclasses.asdict(self)
    del options["format_options"]
    return {**options, **dict(self.format_options)}


def load_label_names(path: str) -> tuple[tuple[str, str], ...]:
  """Reads a JSON object mapping label ids to names."""
  try:
    names = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
  except (OSError, ValueError) as e:
    raise DataError(f"data.label_names_file {path}: cannot read a JSON object "
                    f"({e})") from None
  if not isinstance(names, dict):
    raise DataError(f"data.label_names_file {path}: expected a JSON object "
                    'mapping label ids to names, e.g. {"0": "POLITICS"}')
  return tuple((str(k).strip(), str(v).strip()) for k, v in names.items())


def strip_gz(path: str) -> pathlib.PurePath:
  p = pathlib.PurePath(path)
  return p.with_suffix("") if p.suffix == ".gz" else p


def lines(path: str, encoding: str) -> Iterator[str]:
  """Yields the decoded lines of a plain or gzip file, newline kept.

  Lines are split on b'\\n' only (the encoding is ASCII-compatible), so the
  line number and byte offset of undecodable bytes can be named.
  """
  opener = gzip.open if path.endswith(".gz") else open
  offset = 0
  line_no = 0
  try:
    with opener(path, "rb") as f:
      if b"\0" in f.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]:
        raise DataError(_binary_message(path, "its first bytes"))
      for line_no, raw in enumerate(f, 1):
        if b"\0" in raw:
          raise DataError(_binary_message(path, f"line {line_no}"))
        try:
          line = raw.decode(encoding)
        except UnicodeDecodeError as e:
          raise DataError(
              f"{path}: line {line_no} (byte offset {offset + e.start}"
              f"{' of the decompressed text' if opener is gzip.open else ''}) "
              f"is not valid {encoding}: {e.reason}; set data.encoding to the "
              "file's encoding (e.g. latin-1 or cp1252)") from None
        if line_no == 1 and line.startswith("\ufeff"):
          line = line[1:]  # A byte-order mark is not text.
        offset += len(raw)
        yield line
  except FileNotFoundError:
    raise DataError(f"file not found: {path}") from None
  except (gzip.BadGzipFile, EOFError, zlib.error) as e:
    raise DataError(f"{path}: broken gzip file after line {line_no} ({e}); "
                    "download or compress it again") from None


def _binary_message(path: str, where: str) -> str:
  # Text in the encodings this reads never holds a NUL byte; binary files do.
  return (f"{path}: {where} hold NUL bytes: this is a binary file (a spreadsheet, an "
          "archive, a compressed file not named .gz, ...) or UTF-16 text, not a text file "
          "in any data.encoding; save it as text of a data.format, in UTF-8")


def _value_text(value: Any) -> str | None:
  """A text field's value as a string; None if it is not text-like."""
  if value is None:
    return ""
  if isinstance(value, str):
    return value
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    return str(value)
  return None


class RowParser:
  """Turns one row's raw values into an `Example` or a counted drop."""

  def __init__(self, options: ReadOptions, tally: Tally):
    self._options = options
    self._names = dict(options.label_names)
    self._tally = tally

  def __call__(self, texts: list[Any], label: Any, row_id: str
               ) -> Example | None:
    """Counts the row as read; returns its example, or None if dropped."""
    self._tally.read += 1
    reason, text, value = self._parse(texts, label)
    if reason:
      self._tally.drop(reason, row_id)
      return None
    return Example(text=text, label=value, id=row_id)

  def _parse(self, texts: list[Any], label: Any) -> tuple[str, str, str]:
    """Returns (drop reason or '', text, label)."""
    parts = [_value_text(t) for t in texts]
    if any(p is None for p in parts):
      return TEXT_NOT_STRING, "", ""
    text = " ".join(parts)
    if not text.strip():
      return EMPTY_TEXT, "", ""
    values = self._label_values(label)
    if values is None:
      return LABEL_NOT_STRING, "", ""
    if not values:
      return MISSING_LABEL, "", ""
    if len(values) > 1:
      return SEVERAL_LABELS, "", ""
    (value,) = values
    if self._names:
      if value not in self._names:
        return LABEL_NOT_NAMED, "", ""
      value = self._names[value]
    try:
      text.encode("utf-8")
      value.encode("utf-8")
    except UnicodeEncodeError:
      return INVALID_UNICODE, "", ""
    return "", text, value

  def skip(self, reason: str, row_id: str) -> None:
    """Counts a row that could not be parsed into fields as read and dropped."""
    self._tally.read += 1
    self._tally.drop(reason, row_id)

  def _label_values(self, label: Any) -> list[str] | None:
    """The label's non-empty values, stripped; None if not label-like."""
    items = label if isinstance(label, list) else [label]
    values = [_value_text(v) for v in items]
    if any(v is None for v in values):
      return None
    if self._options.label_separator:
      values = [p for v in values for p in v.split(self._options.label_separator)]
    return [v.strip() for v in values if v.strip()]
