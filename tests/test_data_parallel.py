"""Data parallelism: N devices give the result of 1 device on the same global batch.

The train step averages gradients over the real examples of the whole global
batch (exact sums reduced with psum), so splitting that batch over 1, 4 or 8
devices changes only the order of float additions. Dropout is off here: its
masks are drawn per device, so with dropout the runs differ by design.
"""

import csv
import functools
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from lstm_jax.config import validation as config_validation
from lstm_jax.models import classifier as model_lib
from lstm_jax.models import heads
from lstm_jax.training import batching
from lstm_jax.training import run_records
from lstm_jax.training import steps
from lstm_jax.training import train

VOCAB, CLASSES, LENGTH, BATCH = 30, 3, 10, 16
DEVICE_COUNTS = (4, 8)


def tiny_config() -> "default.ml_collections.ConfigDict":
  config = default.get_config()
  config.data.max_length = LENGTH
  config.embedding.dim = 8
  config.model.recurrent_layers = ({"units": 8},)
  config.model.implementation = "scan"
  config.train.batch_size = BATCH
  config.train.learning_rate = 0.05
  return config


def examples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """<int32>[n, LENGTH] pre-padded token ids of random lengths, <int32>[n] labels."""
  rng = np.random.default_rng(seed)
  lengths = rng.integers(1, LENGTH + 1, n)
  ids = rng.integers(1, VOCAB, (n, LENGTH)).astype(np.int32)
  ids[np.arange(LENGTH) < (LENGTH - lengths)[:, None]] = 0
  return ids, rng.integers(0, CLASSES, n).astype(np.int32)


@functools.cache
def initial_state() -> steps.TrainState:
  """On the host, so that donating it to a step leaves it intact for the next run."""
  config = tiny_config()
  model = model_lib.from_config(config.model, config.embedding, VOCAB, CLASSES)
  return jax.device_get(train.create_train_state(
      model, config.train, LENGTH, seed=config.seed, steps_per_epoch=1))


@functools.cache
def pmapped_step(num_devices: int):
  """The production step, pmapped as in training over the first `num_devices`."""
  return jax.pmap(
      functools.partial(steps.train_step, num_classes=CLASSES, head=heads.Softmax()),
      axis_name=steps.AXIS,
      in_axes=(None, 0, None), out_axes=(None, None), donate_argnums=(0,),
      devices=jax.devices()[:num_devices])


def run_steps(state: steps.TrainState, global_batches: list[dict[str, np.ndarray]],
              num_devices: int) -> tuple[steps.TrainState, list[dict[str, np.ndarray]]]:
  p_step = pmapped_step(num_devices)
  rng = jax.random.PRNGKey(7)
  sums = []
  for batch in global_batches:
    split = {k: v.reshape(num_devices, -1, *v.shape[1:]) for k, v in batch.items()}
    state, step_sums = p_step(state, split, rng)
    sums.append(step_sums)
  return jax.device_get(state), jax.device_get(sums)


def epoch_batches(n: int) -> list[dict[str, np.ndarray]]:
  """One epoch of global batches [BATCH, ...]; the last has weight-0 filler rows."""
  ids, labels = examples(n, seed=3)
  return [{k: v.reshape(BATCH, *v.shape[2:]) for k, v in b.items()}
          for b in batching.batches(ids, labels, batch_size=BATCH, num_devices=1,
                                    shuffle=True, seed=0, epoch=1)]


def assert_trees_close(a, b, rtol=2e-5, atol=2e-6):
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=jax.tree_util.keystr(path))


@pytest.fixture(scope="module")
def one_device_epoch():
  batches = epoch_batches(43)
  assert batches[-1]["weight"].sum() == 43 - 2 * BATCH  # 11 real rows, 5 filler rows
  return batches, run_steps(initial_state(), batches, 1)


@pytest.mark.parametrize("num_devices", DEVICE_COUNTS)
def test_one_step_on_n_devices_equals_one_device(num_devices):
  batch = epoch_batches(BATCH)[:1]
  one_state, one_sums = run_steps(initial_state(), batch, 1)
  n_state, n_sums = run_steps(initial_state(), batch, num_devices)
  assert_trees_close(n_state.params, one_state.params)
  assert_trees_close(n_sums, one_sums)


@pytest.mark.parametrize("num_devices", DEVICE_COUNTS)
def test_an_epoch_with_a_padded_last_batch_on_n_devices_equals_one_device(
    num_devices, one_device_epoch):
  batches, (one_state, one_sums) = one_device_epoch
  n_state, n_sums = run_steps(initial_state(), batches, num_devices)
  assert int(n_state.step) == int(one_state.step) == 3
  assert_trees_close(n_state.params, one_state.params)
  assert_trees_close(n_state.opt_state, one_state.opt_state)
  assert_trees_close(n_sums, one_sums)


def test_grad_norm_is_the_norm_of_the_mean_gradient_before_clipping():
  """The step reports the global norm of the gradient it then clips."""
  batch = epoch_batches(BATCH)[0]
  config = tiny_config()
  config.train.clip_norm = 0.1
  model = model_lib.from_config(config.model, config.embedding, VOCAB, CLASSES)
  state = jax.device_get(train.create_train_state(
      model, config.train, LENGTH, seed=config.seed, steps_per_epoch=1))
  head = heads.Softmax()

  def mean_loss(params):
    logits = state.apply_fn({"params": params}, batch["token_ids"])
    return jnp.mean(head.losses(logits, batch["label"]))

  gradient = jax.grad(mean_loss)(state.params)
  expected = np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(gradient)))
  _, (sums,) = run_steps(state, [batch], 4)
  assert expected > 2 * config.train.clip_norm  # clipped: the norm is the one before
  np.testing.assert_allclose(sums["grad_norm"], expected, rtol=1e-5)


def test_filler_rows_count_for_nothing(one_device_epoch):
  batches, (one_state, one_sums) = one_device_epoch
  last = dict(batches[-1])
  filler = last["weight"] == 0
  # Whatever a weight-0 row holds, neither the update nor the metrics see it.
  last["token_ids"] = np.where(filler[:, None], 5, last["token_ids"]).astype(np.int32)
  last["label"] = np.where(filler, 2, last["label"]).astype(np.int32)
  state, sums = run_steps(initial_state(), batches[:-1] + [last], 4)
  assert_trees_close(state.params, one_state.params)
  assert_trees_close(sums, one_sums)
  assert sums[-1]["count"] == 11


@pytest.mark.parametrize("batch_size,num_devices", [(30, 4), (12, 8), (3, 2)])
def test_a_batch_not_dividing_the_devices_is_a_clear_error(batch_size, num_devices):
  with pytest.raises(config_validation.ConfigError,
                     match=rf"train.batch_size={batch_size} does not divide by the "
                           rf"{num_devices} devices.*multiple of {num_devices}"):
    config_validation.check_batch_divides(batch_size, num_devices)


def write_texts(path, n: int, seed: int) -> None:
  """A CSV whose label is given by one word of each text."""
  rng = random.Random(seed)
  cue = {"pos": ["good", "fine", "great"], "neg": ["bad", "poor", "awful"]}
  filler = ["the", "a", "film", "plot", "actor", "scene", "music"]
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for _ in range(n):
      label = rng.choice(sorted(cue))
      words = rng.choices(filler, k=rng.randint(2, 7)) + [rng.choice(cue[label])]
      rng.shuffle(words)
      writer.writerow([" ".join(words), label])


@pytest.mark.slow
def test_training_on_8_devices_gives_the_1_device_run(tmp_path):
  train_file = tmp_path / "train.csv"
  write_texts(train_file, 150, seed=0)
  runs = {}
  for num_devices in (1, 8):
    config = tiny_config()
    config.data.train_files = (str(train_file),)
    config.train.max_epochs = 2
    config.train.num_devices = num_devices
    workdir = tmp_path / f"devices_{num_devices}"
    results = train.train_and_evaluate(config, workdir)
    runs[num_devices] = results, run_records.read_history(workdir)
  (one, one_history), (eight, eight_history) = runs[1], runs[8]
  assert one["num_train"] % BATCH  # the last batch of each epoch is padded
  for a, b in zip(one_history, eight_history, strict=True):
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
      assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
  for key in ("test_loss", "test_accuracy", "test_macro_f1", "best_epoch"):
    assert one[key] == pytest.approx(eight[key], rel=1e-5, abs=1e-6), key
  assert one["confusion_matrix"] == eight["confusion_matrix"]
