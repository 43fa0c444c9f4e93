"""Data formats: each format of a local data file is one entry of `FORMATS`.

An entry (`Format`) is the format's reader, the file extensions that
`data.format=auto` knows it by, and the `data.*` keys the format reads beyond
the ones every format shares (`Option`: default, check, meaning). The rest is
derived from the registry: `read_file`, the extension table, the values
`data.format` accepts and the errors that list them, the schema's format keys
(`read_defaults`) and the docs' tables (`markdown_tables`, copied into
docs/USAGE.md and held equal to it by a test). An unregistered format is never
read as another one: `read_file` refuses it by name.

Adding a format is one entry here, a reader and its `FORMATS.register` call
(and its tests and the docs' row):

  def _read_xml(path: str, options: ReadOptions, parse: RowParser) -> Iterator[Example]:
    for row_id, texts, label in ...:  # each row of the file
      if example := parse(texts, label, row_id):
        yield example

  FORMATS.register("xml", Format(_read_xml, extensions=(".xml",), meaning="..."))

Every row read is either yielded as an `Example` or counted in the `Tally`
under the reason it was dropped (`readers.RowParser`). Blank lines of JSON-lines
/ CSV / TSV files are not rows; in `lines_per_label` files every line is a row.
"""

import codecs
import csv
import dataclasses
import functools
import json
import pathlib
from typing import Any, Callable, Iterator, Mapping

from lstm_jax import registry
from lstm_jax.datasets import keys
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError
from lstm_jax.datasets.readers import Example, ReadOptions, RowParser

AUTO = "auto"  # `data.format`: each file's format from its extension.
QUOTINGS = ("csv", "none")  # `data.quoting` of CSV / TSV files.


@dataclasses.dataclass(frozen=True)
class Option:
  """A `data.*` key that formats read for themselves.

  Attributes:
    key: its name under `data.`.
    default: its value when the config leaves it out.
    parse: the config's value → the checked value; raises `DataError` naming
      `data.<key>` and what is accepted.
    meaning: one line for the docs' table.
  """
  key: str
  default: Any
  parse: Callable[[Any], Any]
  meaning: str

  def of(self, options: ReadOptions) -> Any:
    """This key's value in `options`."""
    return dict(options.format_options).get(self.key, self.default)


Reader = Callable[[str, ReadOptions, RowParser], Iterator[Example]]


@dataclasses.dataclass(frozen=True)
class Format:
  """How to read one format.

  Attributes:
    read: (path, options, parse) → the file's examples; every row goes
      through `parse`, which yields it or counts it as dropped.
    extensions: what `data.format=auto` knows a file of this format by (a
      `.gz` after it is ignored); none: the format is only chosen by name.
    options: the keys it reads beyond those of `ReadOptions`.
    meaning: one line for the docs' table.
  """
  read: Reader
  extensions: tuple[str, ...] = ()
  options: tuple[Option, ...] = ()
  meaning: str = ""


FORMATS: registry.Registry[Format] = registry.Registry("data format", key="data.format")


def _file_labels(value: Any) -> tuple[tuple[str, str], ...]:
  pairs = []
  for item in keys.as_tuple("file_labels", value):
    name, sep, label = item.partition("=")
    if not sep or not name.strip() or not label.strip():
      raise DataError(f"data.file_labels item {item!r} must be name=label")
    pairs.append((name.strip(), label.strip()))
  return tuple(pairs)


COLUMNS = Option("columns", (), functools.partial(keys.as_tuple, "columns"),
                 "column names of a CSV / TSV file without a header row")
QUOTING = Option(
    "quoting", "csv", lambda value: keys.choice("quoting", value, QUOTINGS),
    "CSV / TSV quoting: `csv` (`\"` quotes a field, which may then hold delimiters "
    "and newlines; `\"\"` is a quote inside it) or `none` (quotes are plain text, "
    "one row per line)")
FILE_LABELS = Option(
    "file_labels", (), _file_labels,
    "`lines_per_label`: `name=label` items mapping a file's base name to its label; "
    "default: the file's suffix (`rt-polarity.pos` → `pos`), or its stem for `.txt` "
    "(`de.txt` → `de`)")


def _read_jsonl(path: str, options: ReadOptions, parse: RowParser
                ) -> Iterator[Example]:
  fields = (*options.text_fields, options.label_field)
  seen: set[str] = set()
  for line_no, line in enumerate(readers.lines(path, options.encoding), 1):
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


def _missing_columns_message(path: str, missing: list[str], found: list[str],
                             hint: str = "") -> str:
  """`hint`: what else a format could set (e.g. the columns of a headerless file)."""
  return (f"{path}: no field {', '.join(map(repr, missing))}; fields found: "
          f"{', '.join(map(repr, found))}. Set data.text_fields / data.label_field{hint}")


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


def _read_delimited(path: str, options: ReadOptions, parse: RowParser, *,
                    delimiter: str) -> Iterator[Example]:
  dialect = {"delimiter": delimiter}
  if QUOTING.of(options) == "none":
    dialect["quoting"] = csv.QUOTE_NONE
  lines = _RecordedLines(readers.lines(path, options.encoding))
  reader = csv.reader(lines, **dialect)
  try:
    header = list(COLUMNS.of(options)) or next(reader, None)
    if header is None:
      return
    header = [h.strip() for h in header]
    fields = (*options.text_fields, options.label_field)
    missing = [f for f in fields if f not in header]
    if missing:
      raise DataError(_missing_columns_message(
          path, missing, header, hint=" (or data.columns for a file without a header row)"))
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
        parse.skip(readers.WRONG_FIELD_COUNT, row_id)
        continue
      example = parse([record[i] for i in text_at], record[label_at], row_id)
      if example:
        yield example
  except csv.Error as e:
    raise DataError(f"{path}: line {reader.line_num}: {e}; check "
                    "data.format (csv or tsv) and the file's quoting") from None


def file_label(path: str, file_labels: Mapping[str, str]) -> str:
  """The label of a `lines_per_label` file: mapped by name, else its suffix.

  `rt-polarity.pos` → `pos`; `de.txt` → `de` (a `.txt` suffix names no label).
  """
  name = pathlib.PurePath(path).name
  if name in file_labels:
    return file_labels[name]
  p = readers.strip_gz(path)
  if p.suffix and p.suffix.lower() != ".txt":
    return p.suffix[1:]
  return p.stem


def _read_lines_per_label(path: str, options: ReadOptions, parse: RowParser
                          ) -> Iterator[Example]:
  label = file_label(path, dict(FILE_LABELS.of(options)))
  for line_no, line in enumerate(readers.lines(path, options.encoding), 1):
    example = parse([line.rstrip("\n").rstrip("\r")], label,
                    f"{path}:{line_no}")
    if example:
      yield example


FORMATS.register("jsonl", Format(
    _read_jsonl, extensions=(".jsonl", ".json", ".ndjson"),
    meaning="JSON lines: one object per line, the text and label in its fields"))
FORMATS.register("csv", Format(
    functools.partial(_read_delimited, delimiter=","), extensions=(".csv",),
    options=(COLUMNS, QUOTING),
    meaning="comma-separated, a header row naming the columns (or `columns`)"))
FORMATS.register("tsv", Format(
    functools.partial(_read_delimited, delimiter="\t"), extensions=(".tsv", ".tab"),
    options=(COLUMNS, QUOTING),
    meaning="tab-separated, a header row naming the columns (or `columns`)"))
FORMATS.register("lines_per_label", Format(
    _read_lines_per_label, options=(FILE_LABELS,),
    meaning="one text per line, one file per label (the label from the file's name)"))


def options() -> dict[str, Option]:
  """Every key the registered formats read for themselves, by name.

  Raises:
    ValueError: two formats define one key differently.
  """
  found: dict[str, Option] = {}
  for name, fmt in FORMATS.items():
    for option in fmt.options:
      if found.setdefault(option.key, option) != option:
        raise ValueError(f"data format {name!r} defines data.{option.key} again, "
                         "differently; formats reading one key share its Option")
  return found


def extensions() -> dict[str, str]:
  """Extension → the name of its format, for `data.format=auto`."""
  table: dict[str, str] = {}
  for name, fmt in FORMATS.items():
    for extension in fmt.extensions:
      if table.setdefault(extension, name) != name:
        raise ValueError(f"the extension {extension} belongs to data formats "
                         f"{table[extension]!r} and {name!r}")
  return table


def format_name(path: str, format_: str) -> str:
  """The format of `path`: `format_` unless `auto`, then from the extension."""
  if format_ != AUTO:
    return format_
  suffix = readers.strip_gz(path).suffix.lower()
  by_extension = extensions()
  if suffix not in by_extension:
    raise DataError(f"{path}: cannot tell the format from the extension "
                    f"{suffix!r}; set data.format to one of "
                    f"{', '.join(FORMATS.names())}")
  return by_extension[suffix]


def read_file(path: str, options: ReadOptions, tally: readers.Tally
              ) -> Iterator[Example]:
  """Yields the usable examples of one file, counting every row in `tally`.

  Args:
    path: a file of a registered format, optionally `.gz`.
    options: format, encoding, fields and label rules.
    tally: updated in place: rows read and rows dropped by reason.

  Raises:
    DataError: a row that cannot be parsed, undecodable bytes, missing columns.
    registry.UnknownEntryError: `options.format` is not registered.
  """
  fmt = FORMATS.get(format_name(path, options.format))
  return fmt.read(path, options, RowParser(options, tally))


# The keys every format reads, at their defaults: those of `ReadOptions`, the
# label names given as a file.
_SHARED_DEFAULTS = {
    **{field.name: field.default for field in dataclasses.fields(ReadOptions)
       if field.name not in ("label_names", "format_options")},
    "label_names_file": "",
}


def read_defaults() -> dict[str, Any]:
  """Every reading key of `data.*` at its default, the formats' own included."""
  return {**_SHARED_DEFAULTS,
          **{key: option.default for key, option in options().items()}}


def _encoding(value: Any) -> str:
  encoding = str(value)
  try:
    codecs.lookup(encoding)
  except LookupError:
    raise DataError(f"data.encoding={encoding!r} is not a known codec name "
                    "(e.g. utf-8, latin-1, cp1252)") from None
  if "\n".encode(encoding) != b"\n":
    raise DataError(f"data.encoding={encoding!r}: only ASCII-compatible "
                    "encodings are read (e.g. utf-8, latin-1, cp1252)")
  return encoding


def read_options(data: Mapping[str, Any]) -> ReadOptions:
  """The checked reading keys of a `data` config; a key it lacks has its default.

  Raises:
    DataError: naming the key, the value and what is accepted.
  """
  defaults = read_defaults()

  def get(key: str) -> Any:
    return data.get(key, defaults[key])

  text_fields = keys.as_tuple("text_fields", get("text_fields"))
  if not text_fields:
    raise DataError("data.text_fields is empty: name the field(s) with the text")
  label_names_file = str(get("label_names_file") or "")
  return ReadOptions(
      format=keys.choice("format", get("format"), (AUTO, *FORMATS.names())),
      encoding=_encoding(get("encoding")),
      text_fields=text_fields,
      label_field=str(get("label_field")),
      label_separator=str(get("label_separator") or ""),
      label_names=(readers.load_label_names(keys.existing("label_names_file",
                                                          label_names_file))
                   if label_names_file else ()),
      format_options=tuple((key, option.parse(get(key)))
                           for key, option in options().items()))


def markdown_tables() -> str:
  """The docs' tables of the registered formats and of their own keys."""
  rows = ["| `data.format` | `auto` knows it by | its own keys | what it reads |",
          "|---|---|---|---|"]
  for name, fmt in FORMATS.items():
    rows.append(f"| `{name}` | {', '.join(f'`{e}`' for e in fmt.extensions) or '—'} | "
                f"{', '.join(f'`{o.key}`' for o in fmt.options) or '—'} | {fmt.meaning} |")
  rows += ["", "| key | default | meaning |", "|---|---|---|"]
  for key, option in options().items():
    rows.append(f"| `data.{key}` | `{option.default!r}` | {option.meaning} |")
  return "\n".join(rows) + "\n"
