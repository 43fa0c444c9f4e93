r"""Exploding gradients and clipping: runs' gradient norm and loss, optimizer step by step.

  python -m lstm_jax.study.clipping RUN_DIR... --out=clipping.png

Reads each run's `steps.jsonl` (every optimizer step's training loss and the
global norm of its gradient before clipping, which every run records) and its
config (`train.clip_mode`, `train.clip_norm`); a run need not have finished:
one stopped by a non-finite or diverging loss keeps the steps it took, and its
legend says where it stopped. The figure has the gradient norm (log scale, the
clipping threshold dashed) above the training loss (each step's, faint, and
its running mean over `SMOOTHING` steps).
"""

import argparse
import itertools
import pathlib
import sys
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lstm_jax import errors
from lstm_jax import serving
from lstm_jax import workdir as workdir_lib
from lstm_jax.study import report
from lstm_jax.training import run_records

SMOOTHING = 20  # steps in the loss's running mean
COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange")


def describe(run_dir: pathlib.Path) -> dict[str, Any]:
  """The run's steps and how to label them."""
  config = serving.read_config(run_dir)
  steps = run_records.read_steps(run_dir)
  if not steps:
    raise errors.MissingFileError(f"{run_dir / workdir_lib.STEPS_FILE} not found or empty: "
                                  "the run has not finished an epoch")
  train = config.train
  clipping = ("no clipping" if train.clip_mode == "none"
              else f"clip {train.clip_mode.replace('_', ' ')} {train.clip_norm:g}")
  if (run_dir / workdir_lib.RESULTS_FILE).exists():
    ending = f"test accuracy {report.load_run(run_dir).results['test_accuracy']:.3f}"
  else:
    last = steps[-1]
    ending = f"no results: last step {last['step']}, loss {last['loss']:.3g}"
  return {"run": run_dir, "name": config.name, "clipping": clipping,
          "threshold": None if train.clip_mode != "global_norm" else train.clip_norm,
          "ending": ending, "steps": steps}


def running_mean(values: np.ndarray, width: int) -> np.ndarray:
  """Mean over the last `width` values at each point (fewer at the start); a
  non-finite value stays non-finite."""
  cumulative = np.cumsum(np.insert(values.astype(np.float64), 0, 0.0))
  counts = np.minimum(np.arange(1, len(values) + 1), width)
  return (cumulative[1:] - cumulative[np.arange(len(values)) + 1 - counts]) / counts


def figure(runs: Sequence[dict[str, Any]]) -> Figure:
  """Gradient norm above loss, per optimizer step, one colour per run."""
  fig = Figure(figsize=(10, 6.5))
  FigureCanvasAgg(fig)
  norm_ax, loss_ax = fig.subplots(2, 1, sharex=True)
  for colour, run in zip(itertools.cycle(COLOURS), runs):
    step = np.array([s["step"] for s in run["steps"]])
    norms = np.array([s["grad_norm"] for s in run["steps"]], np.float64)
    losses = np.array([s["loss"] for s in run["steps"]], np.float64)
    label = f"{run['name']}: {run['clipping']} ({run['ending']})"
    norm_ax.plot(step, norms, color=colour, linewidth=0.8, label=label)
    if run["threshold"] is not None:
      norm_ax.axhline(run["threshold"], color=colour, linestyle="--", linewidth=0.8)
    loss_ax.plot(step, losses, color=colour, linewidth=0.5, alpha=0.3)
    loss_ax.plot(step, running_mean(losses, SMOOTHING), color=colour, linewidth=1.5,
                 label=f"{run['name']}, running mean over {SMOOTHING} steps")
    bad = np.flatnonzero(~np.isfinite(losses))
    if len(bad):
      loss_ax.axvline(step[bad[0]], color=colour, linestyle=":", linewidth=1)
  norm_ax.set_yscale("log")
  norm_ax.set_ylabel("gradient norm before clipping\n(global L2, log scale)")
  norm_ax.set_title("dashed: the clipping threshold; above it the update is scaled down to it",
                    fontsize=9, loc="left")
  norm_ax.legend(fontsize=7, loc="upper left")
  loss_ax.set_yscale("log")
  loss_ax.set_ylabel("training loss of the step's batch\n(cross-entropy, log scale)")
  loss_ax.set_xlabel("optimizer step")
  loss_ax.legend(fontsize=7, loc="upper right")
  for ax in (norm_ax, loss_ax):
    ax.grid(True, which="major", alpha=0.3)
  fig.suptitle("Exploding gradients and clipping: the same run without and with clipping",
               fontsize=10)
  fig.tight_layout()
  return fig


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(prog="python -m lstm_jax.study.clipping",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("run_dirs", nargs="+", type=pathlib.Path, metavar="RUN_DIR")
  parser.add_argument("--out", type=pathlib.Path, required=True, help="the figure (PNG)")
  args = parser.parse_args(argv)
  try:
    runs = [describe(run_dir) for run_dir in args.run_dirs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure(runs).savefig(args.out, dpi=110)
  except errors.UserError as e:
    errors.exit_with(e)
  for run in runs:
    print(f"{run['run']}: {run['clipping']}, {len(run['steps'])} steps, {run['ending']}",
          file=sys.stderr)
  print(f"wrote {args.out}", file=sys.stderr)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
