r"""HuffPost news category from the short description; frozen GloVe 6B 300d embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/huffpost_description_glove.py --workdir=runs/huffpost_description_glove \
    --config.data.manual_dir=DIR_WITH_News_Category_Dataset_v2.json

Result: see the row "huffpost_description_glove" of docs/RESULTS.md.
"""

from configs import study


def get_config():
  return study.huffpost("huffpost_description_glove", ("short_description",), glove=True,
                       max_length=64)
