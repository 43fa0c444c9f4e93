r"""HuffPost news category from the short description; trainable embedding, dropout 0.2.

On the 9,999 articles of News Category v3 (../shared/data/news_huffpost_v3; the
launcher's data overrides), 29 skewed categories, 10% held out as test
(stratified, seeded): the same train / validation / test articles as the
other five huffpost_{headline,description,both}_* runs.

  bash launch/study.sh huffpost_description_keras

Result (2-core CPU): test accuracy 0.496, macro-F1 0.085, best epoch 2 of 5, 73 s
(majority class 0.336, TF-IDF + LR 0.526 / 0.095, Keras 3 fit 0.490 / 0.110).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_description_keras", ("short_description",), glove=False, max_length=64)
