r"""Sentiment of IMDB reviews; trainable embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/sentiment_keras.py --workdir=runs/sentiment_keras

Result (2-core CPU): test accuracy 0.862, macro-F1 0.862 (the row "sentiment_keras" of
docs/RESULTS.md); over seeds 0-2 (`SEEDS="0 1 2" bash launch/study.sh sentiment_keras`)
0.858 ± 0.008 / 0.858 ± 0.008, ~48 s per epoch (TF-IDF + LR 0.895).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.sentiment("sentiment_keras", glove=False)
