"""The dataset report: rows read / used / dropped by reason, labels, lengths.

Layout (JSON-ready):

    {"source": "files",
     "labels": [...],                      # training labels, sorted
     "splits": {"train" | "validation" | "test": {
         "read": int,                      # rows that reached this split
         "used": int,
         "dropped": {reason: int},         # read = used + sum(dropped)
         "label_counts": {label: int},     # of the used rows
         "length_percentiles": {"p50": .., "p90": .., "p95": .., "p99": ..,
                                "max": ..}}},   # whitespace words, used rows
     "source_rows": {"train": int, "test": int, "validation": int},
                                           # rows in the source files (of its splits)
     "first_dropped": {source split: {reason: [row id, ...]}}}
                                           # the first source rows dropped

Rows held out of the source's training rows count in the split they went to,
so the `read` of the three splits sums to the rows of the source.
"""

import collections
from typing import Mapping, Sequence

import numpy as np

_PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "max": 100}


def length_percentiles(texts: Sequence[str]) -> dict[str, float | None]:
  """Percentiles of the whitespace-word counts (None for no texts)."""
  if not texts:
    return {k: None for k in _PERCENTILES}
  lengths = np.array([len(t.split()) for t in texts])
  return {k: float(np.percentile(lengths, q)) for k, q in _PERCENTILES.items()}


def split_report(read: int, dropped: Mapping[str, int], texts: Sequence[str],
                 labels: Sequence[str]) -> dict:
  """The report of one split (see the module docstring)."""
  counts = collections.Counter(labels)
  return {
      "read": read,
      "used": len(texts),
      "dropped": dict(sorted(dropped.items())),
      "label_counts": dict(sorted(counts.items())),
      "length_percentiles": length_percentiles(texts),
  }


def dropped_lines(report: dict) -> list[str]:
  """One line per split with drops: each reason, its count, its first rows."""
  lines = []
  for name, split in report["splits"].items():
    if not split["dropped"]:
      continue
    first = report.get("first_dropped", {}).get(name, {})
    reasons = []
    for reason, count in split["dropped"].items():
      ids = first.get(reason, [])
      more = ", ..." if count > len(ids) else ""
      reasons.append(f"{reason}: {count}" +
                     (f" ({', '.join(ids)}{more})" if ids else ""))
    lines.append(f"{name}: dropped {sum(split['dropped'].values())} of "
                 f"{split['read']} rows; {'; '.join(reasons)}")
  return lines


def accounting_errors(report: dict) -> list[str]:
  """The broken accounting rules of a report; empty when every row counts.

  Rules: per split, read = used + sum(dropped); over splits, the rows read
  equal the rows of the source.
  """
  errors = []
  splits = report["splits"]
  for name, split in splits.items():
    dropped = sum(split["dropped"].values())
    if split["read"] != split["used"] + dropped:
      errors.append(f"{name}: read {split['read']} != used {split['used']} + "
                    f"dropped {dropped}")
    if sum(split["label_counts"].values()) != split["used"]:
      errors.append(f"{name}: label counts do not sum to used rows")
  read = sum(s["read"] for s in splits.values())
  source = sum(report["source_rows"].values())
  if read != source:
    errors.append(f"splits read {read} rows, the source has {source}")
  return errors
