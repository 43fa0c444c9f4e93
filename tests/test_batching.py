"""Batches: every example once, padded tail, seeded order, device split, buckets."""

import numpy as np
import pytest

from lstm_jax.text.tokenizer import pad_sequences
from lstm_jax.training import batching


def make_data(n=23, max_length=8, padding="pre", seed=0):
  """Rows whose tokens encode their example index (id = 100 * (i + 1) + position)."""
  rng = np.random.default_rng(seed)
  lengths = rng.integers(1, max_length + 1, n)
  sequences = [[100 * (i + 1) + j for j in range(k)] for i, k in enumerate(lengths)]
  token_ids = pad_sequences(sequences, max_length, padding=padding)
  return token_ids, np.arange(n, dtype=np.int32)


def example_ids(batch):
  """Example index of each real row, recovered from its first token."""
  ids = batch["token_ids"].reshape(-1, batch["token_ids"].shape[-1])
  real = batch["weight"].reshape(-1) > 0
  return [int(row[row > 0][0]) // 100 - 1 for row in ids[real]]


def run(token_ids, labels, **kwargs):
  kwargs = {"batch_size": 8, "num_devices": 4, "shuffle": True, "seed": 1, "epoch": 0,
            **kwargs}
  return list(batching.batches(token_ids, labels, **kwargs))


@pytest.mark.parametrize("buckets", [None, (2, 5)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_example_appears_exactly_once(buckets, shuffle):
  token_ids, labels = make_data()
  epoch = run(token_ids, labels, shuffle=shuffle, bucket_lengths=buckets)
  seen = [i for batch in epoch for i in example_ids(batch)]
  assert sorted(seen) == list(range(23))
  labels_seen = [int(l) for b in epoch for l in b["label"][b["weight"] > 0]]
  assert labels_seen == seen
  assert len(epoch) == batching.num_batches(token_ids, 8, bucket_lengths=buckets)


def test_shapes_and_dtypes_have_a_device_axis():
  token_ids, labels = make_data()
  batch = run(token_ids, labels)[0]
  assert batch["token_ids"].shape == (4, 2, 8) and batch["token_ids"].dtype == np.int32
  assert batch["label"].shape == (4, 2) and batch["label"].dtype == np.int32
  assert batch["weight"].shape == (4, 2) and batch["weight"].dtype == np.float32


def test_last_batch_is_filled_with_weight_zero_rows():
  token_ids, labels = make_data(n=19)
  last = run(token_ids, labels, shuffle=False)[-1]
  np.testing.assert_array_equal(last["weight"].reshape(-1), [1, 1, 1] + [0] * 5)
  np.testing.assert_array_equal(last["token_ids"].reshape(8, -1)[3:], 0)


def test_unshuffled_order_is_the_data_order():
  token_ids, labels = make_data()
  seen = [i for b in run(token_ids, labels, shuffle=False) for i in example_ids(b)]
  assert seen == list(range(23))


def test_order_depends_only_on_seed_and_epoch():
  token_ids, labels = make_data()

  def order(seed, epoch):
    return [i for b in run(token_ids, labels, seed=seed, epoch=epoch) for i in example_ids(b)]

  assert order(1, 3) == order(1, 3)
  assert order(1, 3) != order(1, 4)
  assert order(1, 3) != order(2, 3)


def test_batch_size_not_divisible_by_devices_is_an_error():
  token_ids, labels = make_data()
  with pytest.raises(ValueError, match="batch_size 10 is not divisible by the 4 devices"):
    run(token_ids, labels, batch_size=10)


def test_mismatched_labels_are_an_error():
  token_ids, labels = make_data()
  with pytest.raises(ValueError, match="labels must be"):
    run(token_ids, labels[:-1])


def test_empty_split_gives_no_batches():
  assert run(np.zeros((0, 8), np.int32), np.zeros(0, np.int32)) == []


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_buckets_trim_padding_and_keep_every_token(padding):
  token_ids, labels = make_data(n=40, padding=padding)
  epoch = run(token_ids, labels, bucket_lengths=(3, 5), padding=padding)
  assert {b["token_ids"].shape[-1] for b in epoch} == {3, 5, 8}
  for batch in epoch:
    rows = batch["token_ids"].reshape(8, -1)
    for row, i in zip(rows, example_ids(batch)):
      expected = token_ids[i][token_ids[i] > 0]
      np.testing.assert_array_equal(row[row > 0], expected)
      # The padding stays on its side: tokens are contiguous at the far end.
      tokens_at = np.flatnonzero(row)
      if padding == "pre":
        assert tokens_at[-1] == len(row) - 1
      else:
        assert tokens_at[0] == 0
      assert np.all(np.diff(tokens_at) == 1)


def test_bucket_is_the_smallest_length_that_holds_the_longest_row():
  token_ids, labels = make_data(n=40)
  lengths = batching.sequence_lengths(token_ids)
  for batch in run(token_ids, labels, bucket_lengths=(3, 5)):
    longest = max(lengths[i] for i in example_ids(batch))
    assert batch["token_ids"].shape[-1] == min(b for b in (3, 5, 8) if b >= longest)


def test_bad_bucket_length_is_an_error():
  token_ids, labels = make_data()
  with pytest.raises(ValueError, match=r"bucket lengths \[9\] are outside 1..8"):
    run(token_ids, labels, bucket_lengths=(4, 9))


def test_num_batches_counts_partial_batches():
  assert batching.num_batches(17, 8) == 3
  assert batching.num_batches(16, 8) == 2
  assert batching.num_batches(0, 8) == 0
  with pytest.raises(ValueError, match="needs the token ids"):
    batching.num_batches(17, 8, bucket_lengths=(4,))


def test_vocab_size_bucket_rounds_up_to_four_steps_per_doubling():
  sizes = [batching.vocab_size_bucket(n, cap=10**6) for n in (1, 64, 65, 81, 129, 2500, 9450)]
  assert sizes == [64, 64, 80, 96, 160, 2560, 10240]
  assert batching.vocab_size_bucket(2500, cap=2000) == 2000


def test_batch_vocabulary_rebuilds_every_shard_from_its_distinct_ids():
  token_ids = np.random.default_rng(3).integers(0, 500, (4, 8, 30)).astype(np.int32)
  batch_vocab, token_index = batching.batch_vocabulary(token_ids)
  sizes = [len(np.unique(shard)) for shard in token_ids]
  assert batch_vocab.shape == (4, batching.vocab_size_bucket(max(sizes), cap=240))
  assert batch_vocab.dtype == token_index.dtype == np.int32
  assert token_index.shape == token_ids.shape
  for d, size in enumerate(sizes):
    np.testing.assert_array_equal(batch_vocab[d][token_index[d]], token_ids[d])
    np.testing.assert_array_equal(batch_vocab[d, :size], np.unique(token_ids[d]))
    assert not batch_vocab[d, size:].any()  # filler ids are 0


def test_distinct_tokens_add_each_shards_vocabulary_to_the_batches():
  token_ids, labels = make_data()
  for batch in run(token_ids, labels, distinct_tokens=True):
    batch_vocab, token_index = batch["batch_vocab"], batch["token_index"]
    assert batch_vocab.shape[0] == 4 and token_index.shape == batch["token_ids"].shape
    for d in range(4):
      np.testing.assert_array_equal(batch_vocab[d][token_index[d]], batch["token_ids"][d])
  assert "batch_vocab" not in run(token_ids, labels)[0]


def test_some_shards_with_a_batch_vocabulary_need_the_largest_vocab_sizes_of_all():
  ids, labels = np.ones((8, 3), np.int32), np.zeros(8, np.int32)
  with pytest.raises(ValueError, match="need largest_vocab_sizes"):
    list(batching.batches(ids, labels, batch_size=4, num_devices=2, shuffle=False,
                          distinct_tokens=True, shards=range(1, 2)))


def test_shards_must_be_a_range_of_the_devices():
  ids, labels = np.ones((8, 3), np.int32), np.zeros(8, np.int32)
  with pytest.raises(ValueError, match="contiguous, non-empty range of the 2 devices"):
    list(batching.batches(ids, labels, batch_size=4, num_devices=2, shuffle=False,
                          shards=range(1, 3)))
