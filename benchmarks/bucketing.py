r"""What length bucketing saves: one training epoch of a config with its
`data.bucket_lengths` and with every batch padded to `data.max_length`.

  python -m benchmarks.bucketing --config=configs/strong/imdb.py \
    --config.data.source=files --config.data.train_files=PATH/imdb_train.jsonl.gz \
    --config.data.test_files=PATH/imdb_test.jsonl.gz --config.embedding.path=... \
    --config.embedding.dim=50

Each variant trains one epoch in a temporary workdir through `train_and_evaluate`
(the real input pipeline, batches and train step); the table gives the epoch's
token slots (batch x padded length, summed over the timed steps), its seconds
without the steps that compiled a new shape (`timed_seconds` of metrics.jsonl: the
first step of each bucket length is left out) and the seconds with them. The test
split is evaluated too, as in any run; it is not timed here.
"""

import pathlib
import sys
import tempfile

from absl import app
from ml_collections import config_flags

from lstm_jax import run_records
from lstm_jax import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.")


def one_epoch(config, buckets: tuple[int, ...], workdir: pathlib.Path) -> dict:
  config = config.copy_and_resolve_references()
  config.data.bucket_lengths = buckets
  config.train.max_epochs = 1
  config.train.warmup_steps = 0  # one epoch may be shorter than the recipe's warmup
  config.train.verbose = 0
  train.train_and_evaluate(config, workdir)
  [epoch] = run_records.read_history(workdir)
  return epoch


def main(argv) -> None:
  del argv
  config = _CONFIG.value
  variants = {f"buckets {','.join(map(str, config.data.bucket_lengths))}":
              tuple(config.data.bucket_lengths),
              f"padded to {config.data.max_length}": ()}
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for i, (name, buckets) in enumerate(variants.items()):
      epoch = one_epoch(config, buckets, pathlib.Path(tmp) / str(i))
      rows.append((name, epoch["timed_tokens"], epoch["timed_seconds"], epoch["seconds"]))
  print(f"{config.name}: one training epoch, batch {config.train.batch_size}")
  print("| variant | token slots timed | s / epoch (compiles left out) | s / epoch | time vs padded |")
  print("|---|---|---|---|---|")
  for name, slots, timed, seconds in rows:
    print(f"| {name} | {slots:,} | {timed:.1f} | {seconds:.1f} | {timed / rows[-1][2]:.2f} |")
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
