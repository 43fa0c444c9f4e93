r"""HuffPost news category from headline and description (v2, 27 classes); trainable embedding, dropout 0.2.

An earlier corpus, kept as additional evidence: the first 19,999 rows of News
Category v2 with headline and description already joined, 27 skewed
categories (news_category_v2_first20k_concat.tsv).

  bash launch/study.sh huffpost_both27_keras

Result (2-core CPU): test accuracy 0.581, macro-F1 0.186, best epoch 2 of 5, 4 min 07 s
(majority class 0.350, TF-IDF + LR 0.601 / 0.230).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_both27_keras", ("headline", "short_description"), glove=False, max_length=96)
