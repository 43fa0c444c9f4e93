"""Every program of a run lowers for CUDA GPUs and TPUs, here, without them.

JAX lowers a jitted function for another platform than its own
(`lowering_platforms`): a missing lowering rule, a CPU-only custom call or a
dtype mistake then fails on this machine instead of on a borrowed accelerator.
The programs are built as `train.py` and `serving.py` build them: the pmapped
train and eval steps (float32 and bfloat16, with and without the batch
vocabulary) and the serving forward pass with its projection table.

Not lowered here: `jax.experimental.rnn`'s cuDNN call, which asks the CUDA
plugin for cuDNN's workspace sizes while it is traced (its test skips where
the plugin is absent and runs on a GPU machine); the rest of the `cudnn` path
lowers here with the call replaced by its reference. Compiling for the device
(XLA's GPU and TPU backends) and running need the hardware
(`benchmarks/gpu_check.sh`).
"""

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from lstm_jax import serving
from lstm_jax.models import classifier as model_lib
from lstm_jax.recurrent import cudnn
from lstm_jax.training import batching
from lstm_jax.training import steps
from lstm_jax.training import train
from test_cudnn_lstm import reference_kernel

PLATFORMS = ("cuda", "tpu")
VOCAB, EMBED, CLASSES, TIME, BATCH, DEVICES = 60, 8, 3, 6, 8, 2
# `model.recurrent_layers` of each kind of model the family has: each cell,
# bidirectional, stacked.
LAYER_SPECS = {
    "lstm": ({"units": 4},),
    "gru": ({"units": 4, "cell": "gru"},),
    "simple_rnn": ({"units": 4, "cell": "simple_rnn"},),
    "bidirectional": ({"units": 4, "bidirectional": True},),
    "stacked": ({"units": 4}, {"units": 4}),
}
# The layers that run on cuDNN with model.implementation=cudnn: LSTM ones.
CUDNN_SPECS = {name: layers for name, layers in LAYER_SPECS.items()
               if all(layer.get("cell", "lstm") == "lstm" for layer in layers)}
IMPLEMENTATIONS = ("fused", "scan")
DTYPES = ("float32", "bfloat16")


def value_id(value) -> str:
  if isinstance(value, bool):  # model.distinct_tokens
    return "batch_vocab" if value else "every_slot"
  return value


def cases(with_dtypes: bool) -> list:
  """Every combination of a layer spec, a recurrence (and a dtype and the batch
  vocabulary on or off). The default suite runs one combination per spec,
  chosen so that every value of every factor occurs; `-m slow` runs them all."""
  options = (IMPLEMENTATIONS, DTYPES, (True, False)) if with_dtypes else (IMPLEMENTATIONS,)
  params = []
  for index, (name, layers) in enumerate(LAYER_SPECS.items()):
    default_case = (index % 2, (index + 1) // 2 % 2, index // 2 % 2)[:len(options)]
    for choice in itertools.product(*(range(len(o)) for o in options)):
      values = tuple(o[c] for o, c in zip(options, choice))
      params.append(pytest.param(layers, *values, id="-".join([name, *map(value_id, values)]),
                                 marks=() if choice == default_case else pytest.mark.slow))
  return params


def make_config(layers, implementation="fused", dtype="float32", distinct_tokens=True):
  config = default.get_config()
  config.embedding.dim = EMBED
  config.data.max_length = TIME
  config.train.batch_size = BATCH
  config.model.recurrent_layers = layers
  config.model.implementation = implementation
  config.model.dtype = dtype
  config.model.distinct_tokens = distinct_tokens
  return config


def run_programs(config):
  """The model, the state's shapes, a sharded batch and the pmapped steps, as
  `train.py` builds them."""
  model = model_lib.from_config(config.model, config.embedding, VOCAB, CLASSES)
  state = jax.eval_shape(lambda: train.create_train_state(
      model, config.train, TIME, seed=config.seed, steps_per_epoch=10))
  rng = np.random.default_rng(0)
  ids = rng.integers(0, VOCAB, (BATCH, TIME)).astype(np.int32)
  ids[:, :2] = 0  # pre-padding: masked steps
  batch = next(batching.batches(ids, rng.integers(0, CLASSES, BATCH).astype(np.int32),
                                batch_size=BATCH, num_devices=DEVICES, shuffle=False,
                                distinct_tokens=config.model.distinct_tokens))
  topology = steps.Topology(tuple(jax.devices()[:DEVICES]), DEVICES, 0)
  p_train = steps.pmapped_train_step(CLASSES, model.head, None, topology)
  p_eval = steps.pmapped_eval_step(model.apply, CLASSES, model.head, topology)
  return model, state, batch, p_train, p_eval


def lowered_text(traced, platform: str) -> str:
  return traced.lower(lowering_platforms=(platform,)).as_text()


def custom_calls(text: str) -> set[str]:
  return set(re.findall(r"custom_call @([\w.$]+)", text))


def float_dtypes(tree) -> set:
  return {leaf.dtype for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.floating)}


@pytest.mark.parametrize("layers, implementation, dtype, distinct_tokens", cases(True))
def test_the_train_and_eval_steps_lower_for_gpu_and_tpu(layers, implementation, dtype,
                                                         distinct_tokens):
  config = make_config(layers, implementation, dtype, distinct_tokens)
  model, state, batch, p_train, p_eval = run_programs(config)
  train_step = jax.jit(p_train).trace(state, batch, jax.random.PRNGKey(0))
  eval_step = jax.jit(p_eval).trace(state.params, batch)
  new_state, _ = train_step.out_info
  # Parameters and optimizer state stay float32 whatever the compute dtype.
  assert float_dtypes(new_state) == {jnp.dtype(jnp.float32)}
  for platform in PLATFORMS:
    train_text = lowered_text(train_step, platform)
    eval_text = lowered_text(eval_step, platform)
    for text in (train_text, eval_text):
      assert not custom_calls(text), platform
      # The gradients and metrics are summed over the devices there.
      assert "stablehlo.all_reduce" in text, platform
    if dtype == "bfloat16":
      assert re.search(r"stablehlo\.dot_general .*tensor<[\dx]+xbf16>", train_text), platform


@pytest.mark.parametrize("layers, implementation", cases(False))
def test_the_serving_forward_pass_lowers_for_gpu_and_tpu(layers, implementation):
  config = make_config(layers, implementation)
  model = model_lib.from_config(config.model, config.embedding, VOCAB, CLASSES)
  ids = np.zeros((BATCH, TIME), np.int32)
  params = jax.jit(model.init)(jax.random.PRNGKey(0), ids)["params"]
  classifier = serving.from_model(model, {"params": params})
  assert classifier.projection_table is not None
  # The function `predict_proba_ids` runs.
  traced = classifier._probabilities.trace(params, classifier.projection_table, ids)  # pylint: disable=protected-access
  for platform in PLATFORMS:
    assert not custom_calls(lowered_text(traced, platform)), platform


@pytest.fixture
def cudnn_on(monkeypatch):
  """`implementation=cudnn` as on a CUDA GPU (it is refused on other backends)."""
  monkeypatch.setattr(cudnn, "available", lambda: True)


@pytest.mark.parametrize("layers", CUDNN_SPECS.values(), ids=CUDNN_SPECS.keys())
def test_the_cudnn_path_around_the_cudnn_call_lowers_for_gpu(cudnn_on, monkeypatch, layers):
  """Masks, rolls, the fallback's `cond` and the weight packing, with the cuDNN
  call replaced by `rnn.lstm_ref` (`cudnn_layer`'s contract, pure JAX)."""
  monkeypatch.setattr(cudnn, "lstm_kernel", reference_kernel)
  _, state, batch, p_train, p_eval = run_programs(make_config(layers, "cudnn"))
  assert "cond" in str(jax.make_jaxpr(p_eval)(state.params, batch))
  lowered_text(jax.jit(p_train).trace(state, batch, jax.random.PRNGKey(0)), "cuda")
  lowered_text(jax.jit(p_eval).trace(state.params, batch), "cuda")


def cuda_plugin_rnn_missing() -> bool:
  from jaxlib import gpu_rnn  # pylint: disable=g-import-not-at-top
  return not hasattr(gpu_rnn, "compute_rnn_workspace_reserve_space_sizes")


@pytest.mark.skipif(cuda_plugin_rnn_missing(),
                    reason="cuDNN LSTM not lowerable without the CUDA plugin: "
                           "jax.experimental.rnn asks the plugin (jax-cuda*-plugin) for "
                           "cuDNN's workspace sizes while tracing")
@pytest.mark.parametrize("layers", CUDNN_SPECS.values(), ids=CUDNN_SPECS.keys())
def test_the_cudnn_train_step_lowers_for_gpu(cudnn_on, layers):
  _, state, batch, p_train, _ = run_programs(make_config(layers, "cudnn"))
  text = lowered_text(jax.jit(p_train).trace(state, batch, jax.random.PRNGKey(0)), "cuda")
  assert any("rnn" in target for target in custom_calls(text)), custom_calls(text)
