r"""HuffPost news category from the headline (v2, 41 classes); frozen GloVe 6B 300d embedding, dropout 0.2.

An earlier corpus, kept as additional evidence: 36,900 headlines of News
Category v2, 41 balanced categories (news_huffpost_headlines/huffpost.json).

  bash launch/study.sh huffpost_headline41_glove

Result (GloVe 6B 50d, 2-core CPU): test accuracy 0.460, macro-F1 0.460, best epoch 10 of 13,
2 min 47 s (majority class 0.024, TF-IDF + LR 0.474 / 0.475).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_headline41_glove", ("headline",), glove=True, max_length=32)
