r"""HuffPost news category from the headline, the strong recipe.

On the study's 9,999 articles of News Category v3 (29 skewed categories, 10%
held out as test, stratified and seeded): the splits of huffpost_headline_*.

  SEEDS="0 1 2" bash launch/study.sh strong/huffpost_headline

Result (GloVe 6B 50d, 2-core CPU, seeds 0-2): test accuracy 0.653 ± 0.004, macro-F1 0.270 ± 0.008 (TF-IDF + LR 0.597 / 0.189) (docs/RESULTS.md).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.strong("strong_huffpost_headline", max_length=32, max_epochs=10,
                            source="huffpost", text_fields=("headline",), label_field="category")
