"""Splits: label filters, stratified and Keras-style hold-outs, accounting."""

import collections

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from keras.src.trainers.data_adapters import array_slicing
import numpy as np
import pytest

from lstm_jax.datasets import splits


def rows(labels: str, prefix: str = "r") -> list[tuple[str, str]]:
  return [(f"{prefix}{i}", l) for i, l in enumerate(labels)]


def split(train, test=None, validation=None, **kwargs):
  """`make_splits` with defaults; checks read = used + dropped per split."""
  kwargs = {"validation_split": 0.0, "validation_mode": "stratified",
            "test_split": 0.0, "seed": 0, **kwargs}
  used, accounts = splits.make_splits(train, test, validation, **kwargs)
  for name in splits.SPLIT_NAMES:
    account = accounts[name]
    assert account.read == len(used[name]) + sum(account.dropped.values())
  source = len(train) + len(test or []) + len(validation or [])
  assert sum(a.read for a in accounts.values()) == source
  return used, accounts


def test_stratified_holdout_takes_the_fraction_of_each_label():
  labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
  held = splits.stratified_holdout(labels, 0.2, seed=3, stream=0)
  counts = collections.Counter(l for l, h in zip(labels, held) if h)
  assert counts == {"a": 12, "b": 6, "c": 2}


def test_stratified_holdout_is_seeded():
  labels = ["a", "b"] * 50
  draw = lambda seed: splits.stratified_holdout(labels, 0.3, seed, stream=0)
  np.testing.assert_array_equal(draw(7), draw(7))
  assert (draw(7) != draw(8)).any()


def test_stratified_holdout_leaves_every_label_in_train():
  labels = ["a"] * 10 + ["rare"]
  held = splits.stratified_holdout(labels, 0.5, seed=0, stream=0)
  assert not held[-1]
  assert held.sum() == 6  # round(11 * 0.5), all from "a".


@pytest.mark.parametrize("n, fraction", [(10, 0.1), (7, 0.25), (101, 0.2),
                                         (3, 0.5)])
def test_last_holdout_matches_keras_validation_split(n, fraction):
  x = np.arange(n)
  (train,), (validation,) = array_slicing.train_validation_split(
      (x,), validation_split=fraction)
  held = splits.last_holdout(n, fraction)
  np.testing.assert_array_equal(x[~held], train)
  np.testing.assert_array_equal(x[held], validation)


def test_label_filter_ranks_by_count_then_label():
  labels = list("aaabbbccd")
  assert splits.label_filter(labels, top_k=2, min_examples=0) == {
      "c": splits.LABEL_NOT_TOP_K, "d": splits.LABEL_NOT_TOP_K}
  assert splits.label_filter(labels, top_k=0, min_examples=2) == {
      "d": splits.LABEL_TOO_RARE}


def test_filtered_labels_are_dropped_in_test_with_the_same_reason():
  used, accounts = split(rows("aaabbc"), rows("abcz", "t"), top_k_labels=2)
  assert [l for _, l in used["train"]] == list("aaabb")
  assert [l for _, l in used["test"]] == ["a", "b"]
  assert accounts["train"].dropped == {splits.LABEL_NOT_TOP_K: 1}
  assert accounts["test"].dropped == {splits.LABEL_NOT_TOP_K: 1,
                                      splits.LABEL_NOT_IN_TRAIN: 1}


def test_test_is_held_out_of_train_when_the_source_has_none():
  used, accounts = split(rows("ab" * 10), None, test_split=0.2,
                         validation_split=0.25)
  assert (len(used["train"]), len(used["validation"]), len(used["test"])) == (
      12, 4, 4)
  texts = [{t for t, _ in used[n]} for n in splits.SPLIT_NAMES]
  assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
  assert accounts["test"].read == 4


def test_source_test_rows_never_reach_train_or_validation():
  used, _ = split(rows("ab" * 10), rows("ab" * 5, "t"), validation_split=0.2)
  seen = {t for n in ("train", "validation") for t, _ in used[n]}
  assert not any(t.startswith("t") for t in seen)
  assert len(used["test"]) == 10


def test_source_validation_rows_replace_the_held_out_fraction():
  used, accounts = split(rows("ab" * 10), validation=rows("abc", "v"), validation_split=0.2)
  assert len(used["train"]) == 20
  assert used["validation"] == [("v0", "a"), ("v1", "b")]
  assert accounts["validation"].dropped == {splits.LABEL_NOT_IN_TRAIN: 1}


def test_last_mode_keeps_order_and_drops_labels_missing_from_train():
  used, accounts = split(rows("aaaab"), None, validation_split=0.2,
                         validation_mode="last")
  assert used["train"] == rows("aaaa")
  assert used["validation"] == []
  assert accounts["validation"].dropped == {splits.LABEL_NOT_IN_TRAIN: 1}


labels_strategy = st.lists(st.sampled_from(["a", "b", "c", " d", "E"]),
                           max_size=40)


@settings(max_examples=80, deadline=None)
@given(labels_strategy, st.none() | labels_strategy,
       st.sampled_from([0.0, 0.1, 0.5]), st.sampled_from([0.0, 0.2]),
       st.sampled_from(["stratified", "last"]), st.integers(0, 3),
       st.integers(0, 4), st.integers(0, 2**31))
def test_every_row_is_used_or_dropped_exactly_once(
    train, test, validation_split, test_split, mode, top_k, min_examples,
    seed):
  train_rows = rows(train)
  test_rows = None if test is None else rows(test, "t")
  used, _ = split(train_rows, test_rows, validation_split=validation_split,
                  validation_mode=mode, test_split=test_split, seed=seed,
                  top_k_labels=top_k, min_examples_per_label=min_examples)
  out = [r for n in splits.SPLIT_NAMES for r in used[n]]
  assert len(out) == len(set(out))  # No row used twice.
  assert set(out) <= set(train_rows) | set(test_rows or [])
  train_labels = {l for _, l in used["train"]}
  assert all(l in train_labels for n in ("validation", "test")
             for _, l in used[n])


def test_rows_of_unknown_labels_are_left_out_and_counted():
  texts, labels, dropped = splits.with_known_labels(["x", "y", "z"], ["a", "c", "b"], ["a", "b"])
  assert (texts, labels, dropped) == (["x", "z"], ["a", "b"], 1)
