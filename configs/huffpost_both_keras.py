r"""HuffPost news category from headline and description joined; trainable embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/huffpost_both_keras.py --workdir=runs/huffpost_both_keras \
    --config.data.manual_dir=DIR_WITH_News_Category_Dataset_v2.json

Result: see the row "huffpost_both_keras" of docs/RESULTS.md.
"""

from configs import study


def get_config():
  return study.huffpost("huffpost_both_keras", ("headline", "short_description"), glove=False,
                       max_length=96)
