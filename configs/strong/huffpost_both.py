r"""HuffPost news category from headline and description, the strong recipe.

On the study's 9,999 articles of News Category v3 (29 skewed categories, 10%
held out as test, stratified and seeded): the splits of huffpost_both_*.

  bash launch/study.sh strong/huffpost_both

Result: see the row "strong/huffpost_both" of docs/RESULTS.md (3 seeds).
"""

from lstm_jax import experiments


def get_config():
  config = experiments.strong("strong_huffpost_both", max_length=100, max_epochs=10)
  config.data.source = "huffpost"
  config.data.text_fields = ("headline", "short_description")
  config.data.label_field = "category"
  return config
