r"""Sentiment of IMDB reviews; frozen GloVe 6B 300d embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/sentiment_glove.py --workdir=runs/sentiment_glove \
    --config.embedding.path=PATH/glove.6B.300d.txt

Result (GloVe 6B 50d, 2-core CPU): test accuracy 0.863, macro-F1 0.863 (the row
"sentiment_glove" of docs/RESULTS.md); over seeds 0-2 (`SEEDS="0 1 2" bash launch/study.sh
sentiment_glove`) 0.864 ± 0.003 / 0.864 ± 0.004, ~28 s per epoch (TF-IDF + LR 0.895).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.sentiment("sentiment_glove", glove=True)
