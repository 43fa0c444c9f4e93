r"""HuffPost news category from headline and description joined; trainable embedding, dropout 0.2.

On the 9,999 articles of News Category v3 (../shared/data/news_huffpost_v3; the
launcher's data overrides), 29 skewed categories, 10% held out as test
(stratified, seeded): the same train / validation / test articles as the
other five huffpost_{headline,description,both}_* runs.

  bash launch/study.sh huffpost_both_keras

Result (2-core CPU): test accuracy 0.582, macro-F1 0.141, best epoch 3 of 6, 129 s
(majority class 0.336, TF-IDF + LR 0.619 / 0.176, Keras 3 fit 0.561 / 0.140).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_both_keras", ("headline", "short_description"), glove=False, max_length=96)
