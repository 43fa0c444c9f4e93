r"""HuffPost news category from headline and description (v2, 27 classes); frozen GloVe 6B 300d embedding, dropout 0.2.

An earlier corpus, kept as additional evidence: the first 19,999 rows of News
Category v2 with headline and description already joined, 27 skewed
categories (news_category_v2_first20k_concat.tsv).

  bash launch/study.sh huffpost_both27_glove

Result (GloVe 6B 50d, 2-core CPU): RESULT_huffpost_both27_glove
"""

from configs import study


def get_config():
  return study.huffpost("huffpost_both27_glove", ("headline", "short_description"), glove=True, max_length=96)
