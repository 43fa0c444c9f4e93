"""Property tests: any input is read into examples plus counted drops, or
raises DataError naming the file; never another exception, never a lost row."""

import csv
import io
import json
import pathlib
import tempfile

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from lstm_jax.datasets import formats
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError
from test_readers import options

# Any code point, lone surrogates included (they cannot be encoded to UTF-8).
any_text = st.text(st.characters(blacklist_categories=()), max_size=40)
# Text a UTF-8 text file can hold: a NUL byte marks a binary file, which is refused.
file_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                    max_size=40) | st.sampled_from(
    ["", " ", "\t\n", "x" * 5000, "é\u2028ü", '"q", r', "a\rb", "a\r\nb", "\r"])
label_text = st.sampled_from(["pos", " pos", "pos\t", "POS", "", "  ", "neg"])

SETTINGS = settings(max_examples=60, deadline=None)


def expected(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]],
                                                   dict[str, int]]:
  """The examples and drops the readers promise for `rows`."""
  kept, dropped = [], {}
  for text, label in rows:
    if not text.strip():
      reason = readers.EMPTY_TEXT
    elif not label.strip():
      reason = readers.MISSING_LABEL
    elif any(0xD800 <= ord(c) <= 0xDFFF for c in text + label):
      reason = readers.INVALID_UNICODE
    else:
      kept.append((text, label.strip()))
      continue
    dropped[reason] = dropped.get(reason, 0) + 1
  return kept, dropped


def read(path: pathlib.Path, **values):
  tally = readers.Tally()
  examples = list(formats.read_file(str(path), options(**values), tally))
  assert tally.read == len(examples) + sum(tally.dropped.values())
  return [(e.text, e.label) for e in examples], dict(tally.dropped)


@SETTINGS
@given(st.lists(st.tuples(any_text, label_text), max_size=8))
def test_jsonl_round_trip(rows):
  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp, "a.jsonl")
    path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n"
                            for t, l in rows), "utf-8")
    assert read(path) == expected(rows)


@SETTINGS
@given(st.lists(st.tuples(file_text, label_text), max_size=8),
       st.sampled_from([("csv", ","), ("tsv", "\t")]))
def test_csv_and_tsv_round_trip(rows, format_and_delimiter):
  fmt, delimiter = format_and_delimiter
  buffer = io.StringIO(newline="")
  writer = csv.writer(buffer, delimiter=delimiter)
  writer.writerow(["text", "label"])
  writer.writerows(rows)
  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp, f"a.{fmt}")
    path.write_text(buffer.getvalue(), "utf-8", newline="")
    assert read(path) == expected(rows)


@SETTINGS
@given(st.lists(st.text(st.characters(blacklist_characters="\n\r\x00",
                                      blacklist_categories=("Cs",)),
                        max_size=40), max_size=8))
def test_lines_per_label_round_trip(lines):
  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp, "x.neg")
    path.write_text("".join(l + "\n" for l in lines), "utf-8")
    assert read(path, format="lines_per_label") == expected(
        [(l, "neg") for l in lines])


@SETTINGS
@given(st.binary(max_size=200),
       st.sampled_from(["a.jsonl", "a.csv", "a.tsv", "a.pos"]),
       st.sampled_from(["utf-8", "latin-1"]))
def test_arbitrary_bytes_are_read_or_rejected_clearly(data, name, encoding):
  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp, name)
    path.write_bytes(data)
    fmt = "lines_per_label" if name.endswith(".pos") else "auto"
    try:
      read(path, format=fmt, encoding=encoding)
    except DataError as e:
      assert str(path) in str(e)


def test_latin1_reads_any_bytes_that_utf8_rejects(tmp_path):
  path = tmp_path / "a.pos"
  path.write_bytes(bytes(range(1, 256)).replace(b"\n", b""))
  with pytest.raises(DataError, match="set data.encoding"):
    read(path, format="lines_per_label")
  assert len(read(path, format="lines_per_label", encoding="latin-1")[0]) == 1
