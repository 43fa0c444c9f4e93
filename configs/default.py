"""Defaults shared by every experiment: a complete run on any local file.

  python -m lstm_jax.main --config=configs/default.py --workdir=runs/my_run \
    --config.data.train_files=reviews.csv --config.data.text_fields=review \
    --config.data.label_field=sentiment

Every key and its meaning: `lstm_jax/config/schema.py` (the `data.*` keys of the input
files: `lstm_jax/datasets/config.py`).
"""

import ml_collections

from lstm_jax.config import schema


def get_config() -> ml_collections.ConfigDict:
  """Returns the default configuration."""
  return schema.default_config()
