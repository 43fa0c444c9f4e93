"""`load_splits` on the real corpora (skipped when the data is absent).

Counts are those stated in each corpus's SOURCE.md.
"""

import collections
import pathlib

import pytest

from lstm_jax import datasets
from lstm_jax.datasets import formats
from lstm_jax.datasets import readers
from lstm_jax.datasets import splits as splits_lib
from test_readers import options


def load(tmp_path: pathlib.Path, **data) -> datasets.Splits:
  splits = datasets.load_splits({"tfds_data_dir": str(tmp_path), **data})
  assert datasets.accounting_errors(splits.report) == []
  return splits


def used_labels(splits: datasets.Splits) -> collections.Counter:
  """Label counts of the used rows of all three splits."""
  return sum((collections.Counter(s["label_counts"])
              for s in splits.report["splits"].values()), collections.Counter())


@pytest.mark.slow
def test_imdb_jsonl_through_the_files_source(shared_data, tmp_path):
  folder = shared_data("sentiment_imdb")
  splits = load(tmp_path, train_files=str(folder / "imdb_train.jsonl.gz"),
                test_files=str(folder / "imdb_test.jsonl.gz"))
  assert splits.report["source_rows"] == {"train": 25000, "test": 25000}
  report = splits.report["splits"]
  assert report["test"]["label_counts"] == {"neg": 12500, "pos": 12500}
  assert report["validation"]["label_counts"] == {"neg": 1250, "pos": 1250}
  assert len(splits.train.texts) == 22500


def test_mr_polarity_latin1_two_files(shared_data, tmp_path):
  folder = shared_data("sentiment_mr_polarity")
  splits = load(tmp_path, train_files=[str(folder / "rt-polarity.pos"),
                                       str(folder / "rt-polarity.neg")],
                format="lines_per_label", encoding="latin-1")
  assert used_labels(splits) == {"pos": 5331, "neg": 5331}
  assert splits.report["splits"]["test"]["label_counts"] == {"neg": 533,
                                                             "pos": 533}


def test_huffpost_headlines_with_label_names(shared_data, tmp_path):
  folder = shared_data("news_huffpost_headlines")
  splits = load(tmp_path, train_files=str(folder / "huffpost.json"),
                text_fields="raw",
                label_names_file=str(folder / "huffpost_label_names.json"))
  counts = used_labels(splits)
  assert len(counts) == 41 and set(counts.values()) == {900}
  assert counts["THE WORLDPOST"] == 900 and counts["WORLDPOST"] == 900


def test_huffpost_headline_and_description_tsv(shared_data, tmp_path):
  folder = shared_data("news_huffpost_headlines")
  splits = load(tmp_path, format="tsv", columns="text,label",
                train_files=str(folder / "news_category_v2_first20k_concat.tsv"))
  counts = used_labels(splits)
  assert splits.report["source_rows"] == {"train": 19999}
  assert len(counts) == 27
  assert (counts["POLITICS"], counts["COLLEGE"]) == (7005, 18)


def test_bullinger_letters_by_top_senders(shared_data, tmp_path):
  path = shared_data("letters_bullinger/bullinger_letters.jsonl.gz")
  splits = load(tmp_path, source="letters", train_files=str(path),
                label_field="sender_names", top_k_labels=5)
  report = splits.report
  assert report["source_rows"] == {"train": 8586}
  dropped = report["splits"]["train"]["dropped"]
  # SOURCE.md says 8,373 single-sender letters and 90 with several; the file
  # holds 8,374 and 89 (counted from `sender_ids`), with 123 without a sender.
  assert dropped[readers.MISSING_LABEL] == 123
  assert dropped[readers.SEVERAL_LABELS] == 89
  counts = used_labels(splits)
  assert sum(counts.values()) + dropped[splits_lib.LABEL_NOT_TOP_K] == 8374
  assert counts.most_common(1) == [("Heinrich Bullinger", 1611)]
  assert len(counts) == 5


def test_bullinger_letters_by_language(shared_data, tmp_path):
  path = shared_data("letters_bullinger/bullinger_letters.jsonl.gz")
  splits = load(tmp_path, source="letters", train_files=str(path),
                label_field="text_lang")
  # SOURCE.md counts the argmax of `lang_usage` (la 6,928, de 1,647); the
  # `text_lang` field itself holds la 6,930 and de 1,645.
  assert used_labels(splits) == {"la": 6930, "de": 1645, "fr": 7, "it": 2,
                                 "el": 2}
  assert splits.report["splits"]["train"]["dropped"] == {}


def test_spooky_authors_csv(shared_data, tmp_path):
  path = shared_data("author_spooky/train.csv")
  splits = load(tmp_path, train_files=str(path), label_field="author",
                validation_mode="last")
  assert used_labels(splits) == {"EAP": 7900, "MWS": 6044, "HPL": 5635}


def test_huffpost_v3_views_share_their_articles_split_by_split(shared_data, tmp_path):
  """Headline, description and both: the same articles in the same splits.

  The split depends on the labels and the seed only, and no article of the file
  has an empty headline or description, so no view drops a row the others keep.
  """
  path = str(shared_data("news_huffpost_v3/news_category_v3_first10k.jsonl"))
  views = {fields: load(tmp_path / "_".join(fields), train_files=path,
                        text_fields=fields, label_field="category")
           for fields in (("headline",), ("short_description",),
                          ("headline", "short_description"))}
  headline, description, both = views.values()
  for splits in views.values():
    assert splits.report["source_rows"] == {"train": 9999}
    assert all(not s["dropped"] for s in splits.report["splits"].values())
  assert len(used_labels(both)) == 29
  for name in splits_lib.SPLIT_NAMES:
    h, d, b = (getattr(s, name) for s in (headline, description, both))
    assert h.labels == d.labels == b.labels
    # Both fields are joined with a space: each article's text in the third
    # view is its headline, a space and its description.
    assert b.texts == [f"{x} {y}" for x, y in zip(h.texts, d.texts)]
  assert (len(both.train), len(both.validation), len(both.test)) == (8099, 900, 1000)


def test_bullinger_sentences_quotes_are_text(shared_data):
  """With CSV quoting, a quote in a sentence would swallow the rows after it."""
  path = str(shared_data("letters_bullinger/bullinger_sentences.tsv.gz"))
  with pytest.raises(datasets.DataError, match="line 4616: a quote opened here swallows"):
    list(formats.read_file(path, options(label_field="lang"), readers.Tally()))
  tally = readers.Tally()
  examples = formats.read_file(path, options(label_field="lang", quoting="none"), tally)
  assert sum(1 for _ in examples) == tally.read == 220276
