"""On a CUDA GPU: the cuDNN, fused and scan recurrences give the same classifier.

Logits and every gradient, pre- and post-padded batches, one layer,
bidirectional and stacked, in float32 with full-precision matmuls (no TF32).
`benchmarks/gpu_check.sh` runs this file on a GPU; with `--smoke` it runs on
CPU (LSTM_JAX_GPU_CHECK_SMOKE=1) with the cuDNN call replaced by its reference
`rnn.lstm_ref`, which checks the test itself. bfloat16 is checked against
float32 by `tests/test_mixed_precision.py`, which the GPU check runs too.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lstm_jax.models import classifier as model_lib
from lstm_jax.recurrent import cudnn
from test_cudnn_lstm import reference_kernel

ON_GPU = jax.default_backend() == "gpu"
pytestmark = pytest.mark.skipif(
    not (ON_GPU or os.environ.get("LSTM_JAX_GPU_CHECK_SMOKE") == "1"),
    reason="needs a CUDA GPU (bash benchmarks/gpu_check.sh; --smoke runs it on CPU)")

VOCAB, EMBED, CLASSES, BATCH, TIME = 300, 32, 3, 16, 40
# LSTM layers, the ones cuDNN runs (the other cells' fast paths: tests/test_cells.py).
LAYER_SPECS = {
    "lstm": ({"units": 32},),
    "bidirectional": ({"units": 32, "bidirectional": True},),
    "stacked": ({"units": 32}, {"units": 32}),
}
# float32 with "highest" matmuls: only the order of additions differs.
LOGITS_TOLERANCE = dict(rtol=1e-5, atol=1e-5)
GRADS_TOLERANCE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(autouse=True)
def full_precision_cudnn(monkeypatch):
  if not ON_GPU:
    monkeypatch.setattr(cudnn, "available", lambda: True)
    monkeypatch.setattr(cudnn, "lstm_kernel", reference_kernel)
  with jax.default_matmul_precision("highest"):
    yield


def batch(padding: str) -> tuple[np.ndarray, np.ndarray]:
  """Token ids with lengths 1..TIME (one row fully padded) and labels."""
  rng = np.random.default_rng(0)
  ids = rng.integers(1, VOCAB, (BATCH, TIME)).astype(np.int32)
  lengths = np.concatenate([[0, 1, TIME], rng.integers(1, TIME, BATCH - 3)])
  steps = np.arange(TIME)[None, :]
  real = steps >= TIME - lengths[:, None] if padding == "pre" else steps < lengths[:, None]
  return np.where(real, ids, 0), rng.integers(0, CLASSES, BATCH).astype(np.int32)


def logits_and_grads(layers, implementation: str, padding: str):
  model = model_lib.LSTMClassifier(
      VOCAB, EMBED, CLASSES, recurrent=tuple(model_lib.recurrent_layer(spec) for spec in layers),
      implementation=implementation)
  ids, labels = batch(padding)
  params = jax.jit(model.clone(implementation="scan").init)(jax.random.PRNGKey(0), ids)["params"]

  @jax.jit
  def run(params):
    def loss(p):
      logits = model.apply({"params": p}, ids)
      return -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(BATCH), labels]), logits
    return jax.grad(loss, has_aux=True)(params)

  grads, logits = run(params)
  text = run.lower(params).as_text()
  return logits, grads, text


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("layers", LAYER_SPECS.values(), ids=LAYER_SPECS.keys())
def test_cudnn_and_fused_equal_the_scan_reference(layers, padding):
  reference_logits, reference_grads, _ = logits_and_grads(layers, "scan", padding)
  for implementation in ("fused", "cudnn"):
    logits, grads, text = logits_and_grads(layers, implementation, padding)
    np.testing.assert_allclose(logits, reference_logits, **LOGITS_TOLERANCE,
                               err_msg=implementation)
    for (path, got), want in zip(jax.tree_util.tree_leaves_with_path(grads),
                                 jax.tree.leaves(reference_grads), strict=True):
      np.testing.assert_allclose(got, want, **GRADS_TOLERANCE,
                                 err_msg=f"{implementation} {jax.tree_util.keystr(path)}")
    if implementation == "cudnn" and ON_GPU:
      assert "cudnn" in text.lower(), "the cuDNN kernel did not run"
