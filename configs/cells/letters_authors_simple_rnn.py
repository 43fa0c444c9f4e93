r"""Letters by author (the 10 senders with most single-sender letters, up to 300 words each): the
study's setting (trainable embedding, batch 64, early stopping on val_loss with patience 3)
with a SimpleRNN(128) (tanh) in place of the LSTM.

One of the cells comparison's nine experiments (3 cells x 3 tasks, docs/RESULTS.md, "What the
study's theory predicts, measured"), each run over three seeds:

  SEEDS="0 1 2" bash launch/study.sh cells/letters_authors_simple_rnn

Result: the row "letters_authors_simple_rnn" of that section's table.
Pilot, seed 0 (a 2-core CPU shared with other work): test accuracy 0.900, macro-F1 0.852,
best epoch 5 of 8.
"""

from lstm_jax.study import experiments


def get_config():
  return experiments.cells("letters_authors", "simple_rnn")
