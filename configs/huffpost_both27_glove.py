r"""HuffPost news category from headline and description (v2, 27 classes); frozen GloVe 6B 300d embedding, dropout 0.2.

An earlier corpus, kept as additional evidence: the first 19,999 rows of News
Category v2 with headline and description already joined, 27 skewed
categories (news_category_v2_first20k_concat.tsv).

  bash launch/study.sh huffpost_both27_glove

Result (GloVe 6B 50d, 2-core CPU): test accuracy 0.629, macro-F1 0.367, best epoch 7 of 10,
5 min 01 s (majority class 0.350, TF-IDF + LR 0.601 / 0.230).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.huffpost("huffpost_both27_glove", ("headline", "short_description"), glove=True, max_length=96)
