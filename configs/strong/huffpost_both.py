r"""HuffPost news category from headline and description, the strong recipe.

On the study's 9,999 articles of News Category v3 (29 skewed categories, 10%
held out as test, stratified and seeded): the splits of huffpost_both_*.

  SEEDS="0 1 2" bash launch/study.sh strong/huffpost_both

Result (GloVe 6B 50d, 2-core CPU, seeds 0-2): test accuracy 0.664 ± 0.005, macro-F1 0.285 ± 0.025 (TF-IDF + LR 0.619 / 0.176) (docs/RESULTS.md).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.strong("strong_huffpost_both", max_length=100, max_epochs=10,
                            source="huffpost", text_fields=("headline", "short_description"),
                            label_field="category")
