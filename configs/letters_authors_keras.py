r"""Letters by author (the 10 senders with most single-sender letters); trainable embedding, dropout 0.1.

  python -m lstm_jax.main --config=configs/letters_authors_keras.py --workdir=runs/letters_authors_keras \
    --config.data.train_files=letters.jsonl

Result: see the row "letters_authors_keras" of docs/RESULTS.md.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.letters("letters_authors_keras", "author", dropout=0.1, glove=False,
                       top_k_labels=10)
