r"""Letters by author with a SimpleRNN(128) of relu units without gradient clipping
(train.clip_mode=none).

The exploding-gradients experiment: this run and letters_authors_simple_rnn_relu_clipped
differ only in clipping (same seed, same data, same initial weights). Every run records
each optimizer step's gradient norm before clipping and its loss (steps.jsonl); the
figure of the pair:

  bash launch/study.sh --keep_going cells/letters_authors_simple_rnn_relu_unclipped \
    cells/letters_authors_simple_rnn_relu_clipped
  python -m lstm_jax.study.clipping runs/cells/letters_authors_simple_rnn_relu_unclipped \
    runs/cells/letters_authors_simple_rnn_relu_clipped --out=docs/figures/clipping.png

(`--keep_going`: a run without clipping may stop with a non-finite or diverging loss.)
Result (seed 0): test accuracy 0.903, macro-F1 0.864, best epoch 17 of 20; 2 steps with a
gradient norm above 100 (5 x 10^5 at step 8).
Read in docs/RESULTS.md, "What the study's theory predicts, measured".
"""

from lstm_jax.study import experiments


def get_config():
  config = experiments.cells("letters_authors", "simple_rnn", activation="relu")
  config.name = "letters_authors_simple_rnn_relu_unclipped"
  config.train.clip_mode = "none"
  return config
