r"""Letters by language; frozen GloVe 6B 300d embedding, no dropout.

  python -m lstm_jax.main --config=configs/letters_languages_glove.py --workdir=runs/letters_languages_glove \
    --config.data.train_files=letters.jsonl

Result: see the row "letters_languages_glove" of docs/RESULTS.md.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.letters("letters_languages_glove", "language", dropout=0.0, glove=True,
                       top_k_labels=0)
