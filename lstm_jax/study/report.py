"""Figures and the results table, built from finished workdirs.

  python -m lstm_jax.study.report runs/*/            # writes runs/report/
  python -m lstm_jax.study.report RUN_DIR... --out DIR

A run is its workdir: runs of one config in different workdirs are rows of
their own, named by the workdir (by its path when two share a name). Without
`--out` the report goes to `report/` in the runs' common parent directory,
never into the project's tracked docs/ (`bash launch/study.sh --publish`
writes there).

For each run directory this writes `curves.png` (loss and accuracy per epoch,
train vs validation, best epoch marked) and `confusion.png` (test confusion
matrix, normalised by true class) into the run directory and copies them to
`<out>/figures/<run key>_{curves,confusion}.png`. Across runs it draws
`<out>/figures/trainable_vs_glove.png` (test accuracy per task, trainable vs
GloVe embedding) and writes `<out>/RESULTS_TABLE.md` (also printed): one row
per run with the reference points of `baselines.json` when the run has one,
and the command that ran it (its command.txt).

A run directory missing a file the report needs is named with the file and
skipped; the other runs are still reported.
"""

import argparse
import collections
import dataclasses
import json
import os
import pathlib
import shutil
import sys
from typing import Any, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.config import schema
from lstm_jax.config import validation as config_validation
from lstm_jax.training import run_records

REQUIRED_FILES = (workdir_lib.CONFIG_FILE, workdir_lib.METRICS_FILE, workdir_lib.RESULTS_FILE)
EPOCH_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")
RESULT_KEYS = ("best_epoch", "epochs_run", "stopped_early", "train_accuracy",
               "val_accuracy", "test_accuracy", "test_macro_f1",
               "train_seconds", "label_names", "confusion_matrix")
EMBEDDING_KINDS = ("trainable", "glove")
# Name tokens that say which embedding a run used (`huffpost_headline_keras`
# has the trainable embedding of the Keras original, `..._glove` GloVe).
EMBEDDING_TOKENS = ("keras", "trainable")
LEGEND = {"trainable": "trainable embedding", "glove": "GloVe"}
STUDY_FIGURE = "trainable_vs_glove.png"
TABLE_FILE = "RESULTS_TABLE.md"
REPORT_DIR = "report"  # the default --out, next to the run directories
# A run without command.txt is credited with its config's name.
DEFAULT_COMMAND = ("python -m lstm_jax.main --config=configs/{name}.py "
                   "--workdir={workdir}")
MISSING = "—"
# Up to this many classes every confusion cell is annotated; above, cells >= 10%.
MAX_ANNOTATED_CLASSES = 12


class RunError(errors.UserError):
  """A run directory cannot be reported; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Run:
  """A finished workdir, read and checked.

  Attributes:
    run_dir: the directory as given on the command line.
    config: config.json.
    epochs: metrics.jsonl rows ordered by epoch; a resumed run's rewrite of
      an epoch replaces the earlier line.
    results: results.json.
    baselines: baselines.json, or {} when the run has none.
    command: command.txt (the command line that ran it), or None.
    key: what identifies the run in the report (row, figure names): the
      workdir's name, or its path when two reported workdirs share a name.
  """
  run_dir: pathlib.Path
  config: dict[str, Any]
  epochs: list[dict[str, Any]]
  results: dict[str, Any]
  baselines: dict[str, Any]
  command: Optional[str] = None
  key: str = ""

  def __post_init__(self):
    if not self.key:
      object.__setattr__(self, "key", self.run_dir.resolve().name)

  @property
  def name(self) -> str:
    """The experiment name: config `name`, else the run directory's name."""
    return str(self.config.get("name") or self.run_dir.resolve().name)

  def setting(self, dotted: str) -> Any:
    """The config value at a dotted key such as `model.head_dropout`, or None."""
    value = self.config
    for key in dotted.split("."):
      value = value.get(key) if isinstance(value, dict) else None
    return value

  @property
  def embedding_kind(self) -> str:
    """`trainable` or `glove`: config `embedding.kind`, else from the name."""
    kind = self.setting("embedding.kind")
    if kind is not None:
      return str(kind)
    glove = any(t.startswith("glove") for t in self.name.split("_"))
    return "glove" if glove else "trainable"

  @property
  def task_key(self) -> str:
    """The key without its embedding tokens: pairs `x_keras` with `x_glove`."""
    return "_".join(t for t in self.key.split("_")
                    if t not in EMBEDDING_TOKENS and not t.startswith("glove")
                    ) or self.key

  @property
  def data_label(self) -> str:
    """`data.source`; for `files` the name of every train and test file."""
    source = self.setting("data.source")
    train, test = (", ".join(pathlib.PurePath(f).name
                             for f in self.setting(f"data.{split}_files") or ())
                   for split in ("train", "test"))
    if source == "files" and train:
      return f"files: {train}" + (f"; test {test}" if test else "")
    return MISSING if source is None else str(source)

  @property
  def task_label(self) -> str:
    """What is predicted from what, e.g. `category from headline`."""
    label = self.setting("data.label_field")
    if label is None:
      return MISSING
    top_k = self.setting("data.top_k_labels")
    fields = self.setting("data.text_fields") or ()
    return (f"{label}" + (f" (top {top_k})" if top_k else "") +
            (f" from {'+'.join(fields)}" if fields else ""))

  @property
  def embedding_label(self) -> str:
    """E.g. `glove 50d frozen` or `trainable 300d`."""
    dim = self.setting("embedding.dim")
    frozen = self.setting("embedding.trainable") is False
    return (self.embedding_kind + (f" {dim}d" if dim else "") +
            (" frozen" if frozen else ""))

  @property
  def dropout_label(self) -> str:
    """`model.head_dropout`, plus the embedding's and the LSTMs' input / recurrent
    dropout where set."""
    dropout = self.setting("model.head_dropout")
    layers = self.setting("model.recurrent_layers") or ()
    extra = [f"embedding {self.setting('model.embedding_dropout')}"
             ] if self.setting("model.embedding_dropout") else []
    for name, key in (("input", "dropout"), ("recurrent", "recurrent_dropout")):
      rates = sorted({layer.get(key) for layer in layers if layer.get(key)})
      extra += [f"{name} {'/'.join(map(str, rates))}"] if rates else []
    return ", ".join(([MISSING] if dropout is None else [str(dropout)]) + extra)


def _read_epochs(run_dir: pathlib.Path) -> list[dict[str, Any]]:
  """The run's epochs, each with the figures a report draws."""
  path = run_dir / workdir_lib.METRICS_FILE
  epochs = run_records.read_history(run_dir)
  for record in epochs:
    missing = [k for k in EPOCH_KEYS if k not in record]
    if missing:
      raise RunError(f"{path}: epoch {record['epoch']} lacks {', '.join(missing)}; each "
                     f"line needs {', '.join(EPOCH_KEYS)}")
  if not epochs:
    raise RunError(f"{path}: no epochs recorded; is the run finished?")
  return epochs


def load_run(run_dir: pathlib.Path) -> Run:
  """Reads and checks a workdir.

  Raises:
    RunError: a required file is missing or malformed; the message names it.
  """
  run_dir = pathlib.Path(run_dir)
  if not run_dir.is_dir():
    raise RunError(f"{run_dir}: not a directory")
  missing = [f for f in REQUIRED_FILES if not (run_dir / f).is_file()]
  if missing:
    raise RunError(f"{run_dir}: missing {', '.join(missing)} (a finished run "
                   f"leaves {', '.join(REQUIRED_FILES)})")
  config = workdir_lib.read_json(run_dir / workdir_lib.CONFIG_FILE)
  if isinstance(config, dict):
    config = schema.rename_legacy_keys(config)
  results = workdir_lib.read_json(run_dir / workdir_lib.RESULTS_FILE)
  absent = [k for k in RESULT_KEYS if k not in results]
  if absent:
    raise RunError(f"{run_dir / workdir_lib.RESULTS_FILE}: missing key(s) "
                   f"{', '.join(absent)}")
  num_classes = len(results["label_names"])
  matrix = np.asarray(results["confusion_matrix"])
  if matrix.shape != (num_classes, num_classes):
    raise RunError(f"{run_dir / workdir_lib.RESULTS_FILE}: confusion_matrix has shape "
                   f"{matrix.shape}, expected {(num_classes, num_classes)} "
                   f"from {num_classes} label_names")
  baselines_path = run_dir / workdir_lib.BASELINES_FILE
  baselines = workdir_lib.read_json(baselines_path) if baselines_path.is_file() else {}
  command_file = run_dir / workdir_lib.COMMAND_FILE
  command = (command_file.read_text(encoding="utf-8").strip()
             if command_file.is_file() else None)
  return Run(run_dir=run_dir, config=config,
             epochs=_read_epochs(run_dir),
             results=results, baselines=baselines, command=command)


def _new_figure(width: float, height: float) -> Figure:
  figure = Figure(figsize=(width, height), layout="constrained")
  FigureCanvasAgg(figure)
  return figure


def curves_figure(run: Run) -> Figure:
  """Loss and accuracy per epoch, train vs validation, best epoch marked."""
  epochs = [row["epoch"] for row in run.epochs]
  best = run.results["best_epoch"]
  figure = _new_figure(11, 4.2)
  for ax, metric, title in zip(figure.subplots(1, 2), ("loss", "accuracy"),
                               ("Loss", "Accuracy")):
    train = [row[metric] for row in run.epochs]
    val = [row[f"val_{metric}"] for row in run.epochs]
    ax.plot(epochs, train, "o-", color="tab:blue", label="train")
    ax.plot(epochs, val, "s-", color="tab:orange", label="validation")
    ax.axvline(best, color="tab:green", linestyle="--",
               label=f"best epoch {best}")
    if best in epochs:
      ax.plot([best], [val[epochs.index(best)]], "*", color="tab:green",
              markersize=14)
    if run.results["stopped_early"]:
      ax.axvline(epochs[-1], color="grey", linestyle=":",
                 label=f"stopped early at {epochs[-1]}")
    ax.set(title=title, xlabel="epoch", ylabel=metric)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if len(epochs) == 1:  # else the axis spans 0.96-1.04, with no whole number but 1
      ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    ax.grid(alpha=0.3)
    ax.legend()
  figure.suptitle(f"{run.key}: {run.data_label}, {run.task_label}, "
                  f"{run.embedding_label} embedding")
  return figure


def normalised_confusion(counts: np.ndarray) -> np.ndarray:
  """Row-normalises <int>[C, C] `[true][predicted]` counts; empty rows stay 0."""
  counts = np.asarray(counts, dtype=np.float64)
  totals = counts.sum(axis=1, keepdims=True)
  return np.divide(counts, totals, out=np.zeros_like(counts),
                   where=totals > 0)


def confusion_figure(run: Run) -> Figure:
  """The test confusion matrix, each row (true class) summing to 1."""
  names = run.results["label_names"]
  matrix = normalised_confusion(run.results["confusion_matrix"])
  size = len(names)
  side = max(5.5, 2.5 + 0.3 * size)
  font = 10 if size <= 20 else 7
  figure = _new_figure(side + 1.5, side)
  ax = figure.subplots()
  percent = 100.0 * matrix
  image = ax.imshow(percent, cmap="Blues", vmin=0.0, vmax=100.0)
  ax.set_xticks(range(size), names, rotation=90, fontsize=font)
  ax.set_yticks(range(size), names, fontsize=font)
  ax.set(xlabel="predicted class", ylabel="true class")
  # Large matrices: only cells worth reading, so the text stays legible.
  threshold = 0.0 if size <= MAX_ANNOTATED_CLASSES else 10.0
  for (i, j), value in np.ndenumerate(percent):
    if value >= threshold:
      ax.text(j, i, f"{value:.0f}", ha="center", va="center",
              fontsize=font - 1, color="white" if value > 50 else "black")
  figure.colorbar(image, ax=ax, shrink=0.8, label="% of the true class")
  ax.set_title(f"{run.key}: test confusion, normalised by true class\n"
               f"accuracy {run.results['test_accuracy']:.3f}, macro-F1 "
               f"{run.results['test_macro_f1']:.3f}")
  return figure


def study_figure(runs: Sequence[Run]) -> Optional[Figure]:
  """Test accuracy per task, trainable vs GloVe side by side; None if no runs.

  Tasks pair runs by name (`x_keras` with `x_glove`); a majority-class tick is
  drawn where the run has baselines.json.
  """
  tasks = collections.defaultdict(dict)
  for run in runs:
    tasks[run.task_key].setdefault(run.embedding_kind, run)
  if not tasks:
    return None
  keys = sorted(tasks)
  width = 0.38
  figure = _new_figure(max(6.0, 1.3 * len(keys) + 2), 4.8)
  ax = figure.subplots()
  colors = {"trainable": "tab:blue", "glove": "tab:orange"}
  labelled = set()  # one legend entry per embedding kind
  for offset, kind in zip((-width / 2, width / 2), EMBEDDING_KINDS):
    for x, key in enumerate(keys):
      run = tasks[key].get(kind)
      if run is None:
        ax.text(x + offset, 0.05, "not run", rotation=90, ha="center",
                va="bottom", fontsize=8, color="grey", zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none"})
        continue
      accuracy = run.results["test_accuracy"]
      ax.bar(x + offset, accuracy, width, color=colors[kind],
             label=None if kind in labelled else LEGEND[kind])
      labelled.add(kind)
      ax.text(x + offset, accuracy + 0.01, f"{accuracy:.3f}", ha="center",
              va="bottom", fontsize=8)
  majority = [(x, _reference(r, "majority", "test_accuracy"))
              for x, key in enumerate(keys) for r in tasks[key].values()]
  majority = sorted({(x, v) for x, v in majority if v is not None})
  for i, (x, value) in enumerate(majority):
    ax.hlines(value, x - width, x + width, color="black", linewidth=2,
              label="majority class" if i == 0 else None)
  ax.set_xticks(range(len(keys)), keys, rotation=30, ha="right")
  ax.set(ylim=(0, 1.05), ylabel="test accuracy",
         title="Test accuracy: trainable embedding vs GloVe")
  ax.grid(axis="y", alpha=0.3)
  figure.legend(loc="outside lower center", ncols=3)
  return figure


def _reference(run: Run, baseline: str, key: str) -> Optional[float]:
  value = run.baselines.get(baseline, {}).get(key)
  return None if value is None else float(value)


def format_duration(seconds: Optional[float]) -> str:
  """`45 s`, `12 min 03 s` or `2 h 05 min`."""
  if seconds is None:
    return MISSING
  seconds = int(round(seconds))
  if seconds < 60:
    return f"{seconds} s"
  if seconds < 3600:
    return f"{seconds // 60} min {seconds % 60:02d} s"
  return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _ratio(value: Optional[float]) -> str:
  return MISSING if value is None else f"{value:.3f}"


TABLE_HEADER = (
    "run", "data", "task", "embedding", "dropout", "epochs run", "best epoch",
    "train acc", "val acc", "test acc", "test macro-F1", "train time",
    "majority acc", "TF-IDF+LR acc / F1", "Keras acc / time", "command",
    "figures")


def run_command(run: Run) -> str:
  """How the run was launched: its command.txt, else its config's command."""
  if run.command:
    return run.command
  if run.config.get("name"):
    return DEFAULT_COMMAND.format(name=run.config["name"], workdir=run.run_dir)
  return MISSING


def table_row(run: Run, figures_dir: Optional[str] = None) -> list[str]:
  """The cells of `run`'s row, in TABLE_HEADER order.

  Args:
    run: the run.
    figures_dir: where the figures are, relative to the table; no links when
      None.
  """
  r = run.results
  tfidf = (_ratio(_reference(run, "tfidf_logreg", "test_accuracy")) + " / " +
           _ratio(_reference(run, "tfidf_logreg", "test_macro_f1")))
  keras_accuracy = _reference(run, "keras", "test_accuracy")
  keras = MISSING if keras_accuracy is None else (
      f"{keras_accuracy:.3f} / "
      f"{format_duration(_reference(run, 'keras', 'train_seconds'))}")
  figures = MISSING if figures_dir is None else (
      f"[curves]({figures_dir}/{run.key}_curves.png), "
      f"[confusion]({figures_dir}/{run.key}_confusion.png)")
  return [
      run.key,
      run.data_label,
      run.task_label,
      run.embedding_label,
      run.dropout_label,
      str(r["epochs_run"]),
      str(r["best_epoch"]),
      _ratio(r["train_accuracy"]),
      _ratio(r["val_accuracy"]),
      _ratio(r["test_accuracy"]),
      _ratio(r["test_macro_f1"]),
      format_duration(r["train_seconds"]),
      _ratio(_reference(run, "majority", "test_accuracy")),
      tfidf if "tfidf_logreg" in run.baselines else MISSING,
      keras,
      f"`{run_command(run)}`",
      figures,
  ]


def results_table(runs: Sequence[Run], figures_dir: Optional[str] = None) -> str:
  """A markdown table, one row per run (see TABLE_HEADER)."""
  lines = ["| " + " | ".join(TABLE_HEADER) + " |",
           "|" + "---|" * len(TABLE_HEADER)]
  for run in runs:
    cells = table_row(run, figures_dir)
    lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) +
                 " |")
  return "\n".join(lines) + "\n"


SEEDS_HEADER = ("experiment", "seeds", "test acc", "test macro-F1", "epochs run",
                "train time / epoch", "TF-IDF+LR acc / F1", "Keras acc / time / epoch")


def _without_seed(run: Run) -> str:
  """The run's config without `seed` and the keys that change only what is printed."""
  config = {k: v for k, v in run.config.items() if k != "seed"}
  for key in config_validation.OUTPUT_ONLY_KEYS:
    section, name = key.split(".")
    if isinstance(config.get(section), dict):
      config[section] = {k: v for k, v in config[section].items() if k != name}
  return json.dumps(config, sort_keys=True)


def seed_groups(runs: Sequence[Run]) -> list[list[Run]]:
  """Runs of one config but for `seed`, in order of first appearance; only
  groups of several runs."""
  groups: dict[str, list[Run]] = {}
  for run in runs:
    groups.setdefault(_without_seed(run), []).append(run)
  return [group for group in groups.values() if len(group) > 1]


def mean_std(values: Sequence[float]) -> str:
  """`mean ± sample standard deviation`, to three decimals (the value alone for one)."""
  if len(values) == 1:
    return f"{values[0]:.3f}"
  return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def seed_summary(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """What the seeds of one experiment give (their `results.json`): test accuracy and
  macro-F1 as `mean_std`, the epochs each ran, and the mean seconds per epoch."""
  return {
      "test_accuracy": mean_std([r["test_accuracy"] for r in results]),
      "test_macro_f1": mean_std([r["test_macro_f1"] for r in results]),
      "epochs_run": ", ".join(str(r["epochs_run"]) for r in results),
      "seconds_per_epoch": float(np.mean([r["train_seconds"] / r["epochs_run"]
                                          for r in results])),
  }


def _per_epoch(seconds: Optional[float], epochs: Optional[float]) -> Optional[float]:
  return None if seconds is None or not epochs else seconds / epochs


def seeds_row(group: Sequence[Run]) -> list[str]:
  """The cells of a seed group's row, in SEEDS_HEADER order. The reference
  points do not depend on the seed: they are read from the first run that has them."""
  results = [run.results for run in group]
  reference = {}
  for name in ("tfidf_logreg", "keras"):
    reference[name] = next((run.baselines[name] for run in group if name in run.baselines), {})
  tfidf = reference["tfidf_logreg"]
  keras = reference["keras"]
  summary = seed_summary(results)
  return [
      group[0].name,
      ", ".join(str(run.setting("seed")) for run in group),
      summary["test_accuracy"],
      summary["test_macro_f1"],
      summary["epochs_run"],
      format_duration(summary["seconds_per_epoch"]),
      (f"{tfidf['test_accuracy']:.3f} / {tfidf['test_macro_f1']:.3f}" if tfidf else MISSING),
      (f"{keras['test_accuracy']:.3f} / "
       f"{format_duration(_per_epoch(keras.get('train_seconds'), keras.get('epochs_run')))}"
       if keras else MISSING),
  ]


def seeds_table(runs: Sequence[Run]) -> str:
  """A markdown table of the mean and spread of each seed group; "" without one."""
  groups = seed_groups(runs)
  if not groups:
    return ""
  lines = ["| " + " | ".join(SEEDS_HEADER) + " |", "|" + "---|" * len(SEEDS_HEADER)]
  lines += ["| " + " | ".join(seeds_row(group)) + " |" for group in groups]
  return "\n".join(lines) + "\n"


def _save(figure: Figure, path: pathlib.Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  figure.savefig(path, dpi=110)


def report_run(run: Run, figures_out: Optional[pathlib.Path]) -> None:
  """Writes curves.png and confusion.png into the run dir (and copies)."""
  for name, make in ((workdir_lib.CURVES_FIGURE_FILE, curves_figure),
                     (workdir_lib.CONFUSION_FIGURE_FILE, confusion_figure)):
    path = run.run_dir / name
    _save(make(run), path)
    if figures_out is not None:
      figures_out.mkdir(parents=True, exist_ok=True)
      shutil.copyfile(path, figures_out / f"{run.key}_{name}")


def with_unique_keys(runs: Sequence[Run]) -> list[Run]:
  """Runs whose workdirs share a name are keyed by their path instead."""
  counts = collections.Counter(run.key for run in runs)
  if max(counts.values(), default=0) < 2:
    return list(runs)
  base = pathlib.Path(os.path.commonpath([r.run_dir.resolve() for r in runs]))
  return [run if counts[run.key] == 1 else dataclasses.replace(
      run, key="_".join(run.run_dir.resolve().relative_to(base).parts))
          for run in runs]


def default_out(run_dirs: Sequence[pathlib.Path]) -> pathlib.Path:
  """`report/` in the run directories' common parent (e.g. runs/report)."""
  parents = [os.path.normpath(d.parent) for d in run_dirs]
  try:
    common = os.path.commonpath(parents)
  except ValueError:  # relative and absolute paths mixed
    common = os.path.commonpath([os.path.abspath(p) for p in parents])
  return pathlib.Path(common) / REPORT_DIR


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog="python -m lstm_jax.study.report",
      description="Figures and the results table from finished workdirs.")
  parser.add_argument("run_dirs", nargs="+", type=pathlib.Path,
                      metavar="RUN_DIR", help="finished workdirs")
  parser.add_argument("--out", type=pathlib.Path, default=None,
                      help="writes figures/ and RESULTS_TABLE.md here "
                      f"(default: {REPORT_DIR}/ next to the run directories)")
  return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
  """Reports every readable run; returns 1 when none could be reported."""
  args = _parse_args(argv)
  out = args.out or default_out(args.run_dirs)
  # `runs/*/` names an earlier report too: it is no run.
  run_dirs = [d for d in args.run_dirs if d.resolve() != out.resolve()]
  runs, seen = [], {}
  for run_dir in run_dirs:
    try:
      run = load_run(run_dir)
    except errors.UserError as e:
      print(f"skipped: {e}", file=sys.stderr)
      continue
    if run_dir.resolve() in seen:
      print(f"skipped: {run_dir}: already reported as "
            f"{seen[run_dir.resolve()]}", file=sys.stderr)
      continue
    seen[run_dir.resolve()] = run_dir
    runs.append(run)
  if not runs:
    print("no run could be reported", file=sys.stderr)
    return 1
  runs = with_unique_keys(runs)
  figures_out = out / "figures"
  for run in runs:
    report_run(run, figures_out)
  table = results_table(runs, "figures")
  seeds = seeds_table(runs)
  if seeds:
    table += ("\nOver seeds (mean ± sample standard deviation; the runs differ only in "
              "`seed`):\n\n" + seeds)
  print(table)
  _save(study_figure(runs), figures_out / STUDY_FIGURE)
  command = "python -m lstm_jax.study.report " + " ".join(
      str(d) for d in run_dirs) + f" --out {out}"
  (out / TABLE_FILE).write_text(
      f"Regenerate with `{command}`.\n\n{table}\n"
      f"![Test accuracy, trainable embedding vs GloVe]"
      f"(figures/{STUDY_FIGURE})\n", encoding="utf-8")
  print(f"wrote {out / TABLE_FILE} and {figures_out}/", file=sys.stderr)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
