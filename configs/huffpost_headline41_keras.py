r"""HuffPost news category from the headline (v2, 41 classes); trainable embedding, dropout 0.2.

An earlier corpus, kept as additional evidence: 36,900 headlines of News
Category v2, 41 balanced categories (news_huffpost_headlines/huffpost.json).

  bash launch/study.sh huffpost_headline41_keras

Result (2-core CPU): RESULT_huffpost_headline41_keras
"""

from configs import study


def get_config():
  return study.huffpost("huffpost_headline41_keras", ("headline",), glove=False, max_length=32)
