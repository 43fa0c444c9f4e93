"""The data-parallel steps and where they run: the device topology, the
per-device train and eval steps that `jax.pmap` wraps, batching for a run's
devices, and `evaluate` over a split.

The steps are plain functions of one device's shard; `jax.pmap` is only the
wrapper, so the same code runs on 1 device and on N, and across processes.
Loss and metrics are exact sums over real examples (filler rows of the last
batch have weight 0), reduced with `psum`: the gradient is the mean over the
real examples of the global batch, whatever the device count.
"""

import dataclasses
import functools
from typing import Any, Callable, Iterator, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state as train_state_lib
from jax.experimental import multihost_utils

from lstm_jax.config import validation as config_validation
from lstm_jax.models import heads
from lstm_jax.training import batching
from lstm_jax.training import dispatch
from lstm_jax.training import input_pipeline
from lstm_jax.training import metrics as metrics_lib

AXIS = "batch"  # the pmap axis the steps reduce over
GRAD_NORM = "grad_norm"  # the train step's gradient norm, beside its metric sums


class TrainState(train_state_lib.TrainState):
  """Parameters and optimizer state; `step` counts optimizer updates."""


def batch_vocab_arguments(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """The model's batch vocabulary arguments (`batch_vocab`, `token_index`), when
  the batch carries them."""
  return {k: batch[k] for k in ("batch_vocab", "token_index") if k in batch}


def train_step(state: TrainState, batch: dict[str, jax.Array], dropout_rng: jax.Array,
               *, num_classes: int, head: heads.Head,
               class_weights: Optional[jax.Array] = None
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimizer update on one device's shard of the global batch.

  Args:
    state: replicated parameters and optimizer state.
    batch: `token_ids <int32>[b, T]`, `label <int32>[b]`, `weight <float32>[b]`,
      optionally `batch_vocab <int32>[S]` and `token_index <int32>[b, T]`.
    dropout_rng: the run's dropout key; folded with the step and the device.
    num_classes: C.
    head: the model's output activation (its loss).
    class_weights: <float32>[C] weights of the training loss (`class_weights`),
      or None. The mean still divides by the number of examples, as Keras's.

  Returns:
    The new state and the batch's metric sums (over all devices; the loss
    sum is the weighted one that is minimised) with `grad_norm` <float32>[],
    the global L2 norm of the mean gradient before clipping.
  """
  rng = jax.random.fold_in(jax.random.fold_in(dropout_rng, state.step),
                           jax.lax.axis_index(AXIS))

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, batch["token_ids"], train=True,
                            rngs={"dropout": rng}, **batch_vocab_arguments(batch))
    losses = head.losses(logits, batch["label"])
    return jnp.sum(losses * loss_weights), logits

  loss_weights = batch["weight"]
  if class_weights is not None:
    loss_weights = loss_weights * jnp.take(class_weights, batch["label"])
  grads, logits = jax.grad(loss_fn, has_aux=True)(state.params)
  count = jax.lax.psum(jnp.sum(batch["weight"]), AXIS)
  grads = jax.tree.map(lambda g: jax.lax.psum(g, AXIS) / jnp.maximum(count, 1.0), grads)
  sums = metrics_lib.batch_metrics(logits, batch["label"], batch["weight"], num_classes,
                                   head=head, loss_weights=loss_weights)
  # Of the reduced gradient, so the same on every device; global-norm clipping
  # computes the same reduction, which XLA then shares.
  grad_norm = optax.global_norm(grads)
  return (state.apply_gradients(grads=grads),
          {**jax.lax.psum(sums, AXIS), GRAD_NORM: grad_norm})


def eval_step(params: Any, batch: dict[str, jax.Array], *, apply_fn: Callable,
              num_classes: int, head: heads.Head) -> dict[str, jax.Array]:
  """Metric sums of one batch (all devices), without dropout."""
  logits = apply_fn({"params": params}, batch["token_ids"], train=False,
                    **batch_vocab_arguments(batch))
  sums = metrics_lib.batch_metrics(logits, batch["label"], batch["weight"], num_classes,
                                   head=head)
  return jax.lax.psum(sums, AXIS)


def pmapped_train_step(num_classes: int, head: heads.Head, class_weights: Optional[jax.Array],
                       topology: "Topology") -> Callable:
  """`train_step` over the run's devices: (replicated state, sharded batch, rng)
  → (new state, sums); the state passed in is donated."""
  return jax.pmap(functools.partial(train_step, num_classes=num_classes, head=head,
                                    class_weights=class_weights),
                  axis_name=AXIS, in_axes=(None, 0, None), out_axes=(None, None),
                  donate_argnums=(0,), devices=topology.devices)


def pmapped_eval_step(apply_fn: Callable, num_classes: int, head: heads.Head,
                      topology: "Topology") -> Callable:
  """`eval_step` over the run's devices: (replicated params, sharded batch) → sums."""
  return jax.pmap(functools.partial(eval_step, apply_fn=apply_fn, num_classes=num_classes,
                                    head=head),
                  axis_name=AXIS, in_axes=(None, 0), out_axes=None, devices=topology.devices)


@dataclasses.dataclass(frozen=True)
class Topology:
  """Where this process sits among all devices of the run."""
  # pmap's `devices`: the run's devices of every process, process by process,
  # so that its collectives reduce over the whole run.
  devices: tuple
  num_local_devices: int  # how many of them this process drives
  process_index: int

  @property
  def num_global_devices(self) -> int:
    return len(self.devices)

  @classmethod
  def create(cls, num_devices: int = 0) -> "Topology":
    """Every process uses its first `num_devices` local devices (0: all;
    `train.num_devices`)."""
    local = jax.local_devices()
    wanted = num_devices or len(local)
    if wanted > len(local):
      raise config_validation.ConfigError(
          f"train.num_devices={wanted} but only {len(local)} local devices exist")
    devices = tuple(d for p in range(jax.process_count())
                    for d in [d for d in jax.devices() if d.process_index == p][:wanted])
    return cls(devices, wanted, jax.process_index())

  @property
  def num_processes(self) -> int:
    return self.num_global_devices // self.num_local_devices

  @property
  def local_shards(self) -> range:
    """The indices, among all devices of the run, of this process's devices."""
    start = self.process_index * self.num_local_devices
    return range(start, start + self.num_local_devices)


@dataclasses.dataclass(frozen=True)
class BatchSpec:
  """How a split is cut into batches (`batching.batches`): keys of several
  config sections, which the commands read for it.

  Attributes:
    batch_size: `train.batch_size`, global over all devices of all processes.
    seed: the run's seed, of the shuffling.
    padding: `data.padding`, the side bucketed batches are cut from.
    bucket_lengths: `data.bucket_lengths`, or None for one length.
    distinct_tokens: `model.distinct_tokens`: batches carry their batch vocabulary.
  """
  batch_size: int
  seed: int
  padding: str
  bucket_lengths: Optional[tuple[int, ...]]
  distinct_tokens: bool


def make_batches(split: input_pipeline.EncodedSplit, spec: BatchSpec,
                 topology: Topology, *, epoch: int, shuffle: bool) -> Iterator[dict]:
  """This process's shards of each batch of an epoch (`batching.batches`).

  With several processes and the batch vocabulary, the processes first agree
  on each batch's largest batch vocabulary size: one all-gather per epoch.
  """
  options = dict(batch_size=spec.batch_size, num_devices=topology.num_global_devices,
                 shuffle=shuffle, seed=spec.seed, epoch=epoch,
                 bucket_lengths=spec.bucket_lengths, padding=spec.padding,
                 shards=topology.local_shards)
  largest_vocab_sizes = None
  if spec.distinct_tokens and topology.num_processes > 1:
    mine = batching.batch_vocab_sizes(split.token_ids, split.labels, **options)
    largest_vocab_sizes = np.max(multihost_utils.process_allgather(mine), axis=0)
  yield from batching.batches(split.token_ids, split.labels,
                              distinct_tokens=spec.distinct_tokens,
                              largest_vocab_sizes=largest_vocab_sizes, **options)


def sum_metrics(per_step: list[dict[str, jax.Array]]) -> dict[str, np.ndarray]:
  """Adds per-step metric sums (`metrics.SUM_KEYS`); one device→host transfer per epoch."""
  fetched = jax.device_get(per_step)
  return {k: np.sum([m[k] for m in fetched], axis=0) for k in metrics_lib.SUM_KEYS}


def evaluate(p_eval_step: Callable, params: Any, split: input_pipeline.EncodedSplit,
             spec: BatchSpec, topology: Topology,
             label_names: list[str]) -> dict[str, Any]:
  """Loss, accuracy, macro-F1, per-class scores and confusion over a split."""
  per_step = []
  for batch in make_batches(split, spec, topology, epoch=0, shuffle=False):
    per_step.append(p_eval_step(params, batch))
    dispatch.wait_for_room(per_step)
  return metrics_lib.summarize(sum_metrics(per_step), label_names)


def first_nonfinite_step(per_step: list[dict[str, np.ndarray]]) -> Optional[int]:
  for i, sums in enumerate(per_step):
    if not np.isfinite(sums["loss_sum"]):
      return i
  return None
