"""lstm_jax: LSTM text classifiers in JAX/Flax, faithful to Keras.

`lstm_jax.fit(texts, labels, workdir)` trains in one call; `lstm_jax.training.train.
train_and_evaluate(config, workdir)` is what the command runs.
"""


def fit(*args, **kwargs):
  """`lstm_jax.api.fit`, imported on first use so that `import lstm_jax` stays light."""
  from lstm_jax import api  # pylint: disable=g-import-not-at-top
  return api.fit(*args, **kwargs)
