"""Exact classification metrics from weighted sums.

A step returns SUMS, never means: `batch_metrics` adds up the loss, the
correct predictions, the example count and the confusion matrix over the
examples of one batch, each weighted by `weight` (1 for a real example, 0 for
padding added to fill the last batch). Sums add across batches and devices
(`accumulate`, `lax.psum`), so the mean over an epoch is exactly the mean over
its real examples however they were batched. `summarize` turns the sums into
loss, accuracy, macro-F1, per-class precision / recall / F1 and the confusion
matrix.

Macro-F1 follows scikit-learn's `f1_score(y_true, y_pred, average="macro")`:
the average runs over the classes that occur as a true label OR as a
prediction; a class with neither support nor predictions is left out (it has
no F1 at all). Within that set F1 = 2 tp / (2 tp + fp + fn) is always defined.
Per-class precision of a class never predicted and recall of a class with no
support are 0, as with scikit-learn's `zero_division=0`.
"""

from typing import Any, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lstm_jax.models import heads

SUM_KEYS = ("loss_sum", "correct", "count", "confusion")


def batch_metrics(logits: jax.Array, labels: jax.Array, weights: jax.Array,
                  num_classes: int, *, head: heads.Head = heads.Softmax(),
                  loss_weights: Optional[jax.Array] = None) -> dict[str, jax.Array]:
  """Weighted metric sums of one batch (jit / pmap safe).

  Args:
    logits: <float32>[B, O] the model's output, O = `head.units(num_classes)`.
    labels: <int32>[B] true class ids in [0, C).
    weights: <float32>[B] 1 for a real example, 0 for padding.
    num_classes: C.
    head: the model's output activation: its loss and its predicted class.
    loss_weights: <float32>[B] weights of the loss sum alone (class weights
      times `weights`); None: `weights`.

  Returns:
    A dict of sums: `loss_sum` <float32>[] (the head's loss),
    `correct` <float32>[], `count` <float32>[] (sum of weights) and
    `confusion` <float32>[C, C] (rows true class, columns predicted class).
    Out-of-range labels add nothing to `confusion`, which `summarize` detects.
  """
  logits = logits.astype(jnp.float32)
  weights = weights.astype(jnp.float32)
  loss_weights = weights if loss_weights is None else loss_weights.astype(jnp.float32)
  true_one_hot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  losses = head.losses(logits, labels)
  predicted = head.predicted(logits)
  pred_one_hot = jax.nn.one_hot(predicted, num_classes, dtype=jnp.float32)
  return {
      # `where` so that a padded row with non-finite logits adds 0, not NaN.
      "loss_sum": jnp.sum(jnp.where(weights > 0, loss_weights * losses, 0.0)),
      "correct": jnp.sum(weights * (predicted == labels)),
      "count": jnp.sum(weights),
      "confusion": jnp.einsum("bt,bp->tp", true_one_hot * weights[:, None],
                              pred_one_hot),
  }


def accumulate(total: Optional[Mapping[str, Any]],
               sums: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Adds one batch's sums to a running total, in float64 on the host.

  Args:
    total: the running total, or None to start one.
    sums: sums from `batch_metrics` (device or numpy arrays).

  Returns:
    The new total, a dict of float64 numpy arrays.
  """
  sums = {key: np.asarray(jax.device_get(sums[key]), np.float64)
          for key in SUM_KEYS}
  if total is None:
    return sums
  return {key: total[key] + sums[key] for key in SUM_KEYS}


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
  """numerator / denominator, 0 where the denominator is 0."""
  return np.divide(numerator, denominator,
                   out=np.zeros_like(numerator, dtype=np.float64),
                   where=denominator > 0)


def summarize(sums: Mapping[str, Any],
              label_names: Sequence[str]) -> dict[str, Any]:
  """Turns summed metrics into the reported values.

  Args:
    sums: summed `batch_metrics` over a whole split.
    label_names: the C class names, index = class id.

  Returns:
    `loss`, `accuracy`, `macro_f1` (floats), `per_class`
    ({name: {precision, recall, f1, support}}) and `confusion_matrix`
    ([true][predicted] counts as nested lists of ints).

  Raises:
    ValueError: no example has a nonzero weight, the confusion matrix does not
      match the label names, or it does not add up to the count (a label
      outside [0, C) reached `batch_metrics`).
  """
  confusion = np.asarray(jax.device_get(sums["confusion"]), np.float64)
  count = float(sums["count"])
  num_classes = len(label_names)
  if confusion.shape != (num_classes, num_classes):
    raise ValueError(
        f"confusion matrix has shape {confusion.shape} but there are "
        f"{num_classes} label names; pass the names of all classes in id order")
  if count <= 0:
    raise ValueError("no examples to summarize: every weight is 0")
  if not np.isclose(confusion.sum(), count, rtol=1e-6):
    raise ValueError(
        f"confusion matrix sums to {confusion.sum():g} but {count:g} examples "
        f"were counted: some labels lie outside [0, {num_classes})")
  true_positives = np.diag(confusion)
  support = confusion.sum(axis=1)
  predicted = confusion.sum(axis=0)
  precision = _safe_ratio(true_positives, predicted)
  recall = _safe_ratio(true_positives, support)
  f1 = _safe_ratio(2 * true_positives, support + predicted)
  present = (support > 0) | (predicted > 0)
  return {
      "loss": float(sums["loss_sum"]) / count,
      "accuracy": float(sums["correct"]) / count,
      "macro_f1": float(f1[present].mean()),
      "per_class": {
          name: {
              "precision": float(precision[i]),
              "recall": float(recall[i]),
              "f1": float(f1[i]),
              "support": int(round(support[i])),
          } for i, name in enumerate(label_names)
      },
      "confusion_matrix": np.rint(confusion).astype(int).tolist(),
  }
