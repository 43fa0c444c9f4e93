r"""MR sentence polarity (Pang & Lee's rt-polarity), the strong recipe.

Any short-sentence sentiment set takes this recipe with its own `data.*` keys:
one sentence per line, one file per label; 10% held out as test and 10% of the
rest as validation (stratified, seeded).

  python -m lstm_jax.main --config=configs/strong/mr.py --workdir=runs/strong/mr \
    --config.data.train_files=PATH/rt-polarity.neg,PATH/rt-polarity.pos \
    --config.embedding.path=PATH/glove.6B.300d.txt

Result (GloVe 6B 50d, 2-core CPU, seeds 0-2): test accuracy 0.785 ± 0.011, macro-F1 0.785 ± 0.011 (TF-IDF + LR 0.772) (docs/RESULTS.md).
"""

from lstm_jax.study import experiments


def get_config():
  # The rt-polarity files are not UTF-8.
  return experiments.strong("strong_mr", max_length=64, max_epochs=10, source="files",
                            format="lines_per_label", encoding="latin-1")
