"""lstm_jax: LSTM text classifiers in JAX/Flax, faithful to Keras.

`lstm_jax.fit(texts, labels, workdir)` trains in one call; `lstm_jax.training.train.
train_and_evaluate(config, workdir)` is what the command runs.
"""

__all__ = ["fit"]


def __getattr__(name: str):
  # `fit` is `lstm_jax.api.fit` itself (its signature and docstring), imported on
  # first use: serving a model imports `lstm_jax` without the training code.
  if name == "fit":
    from lstm_jax import api  # pylint: disable=g-import-not-at-top
    return api.fit
  raise AttributeError(f"module 'lstm_jax' has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted({*globals(), *__all__})
