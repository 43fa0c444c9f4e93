"""Word tokenizer and padding with Keras `Tokenizer` / `pad_sequences` semantics.

A text becomes words exactly as Keras's legacy `Tokenizer` splits it:

1. lowercased with `str.lower` (when `lower`);
2. every character of `filters` replaced by `split` (the default filters are
   ASCII punctuation, tab and newline; the apostrophe is kept, so "don't" is one
   word);
3. split on `split` (a single space by default, not on any whitespace: a
   carriage return or a no-break space stays inside a word), empty pieces
   dropped.

The vocabulary ranks words by count over the fitted texts, ties broken by first
occurrence; index 0 is reserved for padding, and with an `oov_token` that token
takes index 1. Encoding keeps a word when its index is below `num_words`;
other words become the OOV index when there is an OOV token and are dropped
otherwise.

The fitted tokenizer is saved as JSON (format `lstm_jax.text.tokenizer`, version 1)
so that prediction maps new text the same way. `to_keras_json` writes the
format of Keras's own `Tokenizer.to_json`, which `tokenizer_from_json` reads.
"""

import collections
from collections.abc import Iterable, Sequence
import itertools
import json
import os
import pathlib
from typing import Any, Optional

import numpy as np

from lstm_jax import errors

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
FORMAT = "lstm_jax.text.tokenizer"
VERSION = 1
PADDING_SIDES = ("pre", "post")
_SEPARATOR_TRIES = 4
_MARKER_ID = -2


def _check_side(name: str, value: str) -> None:
  if value not in PADDING_SIDES:
    raise ValueError(f"{name} must be 'pre' or 'post', got {value!r}.")


def _check_texts(texts: Any) -> Sequence[str]:
  if isinstance(texts, (str, bytes)):
    raise TypeError("Expected a list of texts, got a single "
                    f"{type(texts).__name__}; wrap it in a list.")
  texts = texts if isinstance(texts, Sequence) else list(texts)
  for i, text in enumerate(texts):
    if not isinstance(text, str):
      raise TypeError(f"Text {i} is a {type(text).__name__}, not a str; decode "
                      "bytes before tokenizing.")
  return texts


def _layout(lengths: np.ndarray, maxlen: int, padding: str,
            truncating: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Where each token of a flat, concatenated set of sequences lands.

  Args:
    lengths: <int64>[N] sequence lengths.
    maxlen: output width.
    padding: 'pre' or 'post'.
    truncating: 'pre' (keep the last `maxlen`) or 'post' (keep the first).

  Returns:
    (keep <bool>[sum(lengths)], rows <int64>[kept], cols <int64>[kept]).
  """
  total = int(lengths.sum())
  rows = np.repeat(np.arange(len(lengths)), lengths)
  starts = np.cumsum(lengths) - lengths
  position = np.arange(total) - starts[rows]
  seq_len = lengths[rows]
  if truncating == "pre":
    offset = np.maximum(seq_len - maxlen, 0)
    keep = position >= offset
  else:
    offset = np.zeros_like(seq_len)
    keep = position < maxlen
  cols = position - offset
  if padding == "pre":
    cols = cols + maxlen - np.minimum(seq_len, maxlen)
  return keep, rows[keep], cols[keep]


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: Optional[int] = None,
                  padding: str = "pre", truncating: str = "pre",
                  value: int = 0) -> np.ndarray:
  """Pads / truncates integer sequences to one length, like Keras.

  Args:
    sequences: N sequences of token ids.
    maxlen: output width; None means the longest sequence (0 for no sequences).
    padding: 'pre' puts the padding before the tokens, 'post' after.
    truncating: 'pre' drops tokens from the start of a longer sequence, 'post'
      from the end.
    value: the padding id.

  Returns:
    <int32>[N, maxlen].
  """
  _check_side("padding", padding)
  _check_side("truncating", truncating)
  lengths = np.fromiter(map(len, sequences), np.int64, count=len(sequences))
  if maxlen is None:
    maxlen = int(lengths.max()) if len(lengths) else 0
  if maxlen < 0:
    raise ValueError(f"maxlen must be >= 0, got {maxlen}.")
  flat = np.fromiter(itertools.chain.from_iterable(sequences), np.int64,
                     count=int(lengths.sum()))
  return _place(flat, lengths, maxlen, padding, truncating, value)


def _place(flat: np.ndarray, lengths: np.ndarray, maxlen: int, padding: str,
           truncating: str, value: int) -> np.ndarray:
  out = np.full((len(lengths), maxlen), value, np.int32)
  keep, rows, cols = _layout(lengths, maxlen, padding, truncating)
  out[rows, cols] = flat[keep]
  return out


class Tokenizer:
  """A Keras-compatible word tokenizer (see the module docstring).

  Attributes:
    word_index: word -> index (1-based, in rank order; the OOV token first).
    word_counts: word -> count over the fitted texts, in first-occurrence order.
    document_count: number of texts fitted.
  """

  def __init__(self, num_words: Optional[int] = None, *,
               filters: str = KERAS_FILTERS, lower: bool = True, split: str = " ",
               oov_token: Optional[str] = None):
    """Creates an empty tokenizer.

    Args:
      num_words: keep only words with index < num_words (so at most
        num_words - 1 words, the OOV token included); None keeps all.
      filters: characters replaced by `split` before splitting.
      lower: lowercase texts first.
      split: the single separator string.
      oov_token: when set, takes index 1 and stands for every word that is not
        kept; when None such words are dropped.
    """
    if num_words is not None and (isinstance(num_words, bool) or
                                  not isinstance(num_words, int) or num_words < 1):
      raise ValueError(f"num_words must be a positive int or None, got {num_words!r}.")
    if not isinstance(split, str) or not split:
      raise ValueError(f"split must be a non-empty string, got {split!r}.")
    self.num_words = num_words
    self.filters = filters
    self.lower = lower
    self.split = split
    self.oov_token = oov_token
    self.word_counts: dict[str, int] = {}
    self.word_index: dict[str, int] = {}
    self.document_count = 0
    self._table = str.maketrans({c: split for c in filters})
    self._byte_table = (
        bytes.maketrans(filters.encode(), split.encode() * len(filters))
        if (filters + split).isascii() and len(split) == 1 else None)

  def words(self, text: str) -> list[str]:
    """The words of one text, before any vocabulary lookup."""
    if self.lower:
      text = text.lower()
    return list(filter(None, text.translate(self._table).split(self.split)))

  def _corpus_words(self, texts: Sequence[str]) -> tuple[list[str], Any]:
    """The words of all texts in one list, with a marker between texts.

    Splitting text by text costs several Python calls per text; instead the
    texts are joined with a separator character that none of them contains,
    then lowered, filtered and split in single C-level passes. The separator
    is an ASCII control character, neither cased nor case-ignorable, so
    `str.lower` (whose only context-dependent rule, the final sigma, stops at
    such a character) gives exactly the per-text result.

    Returns:
      (words, marker): `marker` is the element between consecutive texts.
    """
    joined = self._join(texts)
    if joined is None:
      words = []
      for text in texts:
        words += self.words(text)
        words.append(None)
      return words[:-1], None
    corpus, separator = joined
    if self.lower:
      corpus = corpus.lower()
    if self._byte_table is not None:
      # UTF-8 multi-byte sequences contain no ASCII bytes, so an ASCII-only
      # table is safe on the encoded bytes, and much faster than str.translate.
      corpus = corpus.encode("utf-8", "surrogatepass").translate(
          self._byte_table).decode("utf-8", "surrogatepass")
    else:
      corpus = corpus.translate(self._table)
    corpus = corpus.replace(separator, self.split + separator + self.split)
    return list(filter(None, corpus.split(self.split))), separator

  def _join(self, texts: Sequence[str]) -> Optional[tuple[str, str]]:
    """The texts joined by a separator none contains, or None if none found."""
    if len(self.split) != 1:
      return None  # A multi-character split could match across the separator.
    candidates = [c for c in map(chr, range(32)) if c not in self.filters and c != self.split]
    for separator in candidates[:_SEPARATOR_TRIES]:
      corpus = separator.join(texts)
      if corpus.count(separator) == len(texts) - 1:
        return corpus, separator
    return None

  def fit_on_texts(self, texts: Iterable[str]) -> None:
    """Counts words and ranks the vocabulary; may be called repeatedly."""
    texts = _check_texts(texts)
    words, marker = self._corpus_words(texts)
    new_counts = collections.Counter(words)
    new_counts.pop(marker, None)
    counts = self.word_counts
    for word, count in new_counts.items():
      counts[word] = counts.get(word, 0) + count
    self.document_count += len(texts)
    # Stable sort: ties keep first-occurrence order, as in Keras.
    ranked = sorted(counts, key=counts.__getitem__, reverse=True)
    if self.oov_token is not None:
      ranked.insert(0, self.oov_token)
    # A word equal to the OOV token keeps its own rank, as in Keras.
    self.word_index = dict(zip(ranked, range(1, len(ranked) + 1)))

  @property
  def vocab_size(self) -> int:
    """Embedding rows needed: 1 + the largest index `encode` can produce.

    That is min(num_words, 1 + len(word_index)) in every ordinary case, with
    row 0 for padding; 1 before fitting.
    """
    largest = max(self.word_index.values(), default=0)
    if self.num_words is None:
      return largest + 1
    return min(self.num_words, largest + 1)

  @property
  def _oov_index(self) -> Optional[int]:
    return None if self.oov_token is None else self.word_index.get(self.oov_token)

  def _flat_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ids of all kept words, concatenated, and the per-text lengths."""
    if not texts:
      return np.zeros(0, np.int64), np.zeros(0, np.int64)
    words, marker = self._corpus_words(texts)
    lookup = dict(self.word_index)
    lookup[marker] = _MARKER_ID
    ids = np.fromiter(map(lookup.get, words, itertools.repeat(-1)), np.int64,
                      count=len(words))
    is_marker = ids == _MARKER_ID
    ends = np.append(np.flatnonzero(is_marker), len(ids))
    lengths = np.diff(ends, prepend=-1) - 1
    ids = ids[~is_marker]
    unknown = ids < 0
    if self.num_words is not None:
      unknown |= ids >= self.num_words
    oov = self._oov_index
    if oov is not None:
      ids[unknown] = oov
    elif unknown.any():
      rows = np.repeat(np.arange(len(lengths)), lengths)
      lengths = lengths - np.bincount(rows[unknown], minlength=len(lengths))
      ids = ids[~unknown]
    return ids, lengths

  def texts_to_sequences(self, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, unpadded."""
    ids, lengths = self._flat_ids(_check_texts(texts))
    return [part.tolist() for part in np.split(ids, np.cumsum(lengths)[:-1])] if len(
        lengths) else []

  def encode(self, texts: Sequence[str], max_length: Optional[int],
             padding: str = "pre", truncating: str = "pre") -> np.ndarray:
    """Token ids padded to one length; same as `pad_sequences(texts_to_sequences(...))`.

    Args:
      texts: N texts.
      max_length: output width; None means the longest encoded text (at least 1).
      padding: 'pre' or 'post'.
      truncating: 'pre' or 'post'.

    Returns:
      <int32>[N, max_length], 0 for padding.
    """
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    ids, lengths = self._flat_ids(_check_texts(texts))
    if max_length is None:
      max_length = max(1, int(lengths.max(initial=0)))
    if max_length < 1:
      raise ValueError(f"max_length must be >= 1, got {max_length}.")
    return _place(ids, lengths, max_length, padding, truncating, 0)

  def unknown_words(self, text: str) -> list[str]:
    """The words of `text` that encode to nothing or to the OOV index, in order."""
    limit = self.num_words or float("inf")
    oov = self._oov_index
    return [w for w in self.words(text)
            if (i := self.word_index.get(w)) is None or i >= limit or i == oov]

  def unknown_fraction(self, text: str) -> float:
    """Share of the words of `text` that encode to nothing or to the OOV index.

    A text with no words at all counts as fully unknown (1.0), so callers can
    warn that the model sees nothing it was trained on.
    """
    words = self.words(text)
    if not words:
      return 1.0
    return len(self.unknown_words(text)) / len(words)

  def to_json(self) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "oov_token": self.oov_token,
        },
        "document_count": self.document_count,
        "vocab_size": self.vocab_size,
        "word_counts": list(self.word_counts.items()),
        "word_index": self.word_index,
    }

  def to_keras_json(self) -> str:
    """The JSON string Keras's `Tokenizer.to_json` writes, for
    `tokenizer_from_json` (Keras 2 / TF, and Keras 3's legacy module).

    Document frequencies are not kept here, so `word_docs` / `index_docs` are
    empty: `texts_to_sequences` and `pad_sequences` are the same; only
    `texts_to_matrix(mode="tfidf")` would differ.
    """
    return json.dumps({"class_name": "Tokenizer", "config": {
        "num_words": self.num_words,
        "filters": self.filters,
        "lower": self.lower,
        "split": self.split,
        "char_level": False,
        "oov_token": self.oov_token,
        "document_count": self.document_count,
        "word_counts": json.dumps(self.word_counts),
        "word_docs": json.dumps({}),
        "index_docs": json.dumps({}),
        "index_word": json.dumps({i: w for w, i in self.word_index.items()}),
        "word_index": json.dumps(self.word_index),
    }})

  @classmethod
  def from_keras_json(cls, text: str, source: str = "Keras tokenizer JSON") -> "Tokenizer":
    """Reads what Keras's `Tokenizer.to_json` (and `to_keras_json`) writes; checked as
    `from_json` checks its own format, errors naming `source` and the key."""
    try:
      data = json.loads(text)
      config = data["config"]
      if data.get("class_name") != "Tokenizer" or config.get("char_level"):
        raise ValueError("not a word-level Keras Tokenizer")
      own = {
          "format": FORMAT, "version": VERSION,
          "config": {key: config[key]
                     for key in ("num_words", "filters", "lower", "split", "oov_token")},
          # Keras keeps the counts as a JSON object, the index and counts as JSON text.
          "word_counts": [list(pair) for pair in json.loads(config["word_counts"]).items()],
          "word_index": json.loads(config["word_index"]),
          "document_count": config["document_count"],
      }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
      raise errors.BadValueError(f"{source} is not a Keras Tokenizer's JSON "
                                 f"(Tokenizer.to_json): {e!r}") from None
    return cls.from_json(own, source=source)

  def save(self, path: os.PathLike) -> None:
    """Writes the tokenizer as JSON (ASCII, so any reader can load it); atomic."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(self.to_json(), ensure_ascii=True, indent=1), "ascii")
    os.replace(tmp, path)

  @classmethod
  def load(cls, path: os.PathLike) -> "Tokenizer":
    """Reads a tokenizer written by `save`; errors name the file and the key."""
    path = pathlib.Path(path)
    try:
      data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
      raise errors.MissingFileError(
          f"Tokenizer file not found: {path}. It is written by training into the "
          "workdir; point at the workdir of a finished run.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise errors.BadValueError(f"{path} is not valid JSON: {e}") from None
    return cls.from_json(data, source=str(path))

  @classmethod
  def from_json(cls, data: Any, source: str = "tokenizer JSON") -> "Tokenizer":
    """Rebuilds a tokenizer from `to_json` output, checking every key."""

    def bad(key: str, expected: str) -> errors.BadValueError:
      return errors.BadValueError(f"{source}: key {key!r} must be {expected}.")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
      raise bad("format", repr(FORMAT))
    if data.get("version") != VERSION:
      raise errors.BadValueError(f"{source}: tokenizer format version {data.get('version')!r} "
                       f"is not supported (this lstm_jax reads version {VERSION}).")
    config = data.get("config")
    if not isinstance(config, dict):
      raise bad("config", "an object")
    try:
      tokenizer = cls(**config)
    except (TypeError, ValueError) as e:
      raise errors.BadValueError(f"{source}: invalid 'config': {e}") from None
    counts = data.get("word_counts")
    if not isinstance(counts, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and
        isinstance(p[1], int) for p in counts):
      raise bad("word_counts", "a list of [word, count] pairs")
    index = data.get("word_index")
    if not isinstance(index, dict) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in index.values()):
      raise bad("word_index", "an object mapping words to ints >= 1")
    document_count = data.get("document_count")
    if not isinstance(document_count, int):
      raise bad("document_count", "an int")
    tokenizer.word_counts = dict(counts)
    tokenizer.word_index = dict(index)
    tokenizer.document_count = document_count
    return tokenizer
