"""LSTM text classifier on one GPU: lstm_jax vs cuDNN (JAX and PyTorch) vs Keras 3.

  python -m benchmarks.lstm_gpu            # one GPU (H100), under 5 minutes
  python -m benchmarks.lstm_gpu --smoke    # tiny sizes, runs anywhere (CPU included)

IMDB-like case (vocab 20k, embedding 300, LSTM 128, 200 steps, 2 classes) at
batch 64 and 512; a training step (embedding + LSTM + dense, Adam, global-norm
clipping) and inference. lstm_jax runs its reference scan, its fused path
(float32, also projecting every token slot instead of each batch's distinct
tokens, and bfloat16 matmuls with float32 state), its cuDNN path
(`model.implementation=cudnn`), and inference as its serving path runs it
(per-token input-projection table). Prints a table and, last, one JSON line
with every result.
"""

import sys

from benchmarks import lstm_common as common

IMDB = common.Case("imdb", time_steps=200, num_classes=2)
CASES = {"imdb_b64": IMDB.scaled(name="imdb_b64"),
         "imdb_b512": IMDB.scaled(name="imdb_b512", batch=512)}
SMOKE_CASES = {name: case.scaled(vocab=50, embed=8, units=4, time_steps=5,
                                 batch=case.batch // 32)
               for name, case in CASES.items()}
FRAMEWORKS = ("lstm_jax scan", "lstm_jax fused", "lstm_jax fused every slot",
              "lstm_jax fused bf16", "lstm_jax cudnn", "lstm_jax serving", "jax cudnn",
              "pytorch nn.LSTM", "keras 3 (jax)")
# H100 SXM dense fp32 (non-tensor-core) peak: the "of limit" column.
PEAK_GFLOPS = 67_000.0


def main() -> None:
  smoke = "--smoke" in sys.argv
  argv = [arg for arg in sys.argv[1:] if arg != "--smoke"]
  cases = SMOKE_CASES if smoke else CASES
  if smoke:
    argv = ["--warmup=1", "--repeats=2", "--steps=1", *argv]
  args = common.parse_args(__doc__.splitlines()[0], cases, FRAMEWORKS, PEAK_GFLOPS,
                           warmup=3, repeats=5, steps=10, argv=argv)
  common.run_benchmark("lstm_gpu", "benchmarks.lstm_gpu", args, cases,
                       worker_flags=["--smoke"] if smoke else [])


if __name__ == "__main__":
  main()
