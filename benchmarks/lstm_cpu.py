"""Recurrent text classifiers on CPU: lstm_jax vs PyTorch vs Keras 3 vs Flax, side by side.

  python -m benchmarks.lstm_cpu                                  # all cases, ~20 minutes
  python -m benchmarks.lstm_cpu --cases imdb,imdb_zipf           # the LSTM's IMDB rows
  python -m benchmarks.lstm_cpu --allocator system,glibc_thp,tcmalloc

LSTM cases, two shapes (vocab 20k, embedding 300, LSTM 128, batch 64): IMDB-like
(200 steps, 2 classes) and short text (32 steps, 42 classes), each with uniform
random token ids and with text-like (Zipf) ones (`_zipf` cases); a training step
(embedding + LSTM + dense, Adam, global-norm clipping) and inference.
`imdb_pooled_zipf` is a member of the model family instead: Bidirectional(LSTM 64)
returning sequences, GlobalMaxPooling1D, Dense(64, relu), Dense. The `_gru` and
`_simple_rnn` cases are the same shapes with Keras's `GRU(128)` (reset_after, as
PyTorch's `nn.GRU` computes it) or `SimpleRNN(128)` (tanh) in place of the LSTM.
Every framework runs in its own process on the same cores (`--threads`) and
allocator environment; one that does not run a case's cell skips it
(`pytorch nn.LSTM` runs the LSTM cases, `nn.GRU` the GRU ones, `nn.RNN` the
SimpleRNN ones). The PyTorch rows flush denormal floats to zero, as XLA does;
the `pytorch ... default` rows keep PyTorch's default (denormals computed, very
slowly on some CPUs). The fp32 matmul peak behind the "of limit" column is
measured at the start of the run (`--peak-gflops` overrides it) and the CPU model
is printed with the table. Prints a table and, last, one JSON line with every
result. lstm_jax's ablations run when named in `--frameworks`: `lstm_jax scan`
(the reference recurrence), `lstm_jax fused 1 chunk` (one loop instead of time
pieces), `lstm_jax fused every slot` (every token slot projected instead of each
batch's distinct tokens). A SimpleRNN has no fused path: its `lstm_jax fused`
row runs the reference recurrence.
"""

from benchmarks import lstm_common as common

LSTM_CASES = {
    "imdb": common.Case("imdb", time_steps=200, num_classes=2),
    "short_text": common.Case("short_text", time_steps=32, num_classes=42),
    "imdb_zipf": common.Case("imdb_zipf", time_steps=200, num_classes=2, token_ids="zipf"),
    "short_text_zipf": common.Case("short_text_zipf", time_steps=32, num_classes=42,
                                   token_ids="zipf"),
    # keras-io's IMDB shape: Bidirectional(LSTM 64) → max pooling → Dense(64, relu).
    "imdb_pooled_zipf": common.Case("imdb_pooled_zipf", time_steps=200, num_classes=2,
                                    units=64, token_ids="zipf", pooled=True),
}
GRU_CASES = {
    f"{name}_gru": case.scaled(name=f"{name}_gru", cell="gru")
    for name, case in LSTM_CASES.items() if name != "short_text"}
SIMPLE_RNN_CASES = {
    f"{name}_simple_rnn": LSTM_CASES[name].scaled(name=f"{name}_simple_rnn", cell="simple_rnn")
    for name in ("imdb", "imdb_zipf")}
CASES = {**LSTM_CASES, **GRU_CASES, **SIMPLE_RNN_CASES}
FRAMEWORKS = ("lstm_jax fused", "lstm_jax serving", "flax OptimizedLSTMCell", "keras 3 (jax)",
              "pytorch nn.LSTM", "pytorch nn.LSTM default", "pytorch nn.GRU",
              "pytorch nn.GRU default", "pytorch nn.RNN", "pytorch nn.RNN default")


def main() -> None:
  args = common.parse_args(__doc__.splitlines()[0], CASES, FRAMEWORKS, peak_gflops=None,
                           warmup=3, repeats=5, steps=5)
  common.run_benchmark("lstm_cpu", "benchmarks.lstm_cpu", args, CASES)


if __name__ == "__main__":
  main()
