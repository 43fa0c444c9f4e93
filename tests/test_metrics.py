"""Tests for lstm_jax.training.metrics: exact sums, scikit-learn agreement."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from lstm_jax.training import metrics

NAMES = ["a", "b", "c", "d"]


def _random_batch(seed, batch=23, num_classes=4):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(batch, num_classes)).astype(np.float32)
  labels = rng.integers(0, num_classes, size=batch).astype(np.int32)
  return logits, labels


def _summary(logits, labels, weights=None, names=NAMES):
  if weights is None:
    weights = np.ones(len(labels), np.float32)
  sums = metrics.batch_metrics(jnp.asarray(logits), jnp.asarray(labels),
                               jnp.asarray(weights), len(names))
  return metrics.summarize(metrics.accumulate(None, sums), names)


def test_loss_is_mean_softmax_cross_entropy():
  logits, labels = _random_batch(0)
  expected = sk_metrics.log_loss(labels, jax.nn.softmax(logits),
                                 labels=range(4))
  assert _summary(logits, labels)["loss"] == pytest.approx(expected, rel=1e-5)


def test_padded_rows_count_for_nothing():
  logits, labels = _random_batch(1)
  padded_logits = np.concatenate([logits, np.full((5, 4), np.nan, np.float32)])
  padded_labels = np.concatenate([labels, np.zeros(5, np.int32)])
  weights = np.concatenate([np.ones(len(labels)),
                            np.zeros(5)]).astype(np.float32)
  padded = _summary(padded_logits, padded_labels, weights)
  plain = _summary(logits, labels)
  assert padded["loss"] == pytest.approx(plain["loss"], rel=1e-6)
  assert padded["accuracy"] == plain["accuracy"]
  assert padded["confusion_matrix"] == plain["confusion_matrix"]


def test_uneven_batches_give_the_per_example_mean():
  logits, labels = _random_batch(2, batch=50)
  whole = _summary(logits, labels)
  step = jax.jit(metrics.batch_metrics, static_argnums=3)
  total = None
  for start, stop in [(0, 7), (7, 31), (31, 32), (32, 50)]:
    chunk = slice(start, stop)
    # Every batch is padded to 24 rows, as the final batch of an epoch is.
    pad = 24 - (stop - start)
    batch_logits = np.pad(logits[chunk], ((0, pad), (0, 0)))
    batch_labels = np.pad(labels[chunk], (0, pad))
    weights = np.pad(np.ones(stop - start, np.float32), (0, pad))
    total = metrics.accumulate(
        total, step(batch_logits, batch_labels, weights, 4))
  split = metrics.summarize(total, NAMES)
  assert total["count"] == 50
  assert split["loss"] == pytest.approx(whole["loss"], rel=1e-6)
  assert split["accuracy"] == whole["accuracy"]
  assert split["confusion_matrix"] == whole["confusion_matrix"]


def test_sums_add_across_pmap_devices():
  devices = jax.local_devices()[:4]
  logits, labels = _random_batch(3, batch=4 * 6)
  weights = np.ones(24, np.float32)
  psummed = jax.pmap(
      lambda l, y, w: jax.lax.psum(metrics.batch_metrics(l, y, w, 4), "batch"),
      axis_name="batch", devices=devices)(
          logits.reshape(4, 6, 4), labels.reshape(4, 6), weights.reshape(4, 6))
  one_device = metrics.batch_metrics(logits, labels, weights, 4)
  for key in metrics.SUM_KEYS:
    np.testing.assert_allclose(psummed[key][0], one_device[key], rtol=1e-6)


def test_accuracy_and_confusion_match_sklearn():
  logits, labels = _random_batch(4, batch=40)
  predicted = logits.argmax(-1)
  summary = _summary(logits, labels)
  assert summary["accuracy"] == pytest.approx(
      sk_metrics.accuracy_score(labels, predicted))
  assert summary["confusion_matrix"] == sk_metrics.confusion_matrix(
      labels, predicted, labels=range(4)).tolist()


def test_per_class_matches_sklearn():
  logits, labels = _random_batch(5, batch=40)
  predicted = logits.argmax(-1)
  precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
      labels, predicted, labels=range(4), zero_division=0)
  per_class = _summary(logits, labels)["per_class"]
  assert list(per_class) == NAMES
  for i, name in enumerate(NAMES):
    assert per_class[name]["precision"] == pytest.approx(precision[i])
    assert per_class[name]["recall"] == pytest.approx(recall[i])
    assert per_class[name]["f1"] == pytest.approx(f1[i])
    assert per_class[name]["support"] == support[i]


def _logits_for(predicted, num_classes=4):
  return np.eye(num_classes, dtype=np.float32)[predicted] * 5.0


@pytest.mark.parametrize(
    "labels, predicted",
    [
        # Class 3 has no support and is never predicted: left out of the mean.
        ([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2]),
        # Class 3 is predicted but has no support: in the mean with F1 0.
        ([0, 0, 1, 2, 2, 2], [0, 3, 1, 2, 0, 2]),
        # Class 1 has support but is never predicted: in the mean with F1 0.
        ([0, 1, 1, 2, 3, 3], [0, 0, 2, 2, 3, 3]),
        # A single class, always right.
        ([2, 2, 2], [2, 2, 2]),
    ])
def test_macro_f1_matches_sklearn(labels, predicted):
  labels = np.asarray(labels, np.int32)
  summary = _summary(_logits_for(predicted), labels)
  assert summary["macro_f1"] == pytest.approx(
      sk_metrics.f1_score(labels, predicted, average="macro"))


def test_macro_f1_with_weights_matches_sklearn_sample_weight():
  logits, labels = _random_batch(6, batch=30)
  weights = (np.arange(30) % 3 != 0).astype(np.float32)
  assert _summary(logits, labels, weights)["macro_f1"] == pytest.approx(
      sk_metrics.f1_score(labels, logits.argmax(-1), average="macro",
                          sample_weight=weights))


def test_summarize_rejects_an_all_padding_split():
  logits, labels = _random_batch(7, batch=3)
  with pytest.raises(ValueError, match="every weight is 0"):
    _summary(logits, labels, np.zeros(3, np.float32))


def test_summarize_detects_labels_out_of_range():
  logits, labels = _random_batch(8, batch=5)
  labels[2] = 4
  with pytest.raises(ValueError, match=r"outside \[0, 4\)"):
    _summary(logits, labels)


def test_summarize_rejects_wrong_number_of_label_names():
  logits, labels = _random_batch(9, batch=5)
  sums = metrics.batch_metrics(logits, labels, np.ones(5, np.float32), 4)
  with pytest.raises(ValueError, match="3 label names"):
    metrics.summarize(sums, NAMES[:3])
