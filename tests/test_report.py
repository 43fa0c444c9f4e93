"""Tests for lstm_jax.study.report: figures and the results table from workdirs."""

import json
import pathlib

import numpy as np
import pytest
from PIL import Image

from lstm_jax import errors
from lstm_jax.study import report


def make_run(root: pathlib.Path, name: str, *, kind: str = "trainable",
             epochs: int = 5, best: int = 3, num_classes: int = 3,
             test_accuracy: float = 0.8125, baselines: dict | None = None,
             config_name: bool = True, seed: int = 0,
             test_macro_f1: float = 0.8) -> pathlib.Path:
  """Writes a finished workdir with the files of the workdir contract."""
  run_dir = root / name
  run_dir.mkdir(parents=True)
  config = {"data": {"source": "imdb", "label_field": "label",
                     "text_fields": ["text"], "top_k_labels": 0},
            "embedding": {"kind": kind, "dim": 50,
                          "trainable": kind == "trainable"},
            "model": {"head_dropout": 0.2, "recurrent_layers": [{"units": 64}]}, "seed": seed}
  if config_name:
    config["name"] = name
  (run_dir / "config.json").write_text(json.dumps(config))
  lines = [json.dumps({"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + 0.05 * e,
                       "val_loss": 1.0 / e + 0.1 * (e - best) ** 2,
                       "val_accuracy": 0.6 - 0.01 * (e - best) ** 2,
                       "seconds": 2.0})
           for e in range(1, epochs + 1)]
  (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
  names = [f"class {i}" for i in range(num_classes)]
  confusion = (np.eye(num_classes, dtype=int) * 8 + 1).tolist()
  results = {"best_epoch": best, "epochs_run": epochs,
             "stopped_early": epochs < 10, "best_val_loss": 0.3,
             "train_accuracy": 0.9, "val_accuracy": 0.85,
             "test_loss": 0.4, "test_accuracy": test_accuracy,
             "test_macro_f1": test_macro_f1, "train_seconds": 125.0,
             "label_names": names, "confusion_matrix": confusion}
  (run_dir / "results.json").write_text(json.dumps(results))
  if baselines is not None:
    (run_dir / "baselines.json").write_text(json.dumps(baselines))
  return run_dir


def table_rows(table: str) -> list[dict[str, str]]:
  """Parses a markdown table into one {header: cell} dict per row."""
  lines = table.strip().splitlines()
  header = [c.strip() for c in lines[0].strip("|").split("|")]
  return [dict(zip(header, (c.strip() for c in line.strip("|").split(" | "))))
          for line in lines[2:]]


def assert_png(path: pathlib.Path, min_side: int = 400) -> None:
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
  with Image.open(path) as image:
    image.verify()
  with Image.open(path) as image:
    assert min(image.size) >= min_side, (path, image.size)


def test_writes_figures_into_run_dir_and_out(tmp_path):
  run_dir = make_run(tmp_path / "runs", "imdb")
  out = tmp_path / "docs"
  assert report.main([str(run_dir), "--out", str(out)]) == 0
  for path in (run_dir / "curves.png", run_dir / "confusion.png",
               out / "figures" / "imdb_curves.png",
               out / "figures" / "imdb_confusion.png",
               out / "figures" / report.STUDY_FIGURE):
    assert_png(path)
  table = (out / report.TABLE_FILE).read_text()
  assert "figures/trainable_vs_glove.png" in table
  assert len(table_rows(table.split("\n\n")[1])) == 1


def test_curves_mark_the_best_epoch(tmp_path):
  run = report.load_run(make_run(tmp_path, "imdb", epochs=6, best=4))
  figure = report.curves_figure(run)
  for ax in figure.axes:
    marked = [line for line in ax.get_lines()
              if line.get_label() == "best epoch 4"]
    assert len(marked) == 1
    assert list(marked[0].get_xdata()) == [4, 4]


def test_curves_mark_an_early_stop_at_the_last_epoch(tmp_path):
  run = report.load_run(make_run(tmp_path, "imdb", epochs=6, best=4))
  labels = [line.get_label() for line in report.curves_figure(run).axes[0]
            .get_lines()]
  assert "stopped early at 6" in labels


@pytest.mark.parametrize("epochs", [1, 2, 30])
def test_curves_number_epochs_with_whole_numbers(tmp_path, epochs):
  run = report.load_run(make_run(tmp_path, "imdb", epochs=epochs, best=1))
  for ax in report.curves_figure(run).axes:
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert len(ticks) >= 2 and all(t == int(t) for t in ticks), ticks


def test_rewritten_epoch_keeps_the_last_line(tmp_path):
  run_dir = make_run(tmp_path, "imdb", epochs=3)
  with open(run_dir / "metrics.jsonl", "a") as f:
    f.write(json.dumps({"epoch": 2, "loss": 9.0, "accuracy": 0.1,
                        "val_loss": 9.0, "val_accuracy": 0.1}) + "\n")
  run = report.load_run(run_dir)
  assert [row["epoch"] for row in run.epochs] == [1, 2, 3]
  assert run.epochs[1]["loss"] == 9.0


def test_confusion_is_normalised_by_true_class():
  normalised = report.normalised_confusion([[3, 1], [0, 0]])
  np.testing.assert_allclose(normalised, [[0.75, 0.25], [0.0, 0.0]])


def test_confusion_names_all_41_classes_on_both_axes(tmp_path):
  run = report.load_run(make_run(tmp_path, "huffpost", num_classes=41))
  ax = report.confusion_figure(run).axes[0]
  names = run.results["label_names"]
  assert [t.get_text() for t in ax.get_xticklabels()] == names
  assert [t.get_text() for t in ax.get_yticklabels()] == names
  report.report_run(run, figures_out=None)
  assert_png(run.run_dir / "confusion.png", min_side=1000)


def test_table_row_holds_the_run_and_its_references(tmp_path):
  baselines = {"majority": {"test_accuracy": 0.5, "test_macro_f1": 0.33},
               "tfidf_logreg": {"test_accuracy": 0.875, "test_macro_f1": 0.87},
               "keras": {"test_accuracy": 0.8, "train_seconds": 3700}}
  run = report.load_run(
      make_run(tmp_path, "imdb_glove", kind="glove", baselines=baselines))
  [row] = table_rows(report.results_table([run], figures_dir="figures"))
  assert row == {
      "run": "imdb_glove", "data": "imdb", "task": "label from text",
      "embedding": "glove 50d frozen", "dropout": "0.2", "epochs run": "5",
      "best epoch": "3", "train acc": "0.900", "val acc": "0.850",
      "test acc": "0.812", "test macro-F1": "0.800",
      "train time": "2 min 05 s", "majority acc": "0.500",
      "TF-IDF+LR acc / F1": "0.875 / 0.870",
      "Keras acc / time": "0.800 / 1 h 01 min",
      "command": (f"`python -m lstm_jax.main --config=configs/imdb_glove.py "
                  f"--workdir={run.run_dir}`"),
      "figures": ("[curves](figures/imdb_glove_curves.png), "
                  "[confusion](figures/imdb_glove_confusion.png)")}


def test_table_shows_a_dash_without_baselines(tmp_path):
  run = report.load_run(make_run(tmp_path, "imdb"))
  [row] = table_rows(report.results_table([run]))
  assert row["majority acc"] == row["TF-IDF+LR acc / F1"] == "—"
  assert row["Keras acc / time"] == row["figures"] == "—"


def test_missing_file_is_named_and_only_that_run_skipped(tmp_path, capsys):
  good = make_run(tmp_path, "imdb")
  broken = make_run(tmp_path, "huffpost")
  (broken / "results.json").unlink()
  assert report.main([str(broken), str(good)]) == 0
  captured = capsys.readouterr()
  assert f"skipped: {broken}: missing results.json" in captured.err
  assert [r["run"] for r in table_rows(captured.out.split("\n\n")[0])] == ["imdb"]


def test_no_reportable_run_exits_with_1(tmp_path, capsys):
  assert report.main([str(tmp_path / "nowhere")]) == 1
  assert "not a directory" in capsys.readouterr().err


def test_an_epoch_without_the_drawn_figures_is_named(tmp_path):
  run_dir = make_run(tmp_path, "imdb", epochs=3)
  lines = (run_dir / "metrics.jsonl").read_text().splitlines()
  lines[1] = json.dumps({"epoch": 2, "loss": 0.5})
  (run_dir / "metrics.jsonl").write_text("\n".join(lines))
  with pytest.raises(report.RunError, match=r"metrics.jsonl: epoch 2 lacks "
                     r"accuracy, val_loss, val_accuracy"):
    report.load_run(run_dir)


def test_a_metrics_line_that_is_not_json_is_named_with_its_number(tmp_path):
  run_dir = make_run(tmp_path, "imdb", epochs=3)
  lines = (run_dir / "metrics.jsonl").read_text().splitlines()
  lines[1] = '{"epoch": 2,'
  (run_dir / "metrics.jsonl").write_text("\n".join(lines))
  with pytest.raises(errors.UserError, match=r"metrics.jsonl:2: not valid JSON"):
    report.load_run(run_dir)


def test_missing_results_key_is_named(tmp_path):
  run_dir = make_run(tmp_path, "imdb")
  results = json.loads((run_dir / "results.json").read_text())
  del results["test_macro_f1"]
  (run_dir / "results.json").write_text(json.dumps(results))
  with pytest.raises(report.RunError,
                     match="results.json: missing key.*test_macro_f1"):
    report.load_run(run_dir)


def test_confusion_shape_must_match_label_names(tmp_path):
  run_dir = make_run(tmp_path, "imdb", num_classes=3)
  results = json.loads((run_dir / "results.json").read_text())
  results["label_names"] = ["a", "b"]
  (run_dir / "results.json").write_text(json.dumps(results))
  with pytest.raises(report.RunError, match=r"confusion_matrix has shape "
                     r"\(3, 3\), expected \(2, 2\)"):
    report.load_run(run_dir)


def test_row_describes_data_task_and_dropout_from_the_config(tmp_path):
  run_dir = make_run(tmp_path, "letters_authors_keras")
  config = json.loads((run_dir / "config.json").read_text())
  config["data"] = {"source": "files", "train_files": ["corpus/letters.tsv"],
                    "label_field": "sender", "text_fields": ["subject", "body"],
                    "top_k_labels": 14}
  config["model"]["recurrent_layers"] = [{"units": 64, "recurrent_dropout": 0.1}]
  (run_dir / "config.json").write_text(json.dumps(config))
  [row] = table_rows(report.results_table([report.load_run(run_dir)]))
  assert row["data"] == "files: letters.tsv"
  assert row["task"] == "sender (top 14) from subject+body"
  assert row["embedding"] == "trainable 50d"
  assert row["dropout"] == "0.2, recurrent 0.1"


def test_dropout_of_a_run_from_the_first_releases_is_read_from_its_old_keys(tmp_path):
  run_dir = make_run(tmp_path, "letters_authors_keras")
  config = json.loads((run_dir / "config.json").read_text())
  config["model"] = {"units": 64, "dropout": 0.2, "lstm_dropout": 0.1, "recurrent_dropout": 0.0}
  (run_dir / "config.json").write_text(json.dumps(config))
  [row] = table_rows(report.results_table([report.load_run(run_dir)]))
  assert row["dropout"] == "0.2, input 0.1"


def test_name_and_embedding_fall_back_to_the_run_dir(tmp_path):
  run_dir = make_run(tmp_path, "letters_author_glove50", config_name=False)
  config = json.loads((run_dir / "config.json").read_text())
  del config["embedding"]
  (run_dir / "config.json").write_text(json.dumps(config))
  run = report.load_run(run_dir)
  assert run.name == "letters_author_glove50"
  assert run.embedding_kind == "glove"
  assert run.task_key == "letters_author"


def test_study_pairs_trainable_and_glove_by_task(tmp_path):
  runs = [report.load_run(make_run(tmp_path, name, kind=kind,
                                   test_accuracy=accuracy))
          for name, kind, accuracy in (("imdb_keras", "trainable", 0.85),
                                       ("imdb_glove", "glove", 0.8),
                                       ("huffpost_keras", "trainable", 0.6))]
  ax = report.study_figure(runs).axes[0]
  assert [t.get_text() for t in ax.get_xticklabels()] == ["huffpost", "imdb"]
  # Trainable left of each task's tick, GloVe right of it.
  bars = sorted((round(p.get_x() + p.get_width() / 2, 2), p.get_height())
                for p in ax.patches)
  assert bars == [(-0.19, 0.6), (0.81, 0.85), (1.19, 0.8)]
  assert ax.get_legend_handles_labels()[1] == ["trainable embedding", "GloVe"]
  assert "not run" in [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("seconds, text", [(45, "45 s"), (125, "2 min 05 s"),
                                           (7500, "2 h 05 min"),
                                           (None, "—")])
def test_format_duration(seconds, text):
  assert report.format_duration(seconds) == text


def test_table_shows_the_runs_own_command(tmp_path):
  run_dir = make_run(tmp_path, "sentiment_keras")
  (run_dir / "command.txt").write_text(
      "python -m lstm_jax.main --config=configs/sentiment_keras.py --workdir=w "
      "--config.data.source=files\n")
  row = report.table_row(report.load_run(run_dir))
  assert row[report.TABLE_HEADER.index("command")].endswith("--config.data.source=files`")


def reported_rows(out: pathlib.Path) -> list[dict[str, str]]:
  return table_rows((out / report.TABLE_FILE).read_text().split("\n\n")[1])


def test_without_out_the_report_goes_next_to_the_runs_not_into_docs(tmp_path):
  docs = tmp_path / "docs"
  (docs / "figures").mkdir(parents=True)
  (docs / report.TABLE_FILE).write_text("the published study\n")
  runs = tmp_path / "runs"
  dirs = [str(make_run(runs, name)) for name in ("imdb_keras", "imdb_glove")]
  assert report.main(dirs) == 0
  assert [r["run"] for r in reported_rows(runs / report.REPORT_DIR)] == [
      "imdb_keras", "imdb_glove"]
  assert (docs / report.TABLE_FILE).read_text() == "the published study\n"
  assert list((docs / "figures").iterdir()) == []


def test_an_earlier_report_in_the_runs_dir_is_not_a_run(tmp_path, capsys):
  runs = tmp_path / "runs"
  make_run(runs, "imdb")
  assert report.main([str(runs / "imdb")]) == 0
  capsys.readouterr()
  assert report.main([str(d) for d in sorted(runs.iterdir())]) == 0
  assert "skipped" not in capsys.readouterr().err
  assert [r["run"] for r in reported_rows(runs / report.REPORT_DIR)] == ["imdb"]


def test_runs_of_one_config_in_different_workdirs_are_rows_of_their_own(tmp_path):
  runs = tmp_path / "runs"
  dirs = [str(make_run(runs, name, config_name=False)) for name in ("a", "b", "c")]
  for d in dirs:
    config = json.loads((pathlib.Path(d) / "config.json").read_text())
    (pathlib.Path(d) / "config.json").write_text(json.dumps({**config, "name": "default"}))
  assert report.main(dirs + [dirs[0]]) == 0
  rows = reported_rows(runs / report.REPORT_DIR)
  assert [r["run"] for r in rows] == ["a", "b", "c"]
  assert rows[1]["command"] == (
      f"`python -m lstm_jax.main --config=configs/default.py --workdir={dirs[1]}`")
  for name in ("a", "b", "c"):
    assert_png(runs / report.REPORT_DIR / "figures" / f"{name}_curves.png")


def test_workdirs_sharing_a_name_are_keyed_by_their_path(tmp_path):
  runs = [report.load_run(make_run(tmp_path / parent, "imdb"))
          for parent in ("old", "new")]
  assert [r.key for r in report.with_unique_keys(runs)] == ["old_imdb", "new_imdb"]


def test_data_column_names_every_train_and_test_file(tmp_path):
  run_dir = make_run(tmp_path, "imdb")
  config = json.loads((run_dir / "config.json").read_text())
  config["data"].update(source="files", train_files=["d/a.jsonl", "d/b.jsonl"],
                        test_files=["d/t.jsonl"])
  (run_dir / "config.json").write_text(json.dumps(config))
  assert report.load_run(run_dir).data_label == "files: a.jsonl, b.jsonl; test t.jsonl"


def test_runs_differing_only_in_seed_get_their_mean_and_spread(tmp_path):
  tfidf = {"tfidf_logreg": {"test_accuracy": 0.7, "test_macro_f1": 0.69}}
  for seed, accuracy in enumerate([0.80, 0.82, 0.84]):
    make_run(tmp_path / "imdb", f"seed_{seed}", seed=seed, test_accuracy=accuracy,
             baselines=tfidf if seed == 0 else None, config_name=False)
  make_run(tmp_path, "other", test_accuracy=0.5)
  runs = [report.load_run(d) for d in sorted((tmp_path / "imdb").iterdir())]
  runs.append(report.load_run(tmp_path / "other"))
  [row] = table_rows(report.seeds_table(runs))
  assert row["seeds"] == "0, 1, 2"
  assert row["test acc"] == "0.820 ± 0.020"
  assert row["TF-IDF+LR acc / F1"] == "0.700 / 0.690"
  assert row["train time / epoch"] == "25 s"


def test_no_seed_table_without_runs_that_differ_only_in_seed(tmp_path):
  runs = [report.load_run(make_run(tmp_path, name)) for name in ("a", "b")]
  assert report.seeds_table(runs) == ""
