r"""Letters by language; trainable embedding, no dropout.

  python -m lstm_jax.main --config=configs/letters_languages_keras.py --workdir=runs/letters_languages_keras \
    --config.data.train_files=letters.jsonl

Result: see the row "letters_languages_keras" of docs/RESULTS.md.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.letters("letters_languages_keras", "language", dropout=0.0, glove=False,
                       top_k_labels=0)
