r"""How far back the gradient reaches: its norm at each input step, by distance from the end.

  python -m lstm_jax.study.gradients RUN_DIR... --out=gradients_over_distance.png \
    [--json=gradients.json] [--texts=500] [--min_tokens=100]

For each finished run (a workdir), on its test texts with at least
`--min_tokens` tokens (the first `--texts` of them), with the trained weights
and with the same model freshly initialised as its training started:

  g_t = || dL / dx_t ||_2

the norm of the gradient of the text's loss L (the cross-entropy of its true
class) with respect to x_t, the embedded token at step t as the first recurrent
layer reads it; d = (the text's last step) - t is the distance from the end.
A plain RNN's g shrinks (or grows) geometrically with d, as the product of d
Jacobians; the LSTM's cell state and the GRU's update gate can carry it back.

The figure shows, for each run, the geometric mean of g_d over the texts
against d on a log scale (the norms span orders of magnitude, and a geometric
mean is not ruled by a few texts), at initialisation and trained. A gradient
below what float32 holds is 0 (`summarize`); where most texts' are, the line
stops. `--json` writes the numbers (geometric and arithmetic means and the
share of texts underflowed, per distance).
"""

import argparse
import functools
import json
import pathlib
import sys
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lstm_jax import errors
from lstm_jax.explain import recording
from lstm_jax.models import classifier as model_lib
from lstm_jax.study import run_data

BATCH = 32  # texts per gradient computation
# Beyond the distance where more than this share of texts' gradients underflowed to
# zero, the geometric mean is not drawn.
MAX_UNDERFLOW = 0.5
WEIGHTS = ("initial", "trained")


def gradient_norms(model: model_lib.LSTMClassifier, params: Any, token_ids: np.ndarray,
                   labels: np.ndarray) -> np.ndarray:
  """||dL/dx_t|| of each text and step.

  Args:
    model: the classifier.
    params: its parameters.
    token_ids: <int32>[N, T].
    labels: <int32>[N] the true classes.

  Returns:
    <float32>[N, T], the norm of the gradient of each text's loss with respect
    to the first recurrent layer's input at each step (0 at masked padding).
  """
  out = []
  for start in range(0, len(token_ids), BATCH):
    ids, y = token_ids[start:start + BATCH], labels[start:start + BATCH]
    filled = len(ids)
    if filled < BATCH:  # one compiled shape
      ids = np.concatenate([ids, np.repeat(ids[-1:], BATCH - filled, axis=0)])
      y = np.concatenate([y, np.repeat(y[-1:], BATCH - filled)])
    out.append(np.asarray(_batch_norms(model, params, ids, y))[:filled])
  return np.concatenate(out)


@functools.partial(jax.jit, static_argnums=0)
def _batch_norms(model: model_lib.LSTMClassifier, params: Any, ids: jax.Array,
                 labels: jax.Array) -> jax.Array:
  """`gradient_norms` of one batch; compiled once per model, for every set of weights."""
  embedded = recording.apply(model, params, ids, trace=False).first_layer_inputs

  def loss(x):
    logits = recording.apply(model, params, ids, first_layer_inputs=x, trace=False).logits
    # A sum: each text's gradient is its own loss's.
    return jnp.sum(model.head.losses(logits.astype(jnp.float32), labels))

  gradient = jax.grad(loss)(embedded)
  # Scaled, so that squaring a gradient below ~1e-19 does not underflow float32.
  scale = jnp.max(jnp.abs(gradient), axis=-1, keepdims=True)
  safe = jnp.where(scale > 0, scale, 1.0)
  return scale[..., 0] * jnp.linalg.norm(gradient / safe, axis=-1)


def by_distance(norms: np.ndarray, token_ids: np.ndarray, distances: int) -> np.ndarray:
  """<float>[N, distances]: each text's norm at distance d from its last token.

  Args:
    norms: <float>[N, T] from `gradient_norms`.
    token_ids: <int32>[N, T], each row with at least `distances` tokens.
    distances: how many distances (0 = the last token).
  """
  rows = []
  for row, ids in zip(norms, token_ids):
    positions = np.flatnonzero(ids)
    rows.append(row[positions[::-1][:distances]])
  return np.stack(rows)


def long_texts(token_ids: np.ndarray, labels: np.ndarray, min_tokens: int,
               count: int) -> tuple[np.ndarray, np.ndarray]:
  """The first `count` texts with at least `min_tokens` tokens."""
  chosen = np.flatnonzero((token_ids != 0).sum(axis=1) >= min_tokens)[:count]
  return token_ids[chosen], labels[chosen]


def measure(run: run_data.RunData, *, min_tokens: int, count: int) -> dict[str, Any]:
  """The run's gradient norms by distance, initial and trained (see the module docstring)."""
  test = run.data.test
  ids, labels = long_texts(test.token_ids, test.labels, min_tokens, count)
  if not len(ids):
    longest = int((test.token_ids != 0).sum(axis=1).max())
    raise errors.BadValueError(
        f"{run.run_dir}: no test text has {min_tokens} tokens (the longest has {longest}); "
        "pass a smaller --min_tokens")
  result = {"run": str(run.run_dir), "name": run.config.name, "cell": run.cell,
            "texts": len(ids), "distances": min_tokens}
  model = run.classifier.model
  for weights, params in zip(WEIGHTS, (run.initial_params, run.classifier.params)):
    norms = by_distance(gradient_norms(model, params, ids, labels), ids, min_tokens)
    result[weights] = summarize(norms)
  return result


def summarize(norms: np.ndarray) -> dict[str, list[float]]:
  """Per distance, over texts: the geometric mean of the nonzero norms (None where
  most underflowed), the arithmetic mean and the share that underflowed to zero.

  A gradient smaller than float32 can hold (~1e-38; XLA flushes denormals) is 0:
  it has vanished beyond measurement, and a geometric mean cannot average it in.
  """
  underflow = (norms == 0).mean(axis=0)
  logs = np.where(norms > 0, np.log10(np.where(norms > 0, norms, 1.0)), 0.0)
  counts = (norms > 0).sum(axis=0)
  geometric = 10 ** (logs.sum(axis=0) / np.maximum(counts, 1))
  significant = lambda v: float(f"{v:.4g}")
  return {"geometric_mean": [significant(g) if u <= MAX_UNDERFLOW else None
                             for g, u in zip(geometric, underflow)],
          "mean": [significant(m) for m in norms.mean(axis=0)],
          "underflow": [significant(u) for u in underflow]}


def figure(results: Sequence[dict[str, Any]]) -> Figure:
  """Geometric mean of ||dL/dx|| by distance, one panel per weights, one line per run."""
  fig = Figure(figsize=(11, 4.3))
  FigureCanvasAgg(fig)
  axes = fig.subplots(1, 2, sharey=True)
  for ax, weights in zip(axes, WEIGHTS):
    for result in results:
      values = np.array([np.nan if v is None else v
                         for v in result[weights]["geometric_mean"]])
      cell = result["cell"].split(" ")[0]
      ax.plot(np.arange(len(values)), values, color=run_data.CELL_COLOURS.get(cell),
              label=f"{result['cell']}: {result['name']} ({result['texts']} texts)")
      gone = np.flatnonzero(np.isnan(values))
      if len(gone):
        ax.plot(gone[0] - 1, values[gone[0] - 1], marker="x",
                color=run_data.CELL_COLOURS.get(cell))
        ax.annotate(f"beyond {gone[0] - 1}: below float32's\nrange (~1e-38) for most texts",
                    (gone[0] - 1, values[gone[0] - 1]), fontsize=7, xytext=(-5, 12),
                    textcoords="offset points", ha="right")
    ax.set_yscale("log")
    ax.set_xlabel("distance from the last token (steps)")
    ax.set_title("at initialisation" if weights == "initial" else "trained", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
  axes[0].set_ylabel("‖∂ loss / ∂ embedding‖₂ (geometric mean over texts)")
  axes[1].legend(fontsize=7, loc="lower left")
  fig.suptitle("How far back the gradient reaches: the loss's gradient with respect to each "
               "input token, by its distance from the end of the text", fontsize=10)
  fig.tight_layout()
  return fig


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog="python -m lstm_jax.study.gradients",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("run_dirs", nargs="+", type=pathlib.Path, metavar="RUN_DIR")
  parser.add_argument("--out", type=pathlib.Path, required=True, help="the figure (PNG)")
  parser.add_argument("--json", type=pathlib.Path, default=None, help="the numbers")
  parser.add_argument("--texts", type=int, default=500, help="test texts per run")
  parser.add_argument("--min_tokens", type=int, default=100,
                      help="texts shorter than this are left out; distances 0..N-1 are drawn")
  return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
  args = _parse_args(argv)
  try:
    if args.texts < 1 or args.min_tokens < 1:
      raise errors.BadValueError("--texts and --min_tokens must be >= 1")
    results = []
    for run_dir in args.run_dirs:
      results.append(measure(run_data.load(run_dir), min_tokens=args.min_tokens,
                             count=args.texts))
      print(f"{run_dir}: {results[-1]['texts']} texts", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure(results).savefig(args.out, dpi=110)
    if args.json is not None:
      args.json.write_text("[\n" + ",\n".join(json.dumps(r) for r in results) + "\n]\n",
                           encoding="utf-8")
  except errors.UserError as e:
    errors.exit_with(e)
  print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""), file=sys.stderr)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
