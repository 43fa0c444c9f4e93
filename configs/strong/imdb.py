r"""IMDB review sentiment, the strong recipe: fine-tuned GloVe, BiLSTM + max pooling, AdamW.

  python -m lstm_jax.main --config=configs/strong/imdb.py --workdir=runs/strong/imdb \
    --config.embedding.path=PATH/glove.6B.300d.txt

Result: see the row "strong/imdb" of docs/RESULTS.md (3 seeds).
"""

from lstm_jax import experiments


def get_config():
  config = experiments.strong("strong_imdb", max_length=400, max_epochs=6)
  config.data.source = "imdb"
  return config
