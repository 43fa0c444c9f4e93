r"""IMDB review sentiment (up to 200 words): the study's setting (trainable embedding, batch 64,
early stopping on val_loss with patience 3) with an LSTM(128), the study's model.

One of the cells comparison's nine experiments (3 cells x 3 tasks, docs/RESULTS.md, "What the
study's theory predicts, measured"), each run over three seeds:

  SEEDS="0 1 2" bash launch/study.sh cells/imdb_lstm

Result: the row "imdb_lstm" of that section's table.
Pilot, seed 0 (a 2-core CPU shared with other work): test accuracy 0.863, macro-F1 0.863,
best epoch 1 of 4.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.cells("imdb", "lstm")
