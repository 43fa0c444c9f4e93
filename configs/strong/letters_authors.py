r"""Letters by author (the 10 senders with most single-sender letters), the strong recipe.

  python -m lstm_jax.main --config=configs/strong/letters_authors.py \
    --workdir=runs/strong/letters_authors --config.data.train_files=letters.jsonl \
    --config.embedding.path=PATH/glove.6B.300d.txt

Result: not measured yet (docs/RESULTS.md, "Strong configurations").
"""

from lstm_jax import experiments


def get_config():
  return experiments.strong("strong_letters_authors", max_length=1000, max_epochs=10,
                            source="letters", label_field="author", top_k_labels=10)
