r"""Letters by author (the 10 senders with most single-sender letters), the strong recipe.

  python -m lstm_jax.main --config=configs/strong/letters_authors.py \
    --workdir=runs/strong/letters_authors --config.data.train_files=letters.jsonl \
    --config.embedding.path=PATH/glove.6B.300d.txt

  SEEDS="0 1 2" bash launch/study.sh strong/letters_authors

Result (GloVe 6B 50d, 2-core CPU, seeds 0-2): test accuracy 0.959 ± 0.005, macro-F1
0.939 ± 0.012, 13-16 epochs of ~14 s (TF-IDF + LR 0.910 / 0.865) (docs/RESULTS.md).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.strong("strong_letters_authors", max_length=1000, max_epochs=30,
                            source="letters", label_field="author", top_k_labels=10)
