"""GloVe reading speed on a generated file of the real 6B 300d size.

Writes a 400,000 x 300 GloVe text file (about 1 GB, values like `-0.12345`)
into a temporary directory, then times: the cold load (parse + cache write),
a load of the whole table from the cache, and a load of a 20,000-word
vocabulary from the cache. Prints a table and a final JSON line.

  python benchmarks/glove_speed.py [--rows 400000] [--dim 300]
"""

import argparse
import json
import pathlib
import tempfile
import time

import numpy as np

from lstm_jax.text import glove


def write_glove(path: pathlib.Path, rows: int, dim: int, seed: int = 0) -> None:
  """Fixed-width values composed as bytes in numpy: no per-float Python work."""
  rng = np.random.default_rng(seed)
  digits = np.frombuffer(b"0123456789", np.uint8)
  with open(path, "wb") as f:
    for start in range(0, rows, 20_000):
      n = min(20_000, rows - start)
      values = rng.integers(-99_999, 100_000, (n, dim))
      field = np.empty((n, dim, 9), np.uint8)  # "-0.ddddd " or "0.dddddd "
      negative = values < 0
      magnitude = np.abs(values) * np.where(negative, 1, 10)
      field[..., 0] = np.where(negative, ord("-"), ord("0"))
      field[..., 1] = np.where(negative, ord("0"), ord("."))
      field[..., 2] = np.where(negative, ord("."), digits[magnitude // 100_000 % 10])
      for position, power in zip(range(3, 8), (10_000, 1_000, 100, 10, 1)):
        field[..., position] = digits[magnitude // power % 10]
      field[..., 8] = ord(" ")
      field[:, -1, 8] = ord("\n")
      body = field.reshape(n, -1)
      f.write(b"".join(b"w%d %s" % (start + i, body[i].tobytes()) for i in range(n)))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--rows", type=int, default=400_000)
  parser.add_argument("--dim", type=int, default=300)
  parser.add_argument("--vocab", type=int, default=20_000)
  args = parser.parse_args()

  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp) / f"glove.6B.{args.dim}d.txt"
    start = time.perf_counter()
    write_glove(path, args.rows, args.dim)
    generate = time.perf_counter() - start
    size = path.stat().st_size
    vocab = {f"w{i}": i for i in range(0, args.rows, max(1, args.rows // args.vocab))}

    timings = {}
    start = time.perf_counter()
    table = glove.load_glove(path, dim=args.dim)
    timings["cold: parse + cache"] = time.perf_counter() - start
    assert table.vectors.shape == (args.rows, args.dim)
    start = time.perf_counter()
    glove.load_glove(path, dim=args.dim)
    timings["cached: whole table"] = time.perf_counter() - start
    start = time.perf_counter()
    chosen = glove.load_glove(path, dim=args.dim, words=vocab)
    timings[f"cached: {len(vocab):,} words"] = time.perf_counter() - start
    assert len(chosen.words) == len(vocab)

  print(f"{args.rows:,} x {args.dim} GloVe text file, {size / 1e9:.2f} GB "
        f"(generated in {generate:.1f} s)")
  print(f"{'load':<26}{'seconds':>9}")
  for step, seconds in timings.items():
    print(f"{step:<26}{seconds:>9.3f}")
  print(json.dumps({"benchmark": "glove_speed", "rows": args.rows, "dim": args.dim,
                    "file_bytes": size, "cold_s": round(timings["cold: parse + cache"], 3),
                    "cached_full_s": round(timings["cached: whole table"], 3),
                    "cached_vocab_s": round(timings[f"cached: {len(vocab):,} words"], 3),
                    "vocab_words": len(vocab)}))


if __name__ == "__main__":
  main()
