"""Batches for the data-parallel step: seeded shuffling, bucketing, padded tail.

A batch is a dict of numpy arrays with a leading device axis D:
`token_ids <int32>[D, B/D, T]`, `label <int32>[D, B/D]`, `weight <float32>[D, B/D]`
(1 for a real example, 0 for a filler row). Every example appears exactly once
per epoch; the last batch (per bucket) is filled with weight-0 rows, never
dropped, so evaluation sees everything.

The order depends only on (seed, epoch), so a resumed run sees the same batches.

Batch vocabulary (optional, `distinct_tokens`, the config's
`model.distinct_tokens`): each device's shard also gets its distinct token ids,
`batch_vocab <int32>[D, S]`, and each slot's index into them, `token_index
<int32>[D, B/D, T]`, with token_ids == batch_vocab[token_index], so the model
projects each distinct token once (`model.LSTMClassifier`). A batch of 64 IMDB
reviews x 200 slots holds about 2,500 distinct tokens. S is the largest shard's
batch vocabulary size rounded up to m * 2^e (m in 4..7): at most 25% filler ids
(0) and a few compiled shapes.

A process of a multi-process run builds only its own shards (`shards`): the
rows of the other processes' devices are never gathered, and their batch
vocabularies never computed. Every process must still feed the same S, so the
largest batch vocabulary size over all shards is agreed first
(`batch_vocab_sizes`, one number per batch, exchanged once per epoch by the
caller).

Bucketing (optional): each example goes to the smallest bucket length that
holds its tokens (padding is token id 0), batches are formed within a bucket
and trimmed to its length on the padding side, and the batch order is
shuffled. The bucket lengths are a small fixed set, so the number of compiled
shapes stays bounded.
"""

from collections.abc import Iterator, Sequence
import math
from typing import Optional, Union

import numpy as np


def _check(token_ids: np.ndarray, labels: np.ndarray, batch_size: int, num_devices: int,
           padding: str) -> None:
  if token_ids.ndim != 2:
    raise ValueError(f"token_ids must be <int32>[N, T], got shape {token_ids.shape}.")
  if labels.shape != token_ids.shape[:1]:
    raise ValueError(f"labels must be <int32>[{token_ids.shape[0]}], got shape {labels.shape}.")
  if batch_size < 1 or num_devices < 1:
    raise ValueError(f"batch_size ({batch_size}) and num_devices ({num_devices}) must be >= 1.")
  if batch_size % num_devices:
    raise ValueError(
        f"batch_size {batch_size} is not divisible by the {num_devices} devices; use a "
        f"multiple of {num_devices} (e.g. {math.ceil(batch_size / num_devices) * num_devices}).")
  if padding not in ("pre", "post"):
    raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}.")


def sequence_lengths(token_ids: np.ndarray) -> np.ndarray:
  """<int64>[N] number of non-padding (non-zero) tokens per row."""
  return np.count_nonzero(token_ids, axis=1)


def _buckets(bucket_lengths: Optional[Sequence[int]], max_length: int) -> list[int]:
  """Sorted bucket lengths, always ending with the full length."""
  if not bucket_lengths:
    return [max_length]
  bad = [b for b in bucket_lengths if not 1 <= b <= max_length]
  if bad:
    raise ValueError(f"bucket lengths {bad} are outside 1..{max_length} (data.max_length).")
  return sorted(set(bucket_lengths) | {max_length})


def _assign(token_ids: np.ndarray, buckets: list[int]) -> np.ndarray:
  """<int64>[N] the bucket of each example (smallest length holding its tokens)."""
  return np.searchsorted(buckets, sequence_lengths(token_ids), side="left")


def _plan(token_ids: np.ndarray, batch_size: int, shuffle: bool, seed: int, epoch: int,
          buckets: list[int]) -> list[tuple[np.ndarray, int]]:
  """The epoch's batches as (example indices, bucket length) pairs."""
  rng = np.random.default_rng([seed, epoch])
  assignment = _assign(token_ids, buckets)
  plan = []
  for b, length in enumerate(buckets):
    members = np.flatnonzero(assignment == b)
    if shuffle:
      members = rng.permutation(members)
    plan += [(members[i:i + batch_size], length)
             for i in range(0, len(members), batch_size)]
  if shuffle and len(buckets) > 1:
    plan = [plan[i] for i in rng.permutation(len(plan))]
  return plan


def num_batches(examples: Union[int, np.ndarray], batch_size: int, *,
                bucket_lengths: Optional[Sequence[int]] = None) -> int:
  """Batches per epoch.

  Args:
    examples: the number of examples, or their `<int32>[N, T]` token ids (needed
      with bucketing).
    batch_size: global batch size.
    bucket_lengths: as for `batches`.
  """
  if isinstance(examples, (int, np.integer)):
    if bucket_lengths:
      raise ValueError("num_batches with bucket_lengths needs the token ids, not a count.")
    return math.ceil(examples / batch_size)
  buckets = _buckets(bucket_lengths, examples.shape[1])
  counts = np.bincount(_assign(examples, buckets), minlength=len(buckets))
  return int(sum(math.ceil(c / batch_size) for c in counts))


def vocab_size_bucket(size: int, cap: int) -> int:
  """The padded batch vocabulary size S: the smallest m * 2^e >= size (m in
  4..7, at least 64), at most `cap`."""
  exponent = 4
  while True:
    for m in (4, 5, 6, 7):
      if m << exponent >= size:
        return min(m << exponent, cap)
    exponent += 1


def batch_vocabulary(token_ids: np.ndarray, largest_vocab_size: Optional[int] = None
                     ) -> tuple[np.ndarray, np.ndarray]:
  """Each device shard's batch vocabulary: its distinct token ids and every
  slot's index into them.

  Args:
    token_ids: <int32>[D, b, T] a device-split batch (or this process's shards
      of one).
    largest_vocab_size: the most distinct ids of any shard of the whole batch,
      when `token_ids` holds only some of its shards; default: of these shards.

  Returns:
    batch_vocab <int32>[D, S], sorted distinct ids then 0s (S from
    `vocab_size_bucket`, the same for every shard), and token_index
    <int32>[D, b, T] with token_ids[d] == batch_vocab[d][token_index[d]].
  """
  shards = [np.unique(shard, return_inverse=True) for shard in token_ids]
  here = max(len(ids) for ids, _ in shards)
  if largest_vocab_size is not None and largest_vocab_size < here:
    raise ValueError(f"largest_vocab_size {largest_vocab_size} is below these shards' {here}")
  size = vocab_size_bucket(here if largest_vocab_size is None else largest_vocab_size,
                           cap=token_ids[0].size)
  batch_vocab = np.zeros((len(shards), size), np.int32)
  for d, (ids, _) in enumerate(shards):
    batch_vocab[d, :len(ids)] = ids
  token_index = np.stack([inverse.reshape(token_ids.shape[1:]) for _, inverse in shards])
  return batch_vocab, token_index.astype(np.int32)


def _shard_batches(token_ids: np.ndarray, labels: np.ndarray, *, batch_size: int,
                   num_devices: int, shuffle: bool, seed: int = 0, epoch: int = 0,
                   bucket_lengths: Optional[Sequence[int]] = None, padding: str = "pre",
                   shards: Optional[range] = None) -> Iterator[dict[str, np.ndarray]]:
  """The epoch's batches, only the rows of `shards` (device indices; None: all)."""
  token_ids = np.asarray(token_ids)
  labels = np.asarray(labels)
  _check(token_ids, labels, batch_size, num_devices, padding)
  shards = range(num_devices) if shards is None else shards
  if not shards or shards.step != 1 or shards.start < 0 or shards.stop > num_devices:
    raise ValueError(f"shards must be a contiguous, non-empty range of the {num_devices} "
                     f"devices, got {shards}")
  buckets = _buckets(bucket_lengths, token_ids.shape[1])
  per_device = batch_size // num_devices
  rows = slice(shards.start * per_device, shards.stop * per_device)
  local = len(shards) * per_device
  for indices, length in _plan(token_ids, batch_size, shuffle, seed, epoch, buckets):
    columns = slice(token_ids.shape[1] - length, None) if padding == "pre" else slice(length)
    mine = indices[rows]  # the plan is global; a short last batch has fewer real rows
    ids = np.zeros((local, length), np.int32)
    label = np.zeros(local, np.int32)
    weight = np.zeros(local, np.float32)
    ids[:len(mine)] = token_ids[mine, columns]
    label[:len(mine)] = labels[mine]
    weight[:len(mine)] = 1.0
    yield {"token_ids": ids.reshape(len(shards), per_device, length),
           "label": label.reshape(len(shards), per_device),
           "weight": weight.reshape(len(shards), per_device)}


def batch_vocab_sizes(token_ids: np.ndarray, labels: np.ndarray, **options) -> np.ndarray:
  """<int64>[num_batches] the largest batch vocabulary size (distinct token
  ids) of any of `shards` in each batch of the epoch; the maximum over all
  processes is `batches`'s `largest_vocab_sizes`. Takes the keyword arguments
  of `batches` but `distinct_tokens` and `largest_vocab_sizes`."""
  return np.asarray([max(len(np.unique(shard)) for shard in batch["token_ids"])
                     for batch in _shard_batches(token_ids, labels, **options)], np.int64)


def batches(token_ids: np.ndarray, labels: np.ndarray, *, batch_size: int, num_devices: int,
            shuffle: bool, seed: int = 0, epoch: int = 0,
            bucket_lengths: Optional[Sequence[int]] = None,
            padding: str = "pre",
            distinct_tokens: bool = False,
            shards: Optional[range] = None,
            largest_vocab_sizes: Optional[Sequence[int]] = None
            ) -> Iterator[dict[str, np.ndarray]]:
  """Yields one epoch of device-split batches.

  Args:
    token_ids: <int32>[N, T] padded token ids (0 = padding).
    labels: <int32>[N] class ids.
    batch_size: global batch size B, divisible by num_devices.
    num_devices: D, the devices of the whole run.
    shuffle: shuffle the examples (and, with buckets, the batch order).
    seed: with `epoch`, fixes the order.
    epoch: the epoch number.
    bucket_lengths: optional lengths to trim batches to; T is always one.
    padding: the side the padding is on ('pre' or 'post'); trimming keeps
      the other side.
    distinct_tokens: add each shard's `batch_vocabulary`.
    shards: the device indices to build the rows of (this process's devices);
      None: all D.
    largest_vocab_sizes: per batch, the largest batch vocabulary size of any
      shard of the whole batch (`batch_vocab_sizes`, maximum over the
      processes), so that every process pads its batch vocabularies to the
      same S; needed with `distinct_tokens` when `shards` is not all devices.

  Yields:
    {'token_ids' <int32>[D', B/D, T_b], 'label' <int32>[D', B/D],
     'weight' <float32>[D', B/D]} with D' = len(shards) and T_b the batch's
    bucket length; with `distinct_tokens` also 'batch_vocab' <int32>[D', S]
    and 'token_index' <int32>[D', B/D, T_b].
  """
  partial = shards is not None and len(shards) < num_devices
  if distinct_tokens and partial and largest_vocab_sizes is None:
    raise ValueError("batches of some shards with distinct_tokens need largest_vocab_sizes "
                     "(batch_vocab_sizes of every process)")
  sizes = iter(largest_vocab_sizes) if largest_vocab_sizes is not None else None
  for batch in _shard_batches(token_ids, labels, batch_size=batch_size, num_devices=num_devices,
                              shuffle=shuffle, seed=seed, epoch=epoch,
                              bucket_lengths=bucket_lengths, padding=padding, shards=shards):
    if distinct_tokens:
      batch["batch_vocab"], batch["token_index"] = batch_vocabulary(
          batch["token_ids"], None if sizes is None else int(next(sizes)))
    yield batch
