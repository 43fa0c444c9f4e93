r"""HuffPost news category from the headline (v2, 41 balanced classes), the strong recipe.

The earlier corpus of huffpost_headline41_*: 36,900 headlines of News Category
v2, 900 per category (10% held out as test, stratified and seeded), the same
splits as those two study rows and their baselines.

  SEEDS="0 1 2" bash launch/study.sh strong/huffpost_headline41

Result: not measured yet (docs/RESULTS.md, "Strong configurations").
"""

from lstm_jax import experiments


def get_config():
  return experiments.strong("strong_huffpost_headline41", max_length=32, max_epochs=10,
                            source="huffpost", text_fields=("headline",), label_field="category")
