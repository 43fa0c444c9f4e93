r"""HuffPost news category from the short description; trainable embedding, dropout 0.2.

  python -m lstm_jax.main --config=configs/huffpost_description_keras.py --workdir=runs/huffpost_description_keras \
    --config.data.manual_dir=DIR_WITH_News_Category_Dataset_v2.json

Result: see the row "huffpost_description_keras" of docs/RESULTS.md.
"""

from configs import study


def get_config():
  return study.huffpost("huffpost_description_keras", ("short_description",), glove=False,
                       max_length=64)
