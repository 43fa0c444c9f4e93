"""`model.dtype=bfloat16`: bfloat16 matmuls, float32 parameters, cell state and loss.

A short training run in bfloat16 must track the float32 run: the stated
tolerance is 0.02 on the training loss at every step of 30 steps (losses start
near ln 2 ≈ 0.69) and 0.02 on the final accuracy over the training set.
"""

import functools

import jax
import numpy as np
import pytest

from configs import default
from lstm_jax.models import classifier as model_lib
from lstm_jax.models import heads
from lstm_jax.training import batching
from lstm_jax.training import metrics as metrics_lib
from lstm_jax.training import steps
from lstm_jax.training import train

VOCAB, LENGTH, BATCH, STEPS = 40, 12, 32, 30
LOSS_TOLERANCE = 0.02
ACCURACY_TOLERANCE = 0.02


def task(n: int) -> tuple[np.ndarray, np.ndarray]:
  """Label 1 when any token of the text is below 10: learnable in a few steps."""
  rng = np.random.default_rng(0)
  ids = rng.integers(10, VOCAB, (n, LENGTH)).astype(np.int32)
  labels = rng.integers(0, 2, n).astype(np.int32)
  cue = rng.integers(0, LENGTH, n)
  ids[labels == 1, cue[labels == 1]] = rng.integers(1, 10, int(labels.sum()))
  ids[:, :2] = 0  # some padding, so masking is part of the comparison
  return ids, labels


def train_run(dtype: str) -> tuple[list[float], float, steps.TrainState]:
  """STEPS train steps on one device; the per-step losses and the final accuracy."""
  config = default.get_config()
  config.embedding.dim = 16
  config.model.recurrent_layers = ({"units": 16},)
  config.model.dtype = dtype
  config.model.implementation = "scan"
  config.train.learning_rate = 0.02
  model = model_lib.from_config(config.model, config.embedding, VOCAB, 2)
  state = jax.device_get(train.create_train_state(
      model, config.train, LENGTH, seed=config.seed, steps_per_epoch=1))
  p_step = jax.pmap(functools.partial(steps.train_step, num_classes=2,
                             head=heads.Softmax()), axis_name=steps.AXIS,
                    in_axes=(None, 0, None), out_axes=(None, None),
                    devices=jax.devices()[:1])
  p_eval = jax.pmap(functools.partial(steps.eval_step, apply_fn=model.apply, num_classes=2,
                                      head=model.head),
                    axis_name=steps.AXIS, in_axes=(None, 0), out_axes=None,
                    devices=jax.devices()[:1])
  ids, labels = task(4 * BATCH)
  losses, epoch = [], 0
  while len(losses) < STEPS:
    epoch += 1
    for batch in batching.batches(ids, labels, batch_size=BATCH, num_devices=1,
                                  shuffle=True, seed=0, epoch=epoch):
      state, sums = p_step(state, batch, jax.random.PRNGKey(0))
      losses.append(float(sums["loss_sum"] / sums["count"]))
  eval_sums = [p_eval(state.params, b) for b in batching.batches(
      ids, labels, batch_size=BATCH, num_devices=1, shuffle=False)]
  totals = {k: np.sum([s[k] for s in jax.device_get(eval_sums)], axis=0) for k in eval_sums[0]}
  accuracy = metrics_lib.summarize(totals, ["0", "1"])["accuracy"]
  return losses[:STEPS], accuracy, state


@pytest.fixture(scope="module")
def runs():
  return {dtype: train_run(dtype) for dtype in ("float32", "bfloat16")}


def test_bfloat16_training_tracks_float32(runs):
  f32_losses, f32_accuracy, _ = runs["float32"]
  bf16_losses, bf16_accuracy, _ = runs["bfloat16"]
  # The run learns, so that tracking it means something.
  assert f32_losses[-1] < 0.5 * f32_losses[0]
  np.testing.assert_allclose(bf16_losses, f32_losses, atol=LOSS_TOLERANCE)
  assert abs(bf16_accuracy - f32_accuracy) <= ACCURACY_TOLERANCE


def test_bfloat16_is_really_used(runs):
  assert runs["bfloat16"][0] != runs["float32"][0]


def test_parameters_and_optimizer_state_stay_float32(runs):
  state = runs["bfloat16"][2]
  dtypes = {np.asarray(leaf).dtype for leaf in jax.tree.leaves((state.params, state.opt_state))
            if np.asarray(leaf).dtype.kind == "f"}
  assert dtypes == {np.dtype("float32")}
