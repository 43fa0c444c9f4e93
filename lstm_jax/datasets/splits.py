"""From the source's train (/ test / validation) rows to train, validation and test splits.

Pure functions over lists of `(text, label)` rows. Every row ends in exactly
one split, where it is either used or counted as dropped with a reason:

1. Label filters (`min_examples_per_label`, then `top_k_labels`) are decided
   on the source's training rows; rows of other labels are dropped, in the
   source's test rows too, with the same reason.
2. Without a source test split, `test_split` of the kept training rows is held
   out, stratified by label and seeded.
3. Without a source validation split, `validation_split` of the remaining
   training rows is held out: stratified and seeded, or the last fraction
   unshuffled (Keras `validation_split`).
4. Validation and test rows whose label is not in the final training split are
   dropped ("label not in train"): test rows never shape the label set.

Stratified hold-outs leave at least one training row per label. Rows keep their
source order within each split.
"""

import collections
import dataclasses
import math
from typing import Sequence

import numpy as np

from lstm_jax.datasets import readers

LABEL_TOO_RARE = "label has fewer than min_examples_per_label rows"
LABEL_NOT_TOP_K = "label not in top_k_labels"
LABEL_NOT_IN_TRAIN = "label not in train"

SPLIT_NAMES = ("train", "validation", "test")

# Streams of the seeded generator, so the two draws are independent.
_TEST_STREAM, _VALIDATION_STREAM = 0, 1


@dataclasses.dataclass(frozen=True)
class SplitData:
  """One split: `texts[i]` has the string label `labels[i]`."""
  texts: list[str]
  labels: list[str]

  def __len__(self) -> int:
    return len(self.texts)


@dataclasses.dataclass(frozen=True)
class Splits:
  """The three splits and the dataset report (see `dataset_report.py`)."""
  train: SplitData
  validation: SplitData
  test: SplitData
  report: dict


Rows = list[tuple[str, str]]


def label_filter(labels: Sequence[str], top_k: int, min_examples: int
                 ) -> dict[str, str]:
  """Maps each label to drop to its reason; 0 disables a filter.

  Labels are ranked by count, ties by label, so the choice is order-free.
  """
  counts = collections.Counter(labels)
  reasons = {l: LABEL_TOO_RARE for l, c in counts.items() if c < min_examples}
  ranked = sorted((l for l in counts if l not in reasons),
                  key=lambda l: (-counts[l], l))
  if top_k:
    reasons.update({l: LABEL_NOT_TOP_K for l in ranked[top_k:]})
  return reasons


def stratified_holdout(labels: Sequence[str], fraction: float, seed: int,
                       stream: int) -> np.ndarray:
  """Marks about `fraction` of the rows of each label, at random.

  The total is round(n * fraction), shared out by largest remainder; each label
  keeps at least one unmarked row.

  Returns:
    <bool>[n], True for a held-out row.
  """
  held = np.zeros(len(labels), bool)
  if not fraction or not labels:
    return held
  by_label: dict[str, list[int]] = collections.defaultdict(list)
  for i, label in enumerate(labels):
    by_label[label].append(i)
  names = sorted(by_label)
  quota = {l: len(by_label[l]) * fraction for l in names}
  take = {l: min(math.floor(quota[l]), len(by_label[l]) - 1) for l in names}
  short = int(len(labels) * fraction + 0.5) - sum(take.values())
  for l in sorted(names, key=lambda l: (take[l] - quota[l], l)):
    if short <= 0:
      break
    if take[l] < len(by_label[l]) - 1:
      take[l] += 1
      short -= 1
  rng = np.random.default_rng([seed, stream])
  for l in names:
    held[rng.choice(by_label[l], size=take[l], replace=False)] = True
  return held


def last_holdout(n: int, fraction: float) -> np.ndarray:
  """Marks the last rows as Keras `fit(validation_split=fraction)` does.

  Returns:
    <bool>[n], True from floor(n * (1 - fraction)) on.
  """
  held = np.zeros(n, bool)
  if fraction:
    held[math.floor(n * (1.0 - fraction)):] = True
  return held


def with_known_labels(texts: Sequence[str], labels: Sequence[str],
                      known: Sequence[str]) -> tuple[list[str], list[str], int]:
  """The rows whose label is in `known`: (texts, labels, how many others)."""
  known = set(known)
  rows = [(t, l) for t, l in zip(texts, labels) if l in known]
  return [t for t, _ in rows], [l for _, l in rows], len(labels) - len(rows)


def _take(rows: Rows, mask: np.ndarray, keep: bool) -> Rows:
  return [r for r, m in zip(rows, mask) if bool(m) == keep]


def _drop_labels(rows: Rows, reasons: dict[str, str], account: readers.Tally
                 ) -> Rows:
  kept = []
  for row in rows:
    if row[1] in reasons:
      account.drop(reasons[row[1]])
    else:
      kept.append(row)
  return kept


def make_splits(train: Rows, test: Rows | None, validation: Rows | None = None, *,
                validation_split: float,
                validation_mode: str, test_split: float, seed: int,
                top_k_labels: int = 0, min_examples_per_label: int = 0
                ) -> tuple[dict[str, Rows], dict[str, readers.Tally]]:
  """Splits the source rows (see the module docstring).

  Args:
    train: the source's training rows `(text, label)`.
    test: the source's test rows, or None to hold out `test_split` of train.
    validation: the source's validation rows, or None to hold out
      `validation_split` of train.
    validation_split: fraction of the training rows held out for validation.
    validation_mode: `stratified` or `last`.
    test_split: fraction held out as test when `test` is None.
    seed: seed of the stratified draws.
    top_k_labels: keep the k most frequent training labels (0: all).
    min_examples_per_label: drop labels with fewer training rows (0: none).

  Returns:
    The rows used per split, and per split the rows that reached it and the
    rows dropped there by reason (read = used + dropped).
  """
  accounts = {name: readers.Tally() for name in SPLIT_NAMES}
  accounts["train"].read = len(train)
  reasons = label_filter([l for _, l in train], top_k_labels,
                         min_examples_per_label)
  pool = _drop_labels(train, reasons, accounts["train"])
  if test is None:
    held = stratified_holdout([l for _, l in pool], test_split, seed,
                              _TEST_STREAM)
    test, pool = _take(pool, held, True), _take(pool, held, False)
    accounts["train"].read -= len(test)
  accounts["test"].read = len(test)
  if validation is None:
    if validation_mode == "last":
      held = last_holdout(len(pool), validation_split)
    else:
      held = stratified_holdout([l for _, l in pool], validation_split, seed,
                                _VALIDATION_STREAM)
    validation, pool = _take(pool, held, True), _take(pool, held, False)
    accounts["train"].read -= len(validation)
  accounts["validation"].read = len(validation)
  train_labels = {l for _, l in pool}

  def unseen(rows: Rows) -> dict[str, str]:
    return {l: reasons.get(l, LABEL_NOT_IN_TRAIN)
            for _, l in rows if l not in train_labels}

  return {
      "train": pool,
      "validation": _drop_labels(validation, unseen(validation),
                                 accounts["validation"]),
      "test": _drop_labels(test, unseen(test), accounts["test"]),
  }, accounts
