r"""HuffPost news category from the headline (v2, 41 classes); trainable embedding, dropout 0.2.

An earlier corpus, kept as additional evidence: 36,900 headlines of News
Category v2, 41 balanced categories (news_huffpost_headlines/huffpost.json).

  bash launch/study.sh huffpost_headline41_keras

Result (2-core CPU): test accuracy 0.438, macro-F1 0.440, best epoch 2 of 5, 2 min 50 s
(majority class 0.024, TF-IDF + LR 0.474 / 0.475, Keras 3 fit 0.435).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_headline41_keras", ("headline",), glove=False, max_length=32)
