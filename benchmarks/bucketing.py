r"""What length bucketing saves: two training epochs of a config with its
`data.bucket_lengths` and with every batch padded to `data.max_length`.

  python -m benchmarks.bucketing --config=configs/strong/imdb.py \
    --config.data.source=files --config.data.train_files=PATH/imdb_train.jsonl.gz \
    --config.data.test_files=PATH/imdb_test.jsonl.gz --config.embedding.path=... \
    --config.embedding.dim=50

Each variant trains two epochs in a temporary workdir through `train_and_evaluate`
(the real input pipeline, batches and train step) and the table gives each epoch's
seconds (metrics.jsonl). The first epoch compiles every batch shape it meets: with
buckets, each bucket length times each size of the batch vocabulary
(`model.distinct_tokens`), so it pays more compiles; the second epoch meets few new
shapes and shows the steady cost. The test split is evaluated too, as in any run;
it is not timed here.
"""

import pathlib
import sys
import tempfile

from absl import app
from ml_collections import config_flags

from lstm_jax.training import run_records
from lstm_jax.training import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.")


EPOCHS = 2


def epochs(config, buckets: tuple[int, ...], workdir: pathlib.Path) -> list[dict]:
  config = config.copy_and_resolve_references()
  config.data.bucket_lengths = buckets
  config.train.max_epochs = EPOCHS
  config.early_stopping.patience = EPOCHS  # both epochs run
  config.train.verbose = 0
  train.train_and_evaluate(config, workdir)
  return run_records.read_history(workdir)


def main(argv) -> None:
  del argv
  config = _CONFIG.value
  variants = {f"buckets {','.join(map(str, config.data.bucket_lengths))}":
              tuple(config.data.bucket_lengths),
              f"padded to {config.data.max_length}": ()}
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for i, (name, buckets) in enumerate(variants.items()):
      rows.append((name, epochs(config, buckets, pathlib.Path(tmp) / str(i))))
  padded = rows[-1][1]
  print(f"{config.name}: {EPOCHS} training epochs, batch {config.train.batch_size}")
  print("| variant | epoch 1 s (with its compiles) | epoch 2 s | epoch 2 vs padded |")
  print("|---|---|---|---|")
  for name, history in rows:
    print(f"| {name} | {history[0]['seconds']:.1f} | {history[1]['seconds']:.1f} | "
          f"{history[1]['seconds'] / padded[1]['seconds']:.2f} |")
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
