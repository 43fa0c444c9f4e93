r"""Letters by author with a SimpleRNN(128) of relu units with the project's clipping (global norm
1.0, as every study run).

  bash launch/study.sh cells/letters_authors_simple_rnn_relu_clipped

The exploding-gradients experiment's clipped run: it and
letters_authors_simple_rnn_relu_unclipped differ only in clipping; that config's docstring
gives the commands that train the pair and draw its figure.

Result (seed 0): test accuracy 0.917, macro-F1 0.893, best epoch 12 of 15; 36 steps with a
gradient norm above 100 (up to 3 x 10^7), each update clipped to norm 1.
Read in docs/RESULTS.md, "What the study's theory predicts, measured".
"""

from lstm_jax.study import experiments


def get_config():
  config = experiments.cells("letters_authors", "simple_rnn", activation="relu")
  config.name = "letters_authors_simple_rnn_relu_clipped"
  return config
