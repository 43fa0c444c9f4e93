"""From the `data` config section to token-id arrays: splits → tokenizer →
labels → padding (+ the GloVe matrix of the `embedding` section).

The tokenizer is fitted on the training split only and saved in the workdir,
so a resumed run, `predict` and `evaluate` use exactly the same mapping.
"""

import dataclasses
import logging
import os
import pathlib
from typing import Optional

import ml_collections
import numpy as np

from lstm_jax import datasets
from lstm_jax import workdir as workdir_lib
from lstm_jax.text import glove
from lstm_jax.text import tokenizer as tokenizer_lib


@dataclasses.dataclass
class EncodedSplit:
  """One split ready for batching."""
  token_ids: np.ndarray  # <int32>[N, T]
  labels: np.ndarray  # <int32>[N]

  def __len__(self) -> int:
    return len(self.labels)


@dataclasses.dataclass
class Dataset:
  """Everything the training loop needs from the data."""
  train: EncodedSplit
  validation: EncodedSplit
  test: EncodedSplit
  tokenizer: tokenizer_lib.Tokenizer
  label_names: list[str]
  report: dict
  embedding_matrix: Optional[np.ndarray] = None  # <float32>[V, E] for GloVe

  @property
  def vocab_size(self) -> int:
    return self.tokenizer.vocab_size

  @property
  def num_dropped(self) -> int:
    return sum(sum(split["dropped"].values()) for split in self.report["splits"].values())


def make_tokenizer(data: ml_collections.ConfigDict) -> tokenizer_lib.Tokenizer:
  return tokenizer_lib.Tokenizer(
      num_words=data.vocab_size or None,
      lower=data.lowercase,
      oov_token=data.oov_token or None,
  )


def sorted_labels(labels: list[str]) -> list[str]:
  """Class order: numeric labels by value, others alphabetically."""
  unique = set(labels)
  if all(label.lstrip("-").isdigit() for label in unique):
    return sorted(unique, key=int)
  return sorted(unique)


def encode(texts: list[str], labels: list[str], label_names: list[str],
           tokenizer: tokenizer_lib.Tokenizer,
           data: ml_collections.ConfigDict) -> EncodedSplit:
  """Token ids padded to `data.max_length` and label ids; labels must be known."""
  index = {name: i for i, name in enumerate(label_names)}
  token_ids = tokenizer.encode(texts, data.max_length, padding=data.padding,
                               truncating=data.truncating)
  return EncodedSplit(token_ids, np.array([index[l] for l in labels], np.int32))


def length_percentiles(token_ids: np.ndarray) -> dict[str, float]:
  lengths = (token_ids != 0).sum(axis=1)
  if not len(lengths):
    return {}
  return {f"p{q}": float(np.percentile(lengths, q)) for q in (5, 25, 50, 75, 95, 100)}


def load_dataset(data: ml_collections.ConfigDict, embedding: ml_collections.ConfigDict,
                 workdir: os.PathLike, *, seed: int, write: bool = True) -> Dataset:
  """Reads, tokenizes and encodes the data; writes the vocabulary, the class
  names and the dataset report into `workdir` (or reuses them).

  Args:
    data: the `data` config section: the source, the tokenizer and padding.
    embedding: the `embedding` section: with `kind="glove"`, the GloVe matrix of
      the vocabulary is read too.
    workdir: the run's directory.
    seed: the run's seed (the random rows of words missing from GloVe).
    write: False (processes other than 0 of a multi-process run) only reads
      what process 0 wrote.
  """
  workdir = pathlib.Path(workdir)
  splits = datasets.load_splits(data)
  tokenizer_path = workdir / workdir_lib.TOKENIZER_FILE
  labels_path = workdir / workdir_lib.LABELS_FILE
  if tokenizer_path.exists() and labels_path.exists():
    tokenizer = tokenizer_lib.Tokenizer.load(tokenizer_path)
    label_names = workdir_lib.read_json(labels_path)
  else:
    tokenizer = make_tokenizer(data)
    tokenizer.fit_on_texts(splits.train.texts)
    label_names = sorted_labels(splits.train.labels)
    if write:
      tokenizer.save(tokenizer_path)
      workdir_lib.write_json_atomic(labels_path, label_names)

  encoded = {
      name: encode(split.texts, split.labels, label_names, tokenizer, data)
      for name, split in (("train", splits.train), ("validation", splits.validation),
                          ("test", splits.test))
  }
  report = dict(splits.report)
  report["token_length_percentiles"] = {
      name: length_percentiles(split.token_ids) for name, split in encoded.items()}
  report["vocab_size"] = tokenizer.vocab_size
  report["num_classes"] = len(label_names)

  matrix = None
  if embedding.kind == "glove":
    vectors = glove.load_glove(embedding.path, dim=embedding.dim, words=tokenizer.word_index)
    matrix, coverage = glove.embedding_matrix(
        tokenizer.word_index, vectors, tokenizer.vocab_size, oov=embedding.oov,
        seed=seed, token_counts=tokenizer.word_counts)
    report["glove_coverage"] = coverage
    logging.info("%s", glove.coverage_line(coverage))
  if write:
    for line in datasets.dropped_lines(report):
      logging.warning("data: %s", line)
    workdir_lib.write_json_atomic(workdir / workdir_lib.DATASET_REPORT_FILE, report)
  return Dataset(encoded["train"], encoded["validation"], encoded["test"], tokenizer,
                 label_names, report, matrix)
