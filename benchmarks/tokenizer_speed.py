"""Tokenizer speed: fit + encode news-description-length texts.

Generates descriptions from a Zipf-distributed vocabulary (with capitals,
punctuation and apostrophes, like HuffPost `short_description`s), then times
`fit_on_texts`, `texts_to_sequences` and `encode`. Prints a table and a final
JSON line.

  python benchmarks/tokenizer_speed.py [--num_texts 200000]
"""

import argparse
import json
import time

import numpy as np

from lstm_jax.text.tokenizer import Tokenizer


def descriptions(num_texts: int, seed: int = 0) -> list[str]:
  """Texts of 5-45 words (mean ~25, like news descriptions), seeded."""
  rng = np.random.default_rng(seed)
  letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
  vocab = ["".join(rng.choice(letters, k)) for k in rng.integers(2, 10, 50_000)]
  vocab[:6] = ["The", "don't", "U.S.", "it's", "Trump's", "(AP)"]
  lengths = rng.integers(5, 46, num_texts)
  words = rng.zipf(1.2, int(lengths.sum())) % len(vocab)
  ends = np.cumsum(lengths)
  texts = []
  for start, end in zip(ends - lengths, ends):
    text = " ".join(vocab[w] for w in words[start:end])
    texts.append(text[0].upper() + text[1:] + ", says \"report\"!")
  return texts


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--num_texts", type=int, default=200_000)
  parser.add_argument("--max_length", type=int, default=50)
  parser.add_argument("--num_words", type=int, default=20_000)
  args = parser.parse_args()

  texts = descriptions(args.num_texts)
  tokenizer = Tokenizer(num_words=args.num_words)
  timings = {}
  start = time.perf_counter()
  tokenizer.fit_on_texts(texts)
  timings["fit_on_texts"] = time.perf_counter() - start
  start = time.perf_counter()
  tokenizer.texts_to_sequences(texts)
  timings["texts_to_sequences"] = time.perf_counter() - start
  start = time.perf_counter()
  token_ids = tokenizer.encode(texts, args.max_length)
  timings["encode"] = time.perf_counter() - start
  timings["fit_plus_encode"] = timings["fit_on_texts"] + timings["encode"]

  num_tokens = int(sum(len(tokenizer.words(t)) for t in texts[:10_000]) *
                   len(texts) / min(len(texts), 10_000))
  print(f"{len(texts):,} texts, ~{num_tokens:,} words, vocabulary {len(tokenizer.word_index):,}"
        f" (kept {tokenizer.vocab_size:,}), encoded to {token_ids.shape}")
  print(f"{'step':<20}{'seconds':>10}{'texts/s':>14}")
  for step, seconds in timings.items():
    print(f"{step:<20}{seconds:>10.3f}{len(texts) / seconds:>14,.0f}")
  print(json.dumps({"benchmark": "tokenizer_speed", "num_texts": len(texts),
                    "approx_words": num_tokens, "max_length": args.max_length,
                    **{f"{k}_s": round(v, 3) for k, v in timings.items()}}))


if __name__ == "__main__":
  main()
