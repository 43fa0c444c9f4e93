"""TFDS builders and `load_splits` on small files the tests write."""

import hashlib
import io
import json
import os
import pathlib
import re
import socket
import tarfile
import time

import pytest
import tensorflow_datasets as tfds

from lstm_jax import datasets
from lstm_jax.config import schema
from lstm_jax.datasets import builders
from lstm_jax.datasets import readers
from lstm_jax.datasets import splits as splits_lib
from lstm_jax.training import input_pipeline


def load(tmp_path: pathlib.Path, **data) -> datasets.Splits:
  """`load_splits` into a fresh TFDS dir; checks the accounting invariant."""
  data = {"tfds_data_dir": str(tmp_path / "tfds"), **data}
  splits = datasets.load_splits(data)
  assert datasets.accounting_errors(splits.report) == []
  for name in splits_lib.SPLIT_NAMES:
    split = getattr(splits, name)
    assert len(split.texts) == len(split.labels)
    assert splits.report["splits"][name]["used"] == len(split.texts)
  return splits


def write(path: pathlib.Path, text: str) -> str:
  path.write_text(text, "utf-8")
  return str(path)


def test_files_source_reads_csv_train_and_test(tmp_path):
  train = write(tmp_path / "train.csv",
                "text,label\n" + "good film,pos\nbad film,neg\n" * 10 + ",pos\n")
  test = write(tmp_path / "test.csv", "text,label\nfine,pos\nmeh,neutral\n")
  splits = load(tmp_path, train_files=train, test_files=test,
                validation_split=0.2)
  report = splits.report["splits"]
  assert (len(splits.train.texts), len(splits.validation.texts)) == (16, 4)
  assert report["train"]["dropped"] == {readers.EMPTY_TEXT: 1}
  assert splits.test.texts == ["fine"]
  assert report["test"]["dropped"] == {splits_lib.LABEL_NOT_IN_TRAIN: 1}
  assert splits.report["labels"] == ["neg", "pos"]
  assert report["validation"]["label_counts"] == {"neg": 2, "pos": 2}
  assert report["train"]["length_percentiles"]["max"] == 2.0


def test_list_keys_accept_comma_separated_strings(tmp_path):
  a = write(tmp_path / "a.jsonl", '{"t": "x", "u": "y", "label": "1"}\n')
  b = write(tmp_path / "b.jsonl", '{"t": "z", "u": "w", "label": "1"}\n')
  splits = load(tmp_path, train_files=f"{a},{b}", text_fields="t,u",
                validation_split=0.0, test_split=0.0)
  assert splits.train.texts == ["x y", "z w"]


def test_a_changed_file_is_prepared_again(tmp_path):
  path = tmp_path / "a.csv"
  write(path, "text,label\nold,a\n")
  assert load(tmp_path, train_files=str(path), validation_split=0.0,
              test_split=0.0).train.texts == ["old"]
  write(path, "text,label\nnew text,a\n")
  os.utime(path, ns=(1, 1))  # A different mtime even on coarse clocks.
  assert load(tmp_path, train_files=str(path), validation_split=0.0,
              test_split=0.0).train.texts == ["new text"]


def test_latin1_two_file_polarity_layout(tmp_path):
  pos, neg = tmp_path / "rt.pos", tmp_path / "rt.neg"
  pos.write_bytes("tr\xe8s bon\n".encode("latin-1") * 5)
  neg.write_bytes("mauvais\n".encode("latin-1") * 5)
  splits = load(tmp_path, train_files=[str(pos), str(neg)],
                format="lines_per_label", encoding="latin-1",
                validation_split=0.2, test_split=0.2)
  assert sorted(set(splits.train.labels)) == ["neg", "pos"]
  assert "très bon" in splits.train.texts + splits.test.texts
  assert splits.report["splits"]["test"]["label_counts"] == {"neg": 1, "pos": 1}


def test_letters_drop_several_or_missing_senders(tmp_path):
  rows = ([{"text": f"l{i}", "sender_names": ["Bullinger"]} for i in range(6)]
          + [{"text": "two", "sender_names": ["Vadian", "Blarer"]},
             {"text": "none", "sender_names": []},
             {"text": "x", "sender_names": ["Blarer"]}])
  path = write(tmp_path / "letters.jsonl",
               "".join(json.dumps(r) + "\n" for r in rows))
  splits = load(tmp_path, source="letters", train_files=path,
                label_field="sender_names", top_k_labels=1,
                validation_split=0.0, test_split=0.0)
  assert splits.train.labels == ["Bullinger"] * 6
  assert splits.report["splits"]["train"]["dropped"] == {
      readers.SEVERAL_LABELS: 1, readers.MISSING_LABEL: 1,
      splits_lib.LABEL_NOT_TOP_K: 1}


def test_huffpost_text_fields_choose_the_text(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  rows = [{"category": c, "headline": f"H{i}", "short_description": d,
           "authors": "", "link": "", "date": "2018-05-26"}
          for i, (c, d) in enumerate([("CRIME", "D0"), ("CRIME", ""),
                                      ("MEDIA", "D2"), ("MEDIA", "D3")])]
  write(manual / "News_Category_Dataset_v3.json",
        "".join(json.dumps(r) + "\n" for r in rows))
  common = dict(source="huffpost", manual_dir=str(manual), seed=1,
                validation_split=0.0, test_split=0.0)
  both = load(tmp_path, text_fields="headline,short_description", **common)
  assert both.train.texts == ["H0 D0", "H1 ", "H2 D2", "H3 D3"]
  described = load(tmp_path, text_fields=["short_description"], **common)
  assert described.train.texts == ["D0", "D2", "D3"]
  assert described.report["splits"]["train"]["dropped"] == {
      readers.EMPTY_TEXT: 1}


def test_huffpost_without_the_manual_file_says_where_to_put_it(tmp_path):
  with pytest.raises(datasets.DataError,
                     match=r"News_Category_Dataset_v2\.json not found in .*"
                     r"data\.manual_dir.*kaggle"):
    load(tmp_path, source="huffpost", huffpost_version="v2",
         text_fields="headline", manual_dir=str(tmp_path))


@pytest.mark.parametrize("data, match", [
    ({"train_files": "missing.csv"}, r"data\.train_files: file not found: "
                                     r"missing\.csv"),
    ({"source": "imdbb"}, r"data\.source='imdbb' is not one of imdb, huffpost"),
    ({"validation_split": 1.5}, r"data\.validation_split=1\.5 must be"),
    ({"validation_mode": "first"}, r"stratified, last"),
    ({"encoding": "utf-16"}, r"ASCII-compatible"),
    ({"encoding": "klingon"}, r"not a known codec"),
    ({"source": "files"}, r"data\.train_files is empty"),
    ({"file_labels": "rt.pos"}, r"must be name=label"),
])
def test_bad_config_names_the_key(tmp_path, data, match):
  with pytest.raises(datasets.DataError, match=match):
    load(tmp_path, **{"source": "imdb", **data})


def test_no_training_rows_left_is_a_clear_error(tmp_path):
  path = write(tmp_path / "a.csv", "text,label\n ,a\n")
  with pytest.raises(datasets.DataError, match=re.escape(
      f"no usable rows in the train split ({path}): every row was dropped (train: dropped 1 "
      f"of 1 rows; empty text: 1 ({path}:2))")):
    load(tmp_path, train_files=path)


@pytest.mark.parametrize("content, what", [("", "is empty"),
                                           ("text,label\n", "holds no rows (a header line only")])
def test_a_file_without_rows_is_named(tmp_path, content, what):
  path = write(tmp_path / "a.csv", content)
  with pytest.raises(datasets.DataError, match=re.escape(
      f"no usable rows in the train split ({path}): {path} {what}")):
    load(tmp_path, train_files=path)


def test_a_file_without_rows_beside_others_is_a_warning(tmp_path, caplog):
  path, empty = write(tmp_path / "a.csv", "text,label\nfine,a\nbad,b\n"), write(
      tmp_path / "b.csv", "")
  load(tmp_path, train_files=f"{path},{empty}")
  assert f"data: train: {empty} is empty" in caplog.text


def test_labels_filtered_to_nothing_is_a_clear_error(tmp_path):
  path = write(tmp_path / "a.csv", "text,label\nx,a\n")
  with pytest.raises(datasets.DataError, match=r"no training rows left from 1 "
                     r"read; dropped: \{'label has fewer"):
    load(tmp_path, train_files=path, min_examples_per_label=2)


def fake_imdb_archive(path: pathlib.Path) -> str:
  """A tar.gz laid out like aclImdb_v1 with 3 train and 2 test reviews."""
  files = {"aclImdb/train/pos/0_9.txt": "Great <br />film.",
           "aclImdb/train/pos/1_7.txt": "Nice.",
           "aclImdb/train/neg/0_2.txt": "Awful.",
           "aclImdb/train/unsup/0_0.txt": "Unlabelled.",
           "aclImdb/test/pos/0_10.txt": "Loved it.",
           "aclImdb/test/neg/0_1.txt": "Hated it.",
           "aclImdb/README": "readme"}
  with tarfile.open(path, "w:gz") as tar:
    for name, text in files.items():
      data = text.encode()
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return hashlib.sha256(path.read_bytes()).hexdigest()


def test_imdb_builder_reads_the_archive_from_the_manual_dir(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  archive = manual / builders.IMDB_ARCHIVE.filename
  checksum = fake_imdb_archive(archive)

  class SmallImdb(builders.Imdb, skip_registration=True):

    @tfds.core.utils.classproperty
    @classmethod
    def url_infos(cls):
      return {builders.IMDB_URL: tfds.download.checksums.UrlInfo(
          size=archive.stat().st_size, checksum=checksum,
          filename=archive.name)}

  builder = SmallImdb(data_dir=str(tmp_path / "tfds"))
  builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
  train = builder.as_data_source(split="train")
  assert [(r["text"], r["label"], r["id"]) for r in train] == [
      (b"Great <br />film.", b"pos", b"train/pos/0_9.txt"),
      (b"Nice.", b"pos", b"train/pos/1_7.txt"),
      (b"Awful.", b"neg", b"train/neg/0_2.txt")]
  assert builder.info.splits["test"].num_examples == 2
  assert builder.info.metadata[builders.DROPPED] == {"train": {}, "test": {}}


def test_imdb_archive_with_a_wrong_checksum_is_rejected(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  fake_imdb_archive(manual / builders.IMDB_ARCHIVE.filename)
  with pytest.raises(datasets.DataError, match=r"does not match its "
                     r"registered checksum"):
    load(tmp_path, source="imdb", manual_dir=str(manual))


def test_imdb_offline_without_the_archive_says_where_to_put_it(tmp_path):
  with pytest.raises(datasets.DataError, match=r"aclImdb_v1\.tar\.gz not found "
                     r"in .*manual.*https://ai\.stanford\.edu"):
    load(tmp_path, source="imdb", download=False,
         manual_dir=str(tmp_path / "manual"))


def test_imdb_download_without_network_fails_at_once_saying_where_to_put_it(
    tmp_path, monkeypatch):
  with socket.socket() as s:  # a port nothing listens on
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  monkeypatch.setattr(builders, "IMDB_URL",
                      f"http://127.0.0.1:{port}/aclImdb_v1.tar.gz")
  start = time.monotonic()
  with pytest.raises(datasets.DataError, match=r"cannot download .*127\.0\.0\.1.*\. "
                     r"Offline, put aclImdb_v1\.tar\.gz from that address .* in "
                     r".*manual") as refused:
    load(tmp_path, source="imdb", manual_dir=str(tmp_path / "manual"))
  assert time.monotonic() - start < 10
  # Said once, with the route of local files.
  assert str(refused.value).count("aclImdb_v1.tar.gz") == 2  # the address's and the file's
  assert "data.source=files, data.train_files=TRAIN and data.test_files=TEST" in str(
      refused.value)


def test_imdb_checksum_agrees_with_the_one_tfds_registers():
  tfds_imdb = (pathlib.Path(tfds.__file__).parent / "datasets" /
               "imdb_reviews" / "checksums.tsv").read_text().split()
  assert tfds_imdb[1:] == [str(builders.IMDB_ARCHIVE.size),
                           builders.IMDB_ARCHIVE.checksum,
                           builders.IMDB_ARCHIVE.filename]


class MockedRecords(list):
  """Mocked records; tfds 4.9.10's own mocked `__getitems__` is unbound."""

  def __getitems__(self, keys):
    return [self[k] for k in keys]


def test_mocked_imdb_text_comes_back_as_str(tmp_path):
  records = MockedRecords({"text": f"review {i}", "label": "pos neg".split()[
      i % 2], "id": str(i)} for i in range(12))
  # An archive in the manual dir, so no download is attempted (the mock never reads it).
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / builders.IMDB_ARCHIVE.filename).touch()
  with tfds.testing.mock_data(
      as_data_source_fn=lambda builder, split, **kwargs: records):
    splits = load(tmp_path, source="imdb", validation_split=0.25,
                  manual_dir=str(manual))
  assert splits.report["source_rows"] == {"train": 12, "test": 12}
  assert len(splits.validation.texts) == 3
  assert splits.test.texts == [f"review {i}" for i in range(12)]


def test_the_schema_holds_every_data_key_at_its_default():
  data = schema.default_config().data.to_dict()
  defaults = datasets.config.defaults()
  assert {k: data[k] for k in defaults} == defaults
  assert datasets.DataOptions.from_config(
      {**data, "source": "imdb"}).validation_mode == "stratified"


def test_the_report_names_the_first_dropped_rows_of_each_source_split(tmp_path):
  train = write(tmp_path / "train.csv",
                "text,label\n" + "good film,pos\nbad film,neg\n" * 10 + ",pos\nx,pos,y\n")
  report = load(tmp_path, train_files=train).report
  assert report["first_dropped"] == {"train": {readers.EMPTY_TEXT: [f"{train}:22"],
                                               readers.WRONG_FIELD_COUNT: [f"{train}:23"]}}
  assert datasets.dropped_lines(report) == [
      f"train: dropped 2 of 18 rows; {readers.EMPTY_TEXT}: 1 ({train}:22); "
      f"{readers.WRONG_FIELD_COUNT}: 1 ({train}:23)"]


def test_loading_a_dataset_shows_its_drops(tmp_path, caplog):
  config = schema.default_config()
  config.data.train_files = (write(tmp_path / "train.csv",
                                   "text,label\n" + "good film,pos\nbad,neg\n" * 10 + ",pos\n"),)
  config.data.tfds_data_dir = str(tmp_path / "tfds")
  with caplog.at_level("WARNING"):
    input_pipeline.load_dataset(config.data, config.embedding, tmp_path, seed=config.seed)
  assert "data: train: dropped 1 of " in caplog.text
  assert f"{readers.EMPTY_TEXT}: 1 ({tmp_path / 'train.csv'}:22)" in caplog.text


def test_preparing_local_files_says_what_and_where_once(tmp_path, capsys):
  train = write(tmp_path / "train.csv", "text,label\n" + "good film,pos\nbad,neg\n" * 10)
  load(tmp_path, train_files=train)
  out = capsys.readouterr().err
  assert f"Preparing {train} into {tmp_path / 'tfds'}" in out
  assert "Unknown size" not in out and "Generating" not in out
  load(tmp_path, train_files=train)
  assert "Preparing" not in capsys.readouterr().err


def test_validation_files_are_the_validation_split(tmp_path):
  train = write(tmp_path / "train.csv", "text,label\n" + "good film,pos\nbad film,neg\n" * 10)
  validation = write(tmp_path / "val.csv", "text,label\nfine,pos\nmeh,neg\n,pos\n")
  splits = load(tmp_path, train_files=train, validation_files=validation, test_split=0.0)
  assert splits.validation.texts == ["fine", "meh"]
  assert len(splits.train.texts) == 20
  assert splits.report["source_rows"] == {"train": 20, "validation": 3}
  assert splits.report["splits"]["validation"]["dropped"] == {readers.EMPTY_TEXT: 1}


def test_validation_files_need_a_files_source(tmp_path):
  validation = write(tmp_path / "val.csv", "text,label\nfine,pos\n")
  with pytest.raises(datasets.DataError, match="data.validation_files: data.source='imdb'"):
    load(tmp_path, source="imdb", validation_files=validation)


def test_a_copy_prepared_from_an_older_version_of_a_file_is_deleted(tmp_path):
  train = tmp_path / "train.csv"
  write(train, "text,label\n" + "good film,pos\nbad,neg\n" * 10)
  other = write(tmp_path / "other.csv", "text,label\n" + "fine,pos\nmeh,neg\n" * 10)
  load(tmp_path, train_files=str(train))
  load(tmp_path, train_files=other)
  copies = tmp_path / "tfds" / "text_files"
  assert len(list(copies.iterdir())) == 2
  write(train, "text,label\n" + "good film,pos\nbad,neg\n" * 11)
  os.utime(train, ns=(0, 10**18))
  load(tmp_path, train_files=str(train))
  assert len(list(copies.iterdir())) == 2  # the old copy of train.csv went, other.csv's stayed
  assert load(tmp_path, train_files=other).report["source_rows"] == {"train": 20}
