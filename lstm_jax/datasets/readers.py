"""Readers: JSON lines, CSV, TSV and one-file-per-label text, plain or gzip.

Every row read is either yielded as an `Example` or counted in a `Tally` under
the reason it was dropped. Bad input that cannot be a row (a binary file, a
malformed JSON line, undecodable bytes, a missing column, a CSV quote that
swallows the lines after it) raises `DataError` naming the file, the line and
the fix. Blank lines
of JSON-lines / CSV / TSV files are not rows; in `lines_per_label` files every
line is a row.
"""

import collections
import csv
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

QUOTINGS = ("csv", "none")  # `data.quoting` of CSV / TSV files.
FIRST_DROPPED = 5  # Rows named per drop reason.
_SNIFF_BYTES = 8192  # read first for NUL bytes, the mark of a binary file

_EXTENSION_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
                      ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}


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
  """How to turn a file's rows into examples (see `config.py` for the keys)."""
  format: str = "auto"
  encoding: str = "utf-8"
  text_fields: tuple[str, ...] = ("text",)
  label_field: str = "label"
  columns: tuple[str, ...] = ()
  quoting: str = "csv"
  label_separator: str = ""
  label_names: tuple[tuple[str, str], ...] = ()
  file_labels: tuple[tuple[str, str], ...] = ()


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


def _strip_gz(path: str) -> pathlib.PurePath:
  p = pathlib.PurePath(path)
  return p.with_suffix("") if p.suffix == ".gz" else p


def file_format(path: str, format_: str) -> str:
  """The format of `path`: `format_` unless `auto`, then from the extension."""
  if format_ != "auto":
    return format_
  suffix = _strip_gz(path).suffix.lower()
  if suffix not in _EXTENSION_FORMATS:
    raise DataError(f"{path}: cannot tell the format from the extension "
                    f"{suffix!r}; set data.format to jsonl, csv, tsv or "
                    "lines_per_label")
  return _EXTENSION_FORMATS[suffix]


def file_label(path: str, file_labels: Mapping[str, str]) -> str:
  """The label of a `lines_per_label` file: mapped by name, else its suffix.

  `rt-polarity.pos` → `pos`; `de.txt` → `de` (a `.txt` suffix names no label).
  """
  name = pathlib.PurePath(path).name
  if name in file_labels:
    return file_labels[name]
  p = _strip_gz(path)
  if p.suffix and p.suffix.lower() != ".txt":
    return p.suffix[1:]
  return p.stem


def _lines(path: str, encoding: str) -> Iterator[str]:
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
          "in any data.encoding; save it as CSV, TSV or JSON lines in UTF-8")


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


def _read_jsonl(path: str, options: ReadOptions, parse: RowParser
                ) -> Iterator[Example]:
  fields = (*options.text_fields, options.label_field)
  seen: set[str] = set()
  for line_no, line in enumerate(_lines(path, options.encoding), 1):
    if not line.strip():
      continue
    try:
      row = json.loads(line, strict=False)  # strict=False: raw tabs in strings.
    except json.JSONDecodeError as e:
      raise DataError(f"{path}: line {line_no}: malformed JSON ({e.msg} at "
                      f"column {e.colno}); each line must be one JSON object"
                      ) from None
    if not isinstance(row, dict):
      raise DataError(f"{path}: line {line_no}: expected a JSON object, got "
                      f"{type(row).__name__}")
    seen.update(row)
    example = parse([row.get(f) for f in options.text_fields],
                    row.get(options.label_field), f"{path}:{line_no}")
    if example:
      yield example
  missing = [f for f in fields if f not in seen]
  if missing and seen:
    raise DataError(_missing_columns_message(path, missing, sorted(seen)))


def _missing_columns_message(path: str, missing: list[str],
                             found: list[str]) -> str:
  return (f"{path}: no field {', '.join(map(repr, missing))}; fields found: "
          f"{', '.join(map(repr, found))}. Set data.text_fields / "
          "data.label_field (or data.columns for a file without a header row)")


class _RecordedLines:
  """The lines a `csv.reader` pulls, kept until `take()` so that a record's
  physical lines can be checked."""

  def __init__(self, lines: Iterator[str]):
    self._lines = lines
    self._taken: list[str] = []

  def __iter__(self) -> "_RecordedLines":
    return self

  def __next__(self) -> str:
    line = next(self._lines)
    self._taken.append(line)
    return line

  def take(self) -> list[str]:
    taken, self._taken = self._taken, []
    return taken


def _check_multiline_record(path: str, first_line: int, lines: list[str],
                            record: list[str], num_columns: int,
                            dialect: dict[str, Any]) -> None:
  """Refuses a record whose quoted field ran over several lines by mistake.

  A quoted field may hold newlines; but one that reaches the end of the file,
  leaves the record with the wrong number of columns, or swallows lines that
  are complete rows on their own is a stray quote that would hide those rows.
  """
  last_line = first_line + len(lines) - 1
  where = f"{path}: line {first_line}"
  fix = ("close the quote, write a quote inside a quoted field as \"\", or set "
         "data.quoting=none if quotes in this file are plain text")
  try:
    list(csv.reader(lines, strict=True, **dialect))
  except csv.Error as e:
    if "unexpected end of data" in str(e):
      raise DataError(f"{where}: a quote opened here is never closed: the "
                      f"{len(lines) - 1} lines to the end of the file would "
                      f"become part of one field; {fix}") from None
  if len(record) != num_columns:
    raise DataError(f"{where}: a quoted field runs on to line {last_line} and "
                    f"the row has {len(record)} columns instead of "
                    f"{num_columns}; {fix}")
  if all(len(next(csv.reader([line], **dialect), [])) == num_columns
         for line in lines):
    raise DataError(f"{where}: a quote opened here swallows lines "
                    f"{first_line + 1}-{last_line}, which are rows of "
                    f"{num_columns} columns on their own; {fix}")


def _read_delimited(path: str, delimiter: str, options: ReadOptions,
                    parse: RowParser) -> Iterator[Example]:
  dialect = {"delimiter": delimiter}
  if options.quoting == "none":
    dialect["quoting"] = csv.QUOTE_NONE
  lines = _RecordedLines(_lines(path, options.encoding))
  reader = csv.reader(lines, **dialect)
  try:
    header = list(options.columns) or next(reader, None)
    if header is None:
      return
    header = [h.strip() for h in header]
    fields = (*options.text_fields, options.label_field)
    missing = [f for f in fields if f not in header]
    if missing:
      raise DataError(_missing_columns_message(path, missing, header))
    text_at = [header.index(f) for f in options.text_fields]
    label_at = header.index(options.label_field)
    lines.take()
    for record in reader:
      raw = lines.take()
      first_line = reader.line_num - len(raw) + 1
      if not record:
        continue
      if len(raw) > 1:
        _check_multiline_record(path, first_line, raw, record, len(header),
                                dialect)
      row_id = f"{path}:{first_line}"
      if len(record) != len(header):
        parse.skip(WRONG_FIELD_COUNT, row_id)
        continue
      example = parse([record[i] for i in text_at], record[label_at], row_id)
      if example:
        yield example
  except csv.Error as e:
    raise DataError(f"{path}: line {reader.line_num}: {e}; check "
                    "data.format (csv or tsv) and the file's quoting") from None


def _read_lines_per_label(path: str, options: ReadOptions, parse: RowParser
                          ) -> Iterator[Example]:
  label = file_label(path, dict(options.file_labels))
  for line_no, line in enumerate(_lines(path, options.encoding), 1):
    example = parse([line.rstrip("\n").rstrip("\r")], label,
                    f"{path}:{line_no}")
    if example:
      yield example


def read_file(path: str, options: ReadOptions, tally: Tally
              ) -> Iterator[Example]:
  """Yields the usable examples of one file, counting every row in `tally`.

  Args:
    path: a `.jsonl` / `.json` / `.csv` / `.tsv` / one-label-per-file text file,
      optionally `.gz`.
    options: format, encoding, fields and label rules.
    tally: updated in place: rows read and rows dropped by reason.

  Raises:
    DataError: a row that cannot be parsed, undecodable bytes, missing columns.
  """
  parse = RowParser(options, tally)
  fmt = file_format(path, options.format)
  if fmt == "jsonl":
    return _read_jsonl(path, options, parse)
  if fmt == "lines_per_label":
    return _read_lines_per_label(path, options, parse)
  return _read_delimited(path, "," if fmt == "csv" else "\t", options, parse)
