"""`train.class_weight` follows Keras's `fit(class_weight=)`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax import errors
from lstm_jax.training import class_weights
from lstm_jax.training import metrics

LABELS = ["neg", "neu", "pos"]


def test_no_key_means_no_weights():
  assert class_weights.parse("", LABELS, np.array([0, 1, 2])) is None


def test_balanced_weights_are_scikit_learns():
  train = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
  np.testing.assert_allclose(class_weights.parse("balanced", LABELS, train),
                             [12 / (3 * 4), 12 / (3 * 2), 12 / (3 * 6)], rtol=1e-6)


def test_named_classes_get_their_weight_and_the_others_one():
  np.testing.assert_array_equal(class_weights.parse("pos=2.5, neg=0", LABELS, np.array([0])),
                                [0.0, 1.0, 2.5])


@pytest.mark.parametrize("spec,match", [
    ("positive=2", r"unknown label 'positive'; the training labels are: neg, neu, pos"),
    ("pos", r"'pos' is not label=weight"),
    ("pos=-1", r"weight of 'pos' must be a number >= 0"),
    ("pos=heavy", r"weight of 'pos' must be a number >= 0")])
def test_a_bad_spec_is_a_user_error_naming_the_key(spec, match):
  with pytest.raises(errors.UserError, match=r"train\.class_weight.*" + match):
    class_weights.parse(spec, LABELS, np.array([0, 1, 2]))


def test_the_weighted_loss_divides_by_the_number_of_examples_as_keras():
  logits = jax.random.normal(jax.random.key(0), (4, 3))
  labels = jnp.array([0, 2, 2, 1])
  weights = jnp.array([1.0, 1.0, 1.0, 0.0])  # the last row is padding
  cw = jnp.array([2.0, 1.0, 0.5])
  sums = metrics.batch_metrics(logits, labels, weights, 3,
                               loss_weights=weights * cw[labels])
  per_example = -jax.nn.log_softmax(logits)[jnp.arange(4), labels]
  keras_loss = (2.0 * per_example[0] + 0.5 * per_example[1] + 0.5 * per_example[2]) / 3
  np.testing.assert_allclose(sums["loss_sum"] / sums["count"], keras_loss, rtol=1e-6)
  unweighted = metrics.batch_metrics(logits, labels, weights, 3)
  assert sums["correct"] == unweighted["correct"]  # accuracy stays unweighted
