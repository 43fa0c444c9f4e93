"""`train.class_weight`: per-class weights of the training loss, as Keras's `fit(class_weight=)`.

Keras turns `class_weight` into a sample weight per example and reduces the loss
with `sum_over_batch_size`: sum(loss_i * w_i) / batch size, so a weighted batch
is divided by its number of examples, not by the sum of its weights. Validation
and test metrics are unweighted, as in Keras.

The key is a string: "" (no weights), "balanced" (scikit-learn's
n_samples / (n_classes * count), from the training split) or
"label=weight,label=weight" (a class not named keeps weight 1).
"""

from typing import Optional, Sequence

import numpy as np

from lstm_jax import errors

KEY = "train.class_weight"
BALANCED = "balanced"


def parse(spec: str, label_names: Sequence[str],
          train_labels: np.ndarray) -> Optional[np.ndarray]:
  """The weight of every class, or None when the key is empty.

  Args:
    spec: the value of `train.class_weight`.
    label_names: the C class names, in class id order.
    train_labels: <int>[N] the training split's class ids.

  Returns:
    <float32>[C] weights, or None.
  """
  spec = spec.strip()
  if not spec:
    return None
  num_classes = len(label_names)
  if spec == BALANCED:
    counts = np.bincount(np.asarray(train_labels), minlength=num_classes)
    # A class without training examples never meets its weight: keep it at 1.
    return np.where(counts > 0, len(train_labels) / (num_classes * np.maximum(counts, 1)),
                    1.0).astype(np.float32)
  weights = np.ones(num_classes, np.float32)
  index = {name: i for i, name in enumerate(label_names)}
  for item in spec.split(","):
    label, sep, value = item.strip().rpartition("=")
    if not sep or not label:
      raise errors.BadValueError(
          f"{KEY}={spec!r}: {item.strip()!r} is not label=weight; write "
          f"'{BALANCED}' or e.g. '{label_names[0]}=2.0'")
    if label not in index:
      raise errors.BadValueError(
          f"{KEY}: unknown label {label!r}; the training labels are: "
          f"{', '.join(label_names)}")
    try:
      weight = float(value)
    except ValueError:
      weight = float("nan")
    if not np.isfinite(weight) or weight < 0:
      raise errors.BadValueError(
          f"{KEY}: the weight of {label!r} must be a number >= 0, got {value!r}")
    weights[index[label]] = weight
  return weights
