r"""IMDB review sentiment (up to 200 words): the study's setting (trainable embedding, batch 64,
early stopping on val_loss with patience 3) with a SimpleRNN(128) (tanh) in place of the LSTM.

One of the cells comparison's nine experiments (3 cells x 3 tasks, docs/RESULTS.md, "What the
study's theory predicts, measured"), each run over three seeds:

  SEEDS="0 1 2" bash launch/study.sh cells/imdb_simple_rnn

Result: the row "imdb_simple_rnn" of that section's table.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.cells("imdb", "simple_rnn")
