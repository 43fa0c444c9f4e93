"""LSTM text classifier on CPU: lstm_jax vs PyTorch vs Keras 3 vs Flax, side by side.

  python -m benchmarks.lstm_cpu                                  # a few minutes
  python -m benchmarks.lstm_cpu --allocator system,glibc_thp,tcmalloc

Two shapes (vocab 20k, embedding 300, LSTM 128, batch 64): IMDB-like (200 steps,
2 classes) and short text (32 steps, 42 classes), each with uniform random token
ids and with text-like (Zipf) ones (`_zipf` cases); a training step (embedding +
LSTM + dense, Adam, global-norm clipping) and inference. `imdb_pooled_zipf` is a
member of the model family instead: Bidirectional(LSTM 64) returning sequences,
GlobalMaxPooling1D, Dense(64, relu), Dense. Every framework runs
in its own process on the same cores (`--threads`) and allocator environment.
Prints a table and, last, one JSON line with every result. lstm_jax's ablations
run when named in `--frameworks`: `lstm_jax scan` (the reference recurrence),
`lstm_jax fused 1 chunk` (one loop instead of time pieces), `lstm_jax fused
every slot` (every token slot projected instead of each batch's distinct tokens).
"""

from benchmarks import lstm_common as common

CASES = {
    "imdb": common.Case("imdb", time_steps=200, num_classes=2),
    "short_text": common.Case("short_text", time_steps=32, num_classes=42),
    "imdb_zipf": common.Case("imdb_zipf", time_steps=200, num_classes=2, token_ids="zipf"),
    "short_text_zipf": common.Case("short_text_zipf", time_steps=32, num_classes=42,
                                   token_ids="zipf"),
    # keras-io's IMDB shape: Bidirectional(LSTM 64) → max pooling → Dense(64, relu).
    "imdb_pooled_zipf": common.Case("imdb_pooled_zipf", time_steps=200, num_classes=2,
                                    units=64, token_ids="zipf", pooled=True),
}
FRAMEWORKS = ("lstm_jax fused", "lstm_jax serving", "flax OptimizedLSTMCell", "keras 3 (jax)",
              "pytorch nn.LSTM")
# fp32 matmul peak of a 2-core AVX-512 EPYC (2048² matmul): the "of limit" column.
PEAK_GFLOPS = 187.0


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], CASES, FRAMEWORKS, PEAK_GFLOPS,
                           warmup=3, repeats=5, steps=5)
  common.run_benchmark("lstm_cpu", "benchmarks.lstm_cpu", args, CASES)


if __name__ == "__main__":
  main()
