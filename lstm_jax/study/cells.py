r"""The recurrent cells compared on the study's tasks: over seeds, and by text length.

  python -m lstm_jax.study.cells RUN_DIR... --figure=cells_by_length.png [--table=cells.md]

RUN_DIRs are finished workdirs, e.g. of the `configs/cells/` experiments over
seeds (`runs/cells/*/seed_*`); runs of one config name are one experiment, its
seeds pooled. Two tables are printed (and written to `--table`):

  1. per task and cell: the seeds, test accuracy and macro-F1 (mean ± sample
     standard deviation), the epochs each seed ran and the mean seconds per epoch;
  2. per task, the test texts in `BUCKETS` buckets by their length in tokens as
     the model reads them (quantiles of the task's test lengths; a truncated
     text counts `data.max_length`), and each cell's accuracy in each bucket
     (mean ± sd over seeds): where a plain RNN should fall behind, if it does.

`--figure` draws the second table, one panel per task. Each
run's test texts are re-read and classified with the weights its results are
for; the accuracy over all buckets is checked against its results.json.
"""

import argparse
import collections
import pathlib
import sys
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lstm_jax import errors
from lstm_jax.study import report
from lstm_jax.study import run_data

BUCKETS = 4


def bucket_edges(lengths: np.ndarray, buckets: int = BUCKETS) -> list[int]:
  """Upper edges of up to `buckets` length buckets with about equal counts (quantiles;
  equal quantiles merge, so a task whose texts are mostly truncated gets fewer)."""
  quantiles = np.quantile(lengths, np.arange(1, buckets + 1) / buckets, method="inverted_cdf")
  return sorted({int(q) for q in quantiles})


def bucket_labels(edges: Sequence[int], lengths: np.ndarray) -> list[str]:
  lower = [int(lengths.min()), *(e + 1 for e in edges[:-1])]
  return [f"{lo}–{hi}" if lo < hi else f"{hi}" for lo, hi in zip(lower, edges)]


def measure(run: run_data.RunData) -> dict[str, Any]:
  """One run's test predictions: each text's length and whether it was right."""
  test = run.data.test
  predicted = np.argmax(run.classifier.predict_proba_ids(test.token_ids), axis=1)
  results = report.load_run(run.run_dir).results
  correct = predicted == test.labels
  if abs(correct.mean() - results["test_accuracy"]) > 1.5 / len(correct):
    print(f"warning: {run.run_dir}: the test texts re-read give accuracy {correct.mean():.4f}, "
          f"results.json {results['test_accuracy']:.4f}", file=sys.stderr)
  cell = run.classifier.model.recurrent[0].cell.name
  return {"name": run.config.name, "task": run.config.name.removesuffix(f"_{cell}"),
          "cell": cell, "seed": run.config.seed, "lengths": (test.token_ids != 0).sum(axis=1),
          "correct": correct, "results": results}


def _ordered(measured: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict]]:
  groups = collections.defaultdict(list)
  for m in measured:
    groups[(m["task"], m["cell"])].append(m)
  order = run_data.CELL_ORDER
  rank = lambda cell: order.index(cell) if cell in order else len(order)
  return dict(sorted(groups.items(), key=lambda item: (item[0][0], rank(item[0][1]))))


def summary_table(measured: Sequence[dict[str, Any]]) -> str:
  lines = ["| task | cell | seeds | test accuracy | test macro-F1 | epochs run | "
           "seconds / epoch |", "|---|---|---|---|---|---|---|"]
  for (task, cell), runs in _ordered(measured).items():
    summary = report.seed_summary([m["results"] for m in runs])
    lines.append(
        f"| {task} | {cell} | {', '.join(str(m['seed']) for m in runs)} | "
        f"{summary['test_accuracy']} | {summary['test_macro_f1']} | {summary['epochs_run']} | "
        f"{summary['seconds_per_epoch']:.1f} |")
  return "\n".join(lines) + "\n"


def by_length(measured: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
  """Per task: bucket labels, counts, and each cell's accuracy per bucket over seeds."""
  tasks: dict[str, dict[str, Any]] = {}
  for (task, cell), runs in _ordered(measured).items():
    if task not in tasks:
      lengths = runs[0]["lengths"]
      edges = bucket_edges(lengths)
      index = np.searchsorted(edges, lengths)
      tasks[task] = {"edges": edges, "labels": bucket_labels(edges, lengths),
                     "counts": np.bincount(index, minlength=len(edges)).tolist(), "cells": {}}
    edges = tasks[task]["edges"]
    per_seed = []
    for m in runs:
      index = np.searchsorted(edges, m["lengths"])
      per_seed.append([float(m["correct"][index == b].mean()) if np.any(index == b)
                       else float("nan") for b in range(len(edges))])
    tasks[task]["cells"][cell] = np.array(per_seed)
  return tasks


def length_table(tasks: dict[str, dict[str, Any]]) -> str:
  lines = []
  for task, t in tasks.items():
    header = [f"{label} tokens ({count} texts)" for label, count in zip(t["labels"], t["counts"])]
    lines += [f"**{task}**", "", "| cell | " + " | ".join(header) + " |",
              "|---|" + "---|" * len(header)]
    for cell, accuracy in t["cells"].items():
      lines.append(f"| {cell} | " + " | ".join(
          report.mean_std(list(accuracy[:, b])) for b in range(accuracy.shape[1])) + " |")
    lines.append("")
  return "\n".join(lines)


def length_figure(tasks: dict[str, dict[str, Any]]) -> Figure:
  figure = Figure(figsize=(4.2 * len(tasks) + 0.6, 4.2))
  FigureCanvasAgg(figure)
  axes = np.atleast_1d(figure.subplots(1, len(tasks), sharey=True))
  for ax, (task, t) in zip(axes, tasks.items()):
    x = np.arange(len(t["labels"]))
    for cell, accuracy in t["cells"].items():
      ax.errorbar(x, accuracy.mean(axis=0),
                  yerr=accuracy.std(axis=0, ddof=1) if len(accuracy) > 1 else None,
                  marker="o", capsize=3, color=run_data.CELL_COLOURS.get(cell),
                  label=f"{cell} ({len(accuracy)} seed{'s' if len(accuracy) > 1 else ''})")
    ax.set_xticks(x, [f"{label}\n({count} texts)"
                      for label, count in zip(t["labels"], t["counts"])], fontsize=7)
    ax.set_xlabel("text length in tokens, as the model reads it")
    ax.set_title(task, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
  axes[0].set_ylabel("test accuracy (mean ± sd over seeds)")
  axes[-1].legend(fontsize=7)
  figure.suptitle("Test accuracy by text length: SimpleRNN, GRU and LSTM", fontsize=10)
  figure.tight_layout()
  return figure


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(prog="python -m lstm_jax.study.cells",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("run_dirs", nargs="+", type=pathlib.Path, metavar="RUN_DIR")
  parser.add_argument("--figure", type=pathlib.Path, required=True,
                      help="the accuracy by length figure (PNG)")
  parser.add_argument("--table", type=pathlib.Path, default=None, help="the tables (markdown)")
  args = parser.parse_args(argv)
  try:
    measured = []
    for run_dir in args.run_dirs:
      measured.append(measure(run_data.load(run_dir)))
      print(f"{run_dir}: {measured[-1]['name']} seed {measured[-1]['seed']}", file=sys.stderr)
    tasks = by_length(measured)
    text = (summary_table(measured) + "\nTest accuracy by text length (mean ± sd over "
            "seeds):\n\n" + length_table(tasks))
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    length_figure(tasks).savefig(args.figure, dpi=110)
    if args.table is not None:
      command = " ".join(["python -m lstm_jax.study.cells", *map(str, args.run_dirs),
                          f"--figure={args.figure}", f"--table={args.table}"])
      args.table.write_text(f"Regenerate with `{command}`.\n\n{text}", encoding="utf-8")
  except errors.UserError as e:
    errors.exit_with(e)
  print(text)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
