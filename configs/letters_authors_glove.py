r"""Letters by author (the 10 senders with most single-sender letters); frozen GloVe 6B 300d, dropout 0.1.

  python -m lstm_jax.main --config=configs/letters_authors_glove.py --workdir=runs/letters_authors_glove \
    --config.data.train_files=letters.jsonl

Result: see the row "letters_authors_glove" of docs/RESULTS.md.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.letters("letters_authors_glove", "author", dropout=0.1, glove=True,
                       top_k_labels=10)
