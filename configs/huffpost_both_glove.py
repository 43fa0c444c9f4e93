r"""HuffPost news category from headline and description joined; frozen GloVe 6B 300d embedding, dropout 0.2.

On the 9,999 articles of News Category v3 (../shared/data/news_huffpost_v3; the
launcher's data overrides), 29 skewed categories, 10% held out as test
(stratified, seeded): the same train / validation / test articles as the
other five huffpost_{headline,description,both}_* runs.

  bash launch/study.sh huffpost_both_glove

Result (GloVe 6B 50d, 2-core CPU): test accuracy 0.658, macro-F1 0.418, best epoch 12 of 15, 268 s
(majority class 0.336, TF-IDF + LR 0.619 / 0.176).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_both_glove", ("headline", "short_description"), glove=True, max_length=96)
