r"""Sentiment of IMDB reviews; frozen GloVe 6B 300d embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/sentiment_glove.py --workdir=runs/sentiment_glove \
    --config.embedding.path=PATH/glove.6B.300d.txt

Result: see the row "sentiment_glove" of docs/RESULTS.md.
"""

from lstm_jax import experiments


def get_config():
  return experiments.sentiment("sentiment_glove", glove=True)
