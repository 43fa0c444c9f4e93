"""Readers: formats, encodings, gzip, clear errors and counted drops."""

import dataclasses
import gzip
import json
import pathlib

import pytest

from lstm_jax.datasets import formats
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError


def options(**values) -> readers.ReadOptions:
  """Reading options of these values; a key that is no field of `ReadOptions`
  is a format's own (`formats.Option`)."""
  fields = {field.name for field in dataclasses.fields(readers.ReadOptions)}
  return readers.ReadOptions(
      **{k: v for k, v in values.items() if k in fields},
      format_options=tuple((k, v) for k, v in values.items() if k not in fields))


def read(path: pathlib.Path, **values) -> tuple[list[readers.Example],
                                                  readers.Tally]:
  tally = readers.Tally()
  examples = list(formats.read_file(str(path), options(**values), tally))
  assert tally.read == len(examples) + sum(tally.dropped.values())
  return examples, tally


def write_jsonl(path: pathlib.Path, rows: list) -> pathlib.Path:
  path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
  return path


def test_jsonl_rows_become_examples_in_order(tmp_path):
  path = write_jsonl(tmp_path / "a.jsonl", [{"text": "good", "label": "pos"},
                                            {"text": "bad", "label": "neg"}])
  examples, _ = read(path)
  assert [(e.text, e.label, e.id) for e in examples] == [
      ("good", "pos", f"{path}:1"), ("bad", "neg", f"{path}:2")]


def test_several_text_fields_are_joined_with_a_space(tmp_path):
  path = write_jsonl(tmp_path / "a.jsonl", [
      {"headline": "Big news", "short_description": "Details.", "c": "X"}])
  examples, _ = read(path, text_fields=("headline", "short_description"),
                     label_field="c")
  assert examples[0].text == "Big news Details."


def test_gzip_files_are_read_like_plain_ones(tmp_path):
  path = tmp_path / "a.jsonl.gz"
  with gzip.open(path, "wt", encoding="utf-8") as f:
    f.write(json.dumps({"text": "größe", "label": "de"}) + "\n")
  examples, _ = read(path)
  assert (examples[0].text, examples[0].label) == ("größe", "de")


def test_csv_with_header_and_quoted_commas_and_newlines(tmp_path):
  path = tmp_path / "a.csv"
  path.write_text('id,text,author\n"1","a, b\nc","EAP"\n"2","d","HPL"\n',
                  "utf-8")
  examples, _ = read(path, label_field="author")
  assert [(e.text, e.label) for e in examples] == [("a, b\nc", "EAP"),
                                                   ("d", "HPL")]
  assert examples[1].id.endswith(":4")  # Physical line of the row's end.


def test_headerless_tsv_takes_column_names_from_options(tmp_path):
  path = tmp_path / "a.tsv"
  path.write_text('Title"quoted"\tCRIME\n"x ""y"""\tMEDIA\n', "utf-8")
  examples, _ = read(path, columns=("text", "label"))
  assert [(e.text, e.label) for e in examples] == [('Title"quoted"', "CRIME"),
                                                   ('x "y"', "MEDIA")]


def test_lines_per_label_uses_the_suffix_or_the_mapping(tmp_path):
  pos = tmp_path / "rt-polarity.pos"
  pos.write_bytes("caf\xe9 ok\r\n  \n".encode("latin-1"))
  examples, tally = read(pos, format="lines_per_label", encoding="latin-1")
  assert [(e.text, e.label) for e in examples] == [("café ok", "pos")]
  assert tally.dropped == {readers.EMPTY_TEXT: 1}
  examples, _ = read(pos, format="lines_per_label", encoding="latin-1",
                     file_labels=(("rt-polarity.pos", "positive"),))
  assert examples[0].label == "positive"


def test_txt_files_are_labelled_by_their_stem(tmp_path):
  assert formats.file_label(str(tmp_path / "de.txt"), {}) == "de"
  assert formats.file_label(str(tmp_path / "x.neg.gz"), {}) == "neg"


def test_empty_and_whitespace_texts_are_dropped_and_counted(tmp_path):
  path = write_jsonl(tmp_path / "a.jsonl", [
      {"text": "", "label": "a"}, {"text": " \t\u3000", "label": "a"},
      {"label": "a"}, {"text": "ok", "label": "a"}])
  examples, tally = read(path)
  assert [e.text for e in examples] == ["ok"]
  assert tally.dropped == {readers.EMPTY_TEXT: 3}


def test_label_lists_and_separators_keep_only_single_labels(tmp_path):
  path = write_jsonl(tmp_path / "letters.jsonl", [
      {"text": "t1", "sender": ["Bullinger"]},
      {"text": "t2", "sender": ["Vadian", "Blarer"]},
      {"text": "t3", "sender": []},
      {"text": "t4", "sender": None},
      {"text": "t5", "sender": "Haller; Gast"},
      {"text": "t6", "sender": " Gast "}])
  examples, tally = read(path, label_field="sender", label_separator=";")
  assert [(e.text, e.label) for e in examples] == [("t1", "Bullinger"),
                                                   ("t6", "Gast")]
  assert tally.dropped == {readers.SEVERAL_LABELS: 2, readers.MISSING_LABEL: 2}


def test_label_names_map_ids_and_count_unknown_ids(tmp_path):
  path = write_jsonl(tmp_path / "h.json", [{"raw": "a", "label": 20},
                                           {"raw": "b", "label": 99}])
  examples, tally = read(path, text_fields=("raw",),
                         label_names=(("20", "CRIME"),))
  assert [e.label for e in examples] == ["CRIME"]
  assert tally.dropped == {readers.LABEL_NOT_NAMED: 1}


def test_csv_rows_with_missing_or_extra_columns_are_counted(tmp_path):
  path = tmp_path / "a.csv"
  path.write_text("text,label\nok,a\nshort\nx,a,extra\n", "utf-8")
  examples, tally = read(path)
  assert len(examples) == 1
  assert tally.dropped == {readers.WRONG_FIELD_COUNT: 2}


def test_dropped_rows_are_named_by_file_and_line(tmp_path):
  path = tmp_path / "a.csv"
  path.write_text("text,label\nok,a\nshort\n,a\nx,a,extra\n", "utf-8")
  _, tally = read(path)
  assert tally.first_dropped == {readers.WRONG_FIELD_COUNT: [f"{path}:3", f"{path}:5"],
                                 readers.EMPTY_TEXT: [f"{path}:4"]}


def test_only_the_first_rows_of_a_reason_are_named(tmp_path):
  path = tmp_path / "a.csv"
  path.write_text("text,label\n" + ",a\n" * 9, "utf-8")
  _, tally = read(path)
  assert tally.dropped == {readers.EMPTY_TEXT: 9}
  assert len(tally.first_dropped[readers.EMPTY_TEXT]) == readers.FIRST_DROPPED


def csv_rows(count: int) -> list[str]:
  """A header and `count` - 1 well-formed rows: line i reads `row i,pos|neg`."""
  return ["text,label"] + [f"row {i},{'pos' if i % 2 else 'neg'}"
                           for i in range(2, count + 1)]


@pytest.mark.parametrize("edits, message", [
    ({49: '"broken quote line,pos'},
     r"line 50: a quote opened here is never closed: the 150 lines .* data.quoting=none"),
    ({4: 'row 5,"pos', 9: 'row 10,neg"'},
     r"line 5: a quote opened here swallows lines 6-10, which are rows of 2 columns on "
     r"their own"),
], ids=["open to the end of the file", "swallowing whole rows"])
def test_a_stray_quote_stops_with_its_line(tmp_path, edits, message):
  rows = csv_rows(200)
  for index, row in edits.items():
    rows[index] = row
  path = tmp_path / "a.csv"
  path.write_text("\n".join(rows) + "\n", "utf-8")
  with pytest.raises(DataError, match=rf"a\.csv: {message}"):
    read(path)


def test_a_quoted_field_over_several_lines_with_a_wrong_column_count_stops(tmp_path):
  path = tmp_path / "a.csv"
  path.write_text('text,label\nok,a\n"runs on\nover, lines", b, c\n', "utf-8")
  with pytest.raises(DataError, match="line 3: a quoted field runs on to line 4 "
                     "and the row has 3 columns instead of 2"):
    read(path)


def test_quoting_none_reads_quotes_as_text_one_row_per_line(tmp_path):
  path = tmp_path / "a.tsv"
  path.write_text('text\tlabel\n"Timemus bellum\tla\nBrema "urbs"\tla\n', "utf-8")
  examples, _ = read(path, quoting="none")
  assert [e.text for e in examples] == ['"Timemus bellum', 'Brema "urbs"']


def test_malformed_json_line_names_file_and_line(tmp_path):
  path = tmp_path / "a.jsonl"
  path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label"\n',
                  "utf-8")
  with pytest.raises(DataError, match=rf"{path}: line 2: malformed JSON"):
    read(path)


def test_wrong_encoding_names_line_offset_and_the_key(tmp_path):
  path = tmp_path / "rt.pos"
  path.write_bytes(b"fine\ncaf\xe9\n")
  with pytest.raises(DataError, match=r"line 2 \(byte offset 8\).*utf-8.*"
                     r"set data\.encoding"):
    read(path, format="lines_per_label")


def test_missing_columns_name_the_columns_found(tmp_path):
  path = tmp_path / "a.csv"
  path.write_text("id\tbody\tauthor\n1\tx\ty\n", "utf-8")  # Tabs, not commas.
  with pytest.raises(DataError, match=r"no field 'text', 'label'; fields "
                     r"found: 'id\\tbody\\tauthor'.*or data\.columns for a file without"):
    read(path)


def test_a_json_field_absent_from_every_row_is_an_error(tmp_path):
  path = write_jsonl(tmp_path / "a.jsonl", [{"body": "x", "label": "a"}])
  with pytest.raises(DataError, match=r"no field 'text'; fields found: "
                     r"'body', 'label'\. Set data\.text_fields / data\.label_field$"):
    read(path)  # not data.columns, which only delimited files read


def test_missing_file_is_named(tmp_path):
  with pytest.raises(DataError, match=r"file not found: .*nope\.csv"):
    read(tmp_path / "nope.csv")


def test_unknown_extension_asks_for_data_format(tmp_path):
  with pytest.raises(DataError, match=r"set data\.format"):
    read(tmp_path / "rt-polarity.neg")


def test_truncated_gzip_is_a_clear_error(tmp_path):
  path = tmp_path / "a.jsonl.gz"
  path.write_bytes(gzip.compress(b'{"text": "a", "label": "b"}\n' * 50)[:-20])
  with pytest.raises(DataError, match=r"broken gzip file"):
    read(path)


def test_utf8_byte_order_mark_is_not_part_of_the_header(tmp_path):
  path = tmp_path / "a.csv"
  path.write_bytes("\ufefftext,label\nx,a\n".encode("utf-8"))
  examples, _ = read(path)
  assert examples[0].label == "a"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
@pytest.mark.parametrize("content", [
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xa4\xe2\xf9\x01\n",  # an .xlsx (a zip)
    "text,label\nhi,pos\n".encode("utf-16"),  # UTF-16 text
    b"text,label\n" + b"ok,pos\n" * 2000 + b"\x89\x00\x00\xff,neg\n",  # NUL bytes past the start
])
def test_a_binary_file_is_named_as_binary_in_any_encoding(tmp_path, content, encoding):
  path = tmp_path / "reviews.csv"
  path.write_bytes(content)
  with pytest.raises(DataError, match=r"reviews\.csv: .* hold NUL bytes: this is a binary file"):
    list(formats.read_file(str(path), readers.ReadOptions(encoding=encoding), readers.Tally()))
