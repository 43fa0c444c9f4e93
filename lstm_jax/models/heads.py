"""The classifier's output activation and what follows from it: each is an
entry of `HEADS`, named by its Keras activation.

A head says how many units the output `Dense` has, the loss of its logits
and the Keras loss that goes with the activation (`keras_loss`), the
probabilities Keras's `predict` returns, one probability per class for
serving, and the predicted class. Everything downstream (the train and eval
steps, metrics, serving, the Keras import and export) asks the head, so a
model's activation is named once, in `LSTMClassifier.output`; the values
`model.output` accepts are the registry's names.

  softmax  Dense(C, "softmax") with categorical cross-entropy; predicts the argmax.
  sigmoid  Dense(1, "sigmoid") with binary cross-entropy, for two classes
           (label id 1 is the positive class); predicts p > 0.5 as Keras's
           binary accuracy does.
"""

import dataclasses

import jax
import jax.numpy as jnp
import optax

from lstm_jax import registry

# Keras's losses clip probabilities to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7


@dataclasses.dataclass(frozen=True)
class Softmax:
  """Dense(C, "softmax"), categorical cross-entropy."""
  name = "softmax"
  keras_loss = "sparse_categorical_crossentropy"  # for integer labels

  def units(self, num_classes: int) -> int:
    return num_classes

  def losses(self, logits: jax.Array, labels: jax.Array) -> jax.Array:
    """<float32>[B] cross-entropy of <float32>[B, C] logits and <int32>[B] labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)

  def probabilities(self, logits: jax.Array) -> jax.Array:
    """<float32>[B, C], what Keras's `predict` returns."""
    return jax.nn.softmax(logits, axis=-1)

  def class_probabilities(self, logits: jax.Array) -> jax.Array:
    """<float32>[B, C]: one probability per class."""
    return self.probabilities(logits)

  def logits_of(self, probabilities: jax.Array) -> jax.Array:
    """Logits whose `probabilities` are these (each clipped to [1e-7, 1 - 1e-7] as Keras's
    losses clip them)."""
    return jnp.log(jnp.clip(probabilities, EPSILON, 1.0 - EPSILON))

  def predicted(self, logits: jax.Array) -> jax.Array:
    """<int32>[B] the most probable class."""
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class Sigmoid:
  """Dense(1, "sigmoid"), binary cross-entropy; class 1 is the positive one."""
  name = "sigmoid"
  keras_loss = "binary_crossentropy"

  def units(self, num_classes: int) -> int:
    """1 (the probability of class 1); raises ValueError unless there are 2 classes."""
    if num_classes != 2:
      raise ValueError(f"a sigmoid output classifies 2 classes, the data has {num_classes}; "
                       "use the softmax output")
    return 1

  def losses(self, logits: jax.Array, labels: jax.Array) -> jax.Array:
    """<float32>[B] binary cross-entropy of <float32>[B, 1] logits and <int32>[B] labels."""
    return optax.sigmoid_binary_cross_entropy(logits[:, 0], labels.astype(logits.dtype))

  def probabilities(self, logits: jax.Array) -> jax.Array:
    """<float32>[B, 1] the probability of class 1, what Keras's `predict` returns."""
    return jax.nn.sigmoid(logits)

  def class_probabilities(self, logits: jax.Array) -> jax.Array:
    """<float32>[B, 2]: (1 - p, p)."""
    p = self.probabilities(logits)
    return jnp.concatenate([1.0 - p, p], axis=-1)

  def logits_of(self, probabilities: jax.Array) -> jax.Array:
    """Logits whose `probabilities` are these (clipped as Keras's losses clip them)."""
    p = jnp.clip(probabilities, EPSILON, 1.0 - EPSILON)
    return jnp.log(p) - jnp.log1p(-p)

  def predicted(self, logits: jax.Array) -> jax.Array:
    """<int32>[B] 1 where p > 0.5 (logit > 0), as Keras's binary accuracy."""
    return (logits[:, 0] > 0).astype(jnp.int32)


Head = Softmax | Sigmoid
HEADS: registry.Registry[Head] = registry.Registry("output", key="model.output")
HEADS.register(Softmax.name, Softmax())
HEADS.register(Sigmoid.name, Sigmoid())
