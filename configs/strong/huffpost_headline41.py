r"""HuffPost news category from the headline (v2, 41 balanced classes), the strong recipe.

The earlier corpus of huffpost_headline41_*: 36,900 headlines of News Category
v2, 900 per category (10% held out as test, stratified and seeded), the same
splits as those two study rows and their baselines.

  SEEDS="0 1 2" bash launch/study.sh strong/huffpost_headline41

Result (GloVe 6B 50d, 2-core CPU, seeds 0-2): test accuracy 0.508 ± 0.008, macro-F1
0.506 ± 0.007, 7-9 epochs of ~7 s (TF-IDF + LR 0.474 / 0.475; the study's best row 0.460)
(docs/RESULTS.md).
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.strong("strong_huffpost_headline41", max_length=32, max_epochs=10,
                            source="huffpost", text_fields=("headline",), label_field="category")
