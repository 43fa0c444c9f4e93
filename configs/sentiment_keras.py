r"""Sentiment of IMDB reviews; trainable embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/sentiment_keras.py --workdir=runs/sentiment_keras

Result: see the row "sentiment_keras" of docs/RESULTS.md.
"""

from lstm_jax import experiments


def get_config():
  return experiments.sentiment("sentiment_keras", glove=False)
