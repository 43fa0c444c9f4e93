r"""HuffPost v3 category (29) from headline + description (up to 96 words): the study's setting
(trainable embedding, batch 64, early stopping on val_loss with patience 3) with a GRU(128)
(Keras 3 default: reset_after) in place of the LSTM.

One of the cells comparison's nine experiments (3 cells x 3 tasks, docs/RESULTS.md, "What the
study's theory predicts, measured"), each run over three seeds:

  SEEDS="0 1 2" bash launch/study.sh cells/huffpost_both_gru

Result: the row "huffpost_both_gru" of that section's table.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.cells("huffpost_both", "gru")
