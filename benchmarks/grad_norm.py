r"""What recording the gradient norm costs: the train step before and after it.

  python -m benchmarks.grad_norm                       # IMDB-shaped LSTM, 1 device
  python -m benchmarks.grad_norm --cell=simple_rnn --before=7c16431

"after" is `training/steps.py` of this checkout (the step returns the global
norm of the gradient before clipping beside its metric sums); "before" is the
same file at `--before`, a commit that did not compute it, loaded from git into
this process. Both are pmapped on one device exactly as training pmaps the
step and run on the same batches: the study's IMDB model (vocabulary 20,000,
embedding 300, one recurrent layer of 128 units, 200 steps, batch 64, Adam with
global-norm clipping at 1.0) on text-like (Zipf) token ids carrying their batch
vocabulary, as training's batches do. The two alternate, `--steps` steps at a
time, `--repeats` times, so that a change of the machine's load hits both; the
table gives the median milliseconds per step, the spread (min-max over the
repeats) and after / before. A last row times the host's work per epoch (the
391 step records of an IMDB epoch, their mean and maximum, writing steps.jsonl).
"""

import argparse
import functools
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types

import jax
import numpy as np

from benchmarks import lstm_common as common
from configs import sentiment_keras
from lstm_jax import recurrent as recurrent_lib
from lstm_jax.models import classifier as model_lib
from lstm_jax.study import experiments
from lstm_jax.training import batching
from lstm_jax.training import run_records
from lstm_jax.training import steps
from lstm_jax.training import train

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS_SOURCE = "lstm_jax/training/steps.py"
# The study's IMDB model and batches.
VOCAB, LENGTH, BATCH = 20_000, 200, 64
IMDB_STEPS_PER_EPOCH = 391  # 25,000 reviews in batches of 64


def steps_module_at(commit: str) -> types.ModuleType:
  """`training/steps.py` as it was at `commit`, imported beside today's."""
  source = subprocess.run(["git", "show", f"{commit}:{STEPS_SOURCE}"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True).stdout
  spec = importlib.util.spec_from_loader(f"steps_at_{commit}", loader=None)
  module = importlib.util.module_from_spec(spec)
  code = compile(source, f"{commit}:{STEPS_SOURCE}", "exec")
  exec(code, module.__dict__)  # pylint: disable=exec-used
  return module


def zipf_batches(count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
  """`count` training batches of IMDB-shaped texts, with their batch vocabulary."""
  rng = np.random.default_rng(seed)
  ranks = np.arange(1, VOCAB)
  weights = 1.0 / ranks
  ids = rng.choice(ranks, size=(BATCH * count, LENGTH),
                   p=weights / weights.sum()).astype(np.int32)
  labels = rng.integers(0, 2, BATCH * count).astype(np.int32)
  return list(batching.batches(ids, labels, batch_size=BATCH, num_devices=1, shuffle=False,
                               distinct_tokens=True))


def pmapped(module: types.ModuleType, model: model_lib.LSTMClassifier):
  return jax.pmap(functools.partial(module.train_step, num_classes=2, head=model.head),
                  axis_name=steps.AXIS, in_axes=(None, 0, None), out_axes=(None, None),
                  donate_argnums=(0,), devices=jax.local_devices()[:1])


def time_steps(step, state, batches, rng, count: int):
  """(state, seconds per step) over `count` steps, cycling through `batches`."""
  start = time.perf_counter()
  for i in range(count):
    state, sums = step(state, batches[i % len(batches)], rng)
  jax.block_until_ready((state, sums))
  return state, (time.perf_counter() - start) / count


def host_epoch_seconds(workdir: str) -> float:
  """The host's per-epoch work on an IMDB epoch's step outputs."""
  per_step = [{"loss_sum": np.float32(40.0), "count": np.float32(BATCH), "confusion": np.zeros(
      (2, 2), np.float32), "correct": np.float32(40), "grad_norm": np.float32(0.5)}
              for _ in range(IMDB_STEPS_PER_EPOCH)]
  start = time.perf_counter()
  records = run_records.step_records(1, IMDB_STEPS_PER_EPOCH, per_step)
  run_records.grad_norm_summary(records)
  run_records.write_steps(workdir, records)
  return time.perf_counter() - start


def main(argv) -> None:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.grad_norm",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--before", default="7c16431",
                      help="a commit whose train step does not compute the gradient norm")
  parser.add_argument("--cell", default="lstm", choices=recurrent_lib.CELLS.names())
  parser.add_argument("--steps", type=int, default=20, help="steps per timing")
  parser.add_argument("--repeats", type=int, default=7, help="alternations")
  args = parser.parse_args(argv)

  config = (sentiment_keras.get_config() if args.cell == "lstm"
            else experiments.cells("imdb", args.cell))
  model = model_lib.from_config(config.model, config.embedding, VOCAB, 2)
  initial = jax.device_get(train.create_train_state(
      model, config.train, LENGTH, seed=config.seed, steps_per_epoch=IMDB_STEPS_PER_EPOCH))
  batches = zipf_batches(4)
  rng = jax.random.PRNGKey(0)
  variants = {"before": pmapped(steps_module_at(args.before), model),
              "after": pmapped(steps, model)}
  states = {}
  for name, step in variants.items():  # compile, warm up
    states[name], _ = time_steps(step, initial, batches, rng, 3)
  times = {name: [] for name in variants}
  for _ in range(args.repeats):
    for name, step in variants.items():
      states[name], seconds = time_steps(step, states[name], batches, rng, args.steps)
      times[name].append(seconds)
  with tempfile.TemporaryDirectory() as tmp:
    host = statistics.median(host_epoch_seconds(tmp) for _ in range(5))

  before = statistics.median(times["before"])
  print(f"train step, {args.cell} 128, IMDB shape ({BATCH} x {LENGTH}, vocabulary "
        f"{VOCAB:,}, embedding 300), Zipf token ids; {common.cpu_model()}, "
        f"{os.cpu_count()} CPUs, jax {jax.__version__}, {jax.default_backend()}; "
        f"before = {args.before}")
  print("| step | ms / step (median) | min-max | vs before |")
  print("|---|---|---|---|")
  for name in variants:
    median = statistics.median(times[name])
    print(f"| {name} | {1e3 * median:.1f} | {1e3 * min(times[name]):.1f}-"
          f"{1e3 * max(times[name]):.1f} | {median / before:.3f} |")
  print(f"| host, per epoch ({IMDB_STEPS_PER_EPOCH} step records, steps.jsonl) | "
        f"{1e3 * host:.1f} ms per epoch | | {host / (IMDB_STEPS_PER_EPOCH * before):.4f} of "
        "the epoch's steps |")
  print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
  main(sys.argv[1:])
