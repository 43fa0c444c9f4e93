r"""HuffPost news category from headline and description joined; frozen GloVe 6B 300d embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/huffpost_both_glove.py --workdir=runs/huffpost_both_glove \
    --config.data.manual_dir=DIR_WITH_News_Category_Dataset_v2.json

Result: see the row "huffpost_both_glove" of docs/RESULTS.md.
"""

from configs import study


def get_config():
  return study.huffpost("huffpost_both_glove", ("headline", "short_description"), glove=True,
                       max_length=96)
