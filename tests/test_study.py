"""Tests for launch/study.sh's choice of runs and report (dry runs: nothing trains)."""

import subprocess
import sys

from lstm_jax import main as main_lib
from lstm_jax import workdir as workdir_lib
from conftest import REPO_ROOT


def study(*args: str, **env: str) -> list[str]:
  """The commands `bash launch/study.sh --dry_run ARGS` would run."""
  out = subprocess.run(["bash", "launch/study.sh", "--dry_run", *args], cwd=REPO_ROOT,
                       env={"PATH": "/usr/bin:/bin", "PYTHON": "python", **env},
                       capture_output=True, text=True, check=True).stdout
  return [line.strip() for line in out.splitlines() if not line.startswith("===")]


def test_one_experiment_is_trained_and_reported_alone_next_to_the_runs():
  commands = study("huffpost_headline_glove")
  assert commands[-1] == "python -m lstm_jax.study.report runs/huffpost_headline_glove"
  assert not any("docs" in c for c in commands)


def test_a_run_is_credited_to_the_study_command_that_launched_it():
  [train] = [c for c in study("huffpost_headline_glove") if "lstm_jax.main" in c]
  assert train.startswith(
      "env LSTM_JAX_LAUNCHER=bash\\ launch/study.sh\\ huffpost_headline_glove python")


def test_publish_reports_the_whole_study_into_docs_and_trains_nothing():
  [command] = study("--publish")
  assert command.startswith("python -m lstm_jax.study.report runs/letters_authors_keras ")
  assert command.endswith("runs/sentiment_glove --out docs")


def test_publish_refuses_a_part_of_the_study():
  result = subprocess.run(["bash", "launch/study.sh", "--dry_run", "--publish", "sentiment_glove"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
  assert result.returncode == 2
  assert result.stdout == ""


def test_the_launchers_command_is_recorded(tmp_path, monkeypatch):
  monkeypatch.setenv(main_lib.LAUNCHER_ENV, "bash launch/study.sh x")
  monkeypatch.setattr(sys, "argv", ["main.py", "--workdir=w"])
  main_lib.record_command(str(tmp_path))
  assert (tmp_path / workdir_lib.COMMAND_FILE).read_text() == "bash launch/study.sh x\n"


def test_seeds_train_one_workdir_per_seed_and_the_references_once():
  commands = study("strong/mr", SEEDS="0 1 2")
  trains = [c for c in commands if "lstm_jax.main" in c]
  assert [c.split("--workdir=")[1].split()[0] for c in trains] == [
      "runs/strong/mr/seed_0", "runs/strong/mr/seed_1", "runs/strong/mr/seed_2"]
  assert [c.split()[-1] for c in trains] == [f"--config.seed={s}" for s in range(3)]
  assert [c for c in commands if "study.baselines" in c] == [
      "python -m lstm_jax.study.baselines --workdir=runs/strong/mr/seed_0"]
  assert commands[-1] == ("python -m lstm_jax.study.report runs/strong/mr/seed_0 "
                          "runs/strong/mr/seed_1 runs/strong/mr/seed_2")


def test_a_strong_run_reads_the_task_data_and_the_local_glove():
  [train] = [c for c in study("strong/letters_languages") if "lstm_jax.main" in c]
  assert "--config=configs/strong/letters_languages.py" in train
  assert "--config.data.label_field=text_lang" in train
  assert "--config.embedding.path=../shared/data/glove_6b_50d/" in train


def test_the_keras_reference_runs_for_the_strong_imdb_model_unless_turned_off():
  assert any("study.keras_reference" in c for c in study("strong/imdb"))
  assert not any("study.keras_reference" in c for c in study("strong/imdb", KERAS_REFERENCE=""))


def test_the_cells_runs_read_their_tasks_data():
  commands = [c for c in study("cells/letters_authors_gru", "cells/huffpost_both_simple_rnn",
                               "cells/imdb_lstm") if "lstm_jax.main" in c]
  assert "--config.data.label_field=sender_names" in commands[0]
  assert "news_category_v3_first10k.jsonl" in commands[1]
  assert "imdb_train.jsonl.gz" in commands[2]
  assert not any("embedding.path" in c for c in commands)


def test_keep_going_trains_the_next_experiment_after_a_failed_one():
  def launch(*args):
    return subprocess.run(["bash", "launch/study.sh", *args, "cells/imdb_lstm",
                           "cells/imdb_gru"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": "false"})

  stopped = launch()
  assert stopped.returncode != 0
  assert "=== cells/imdb_gru" not in stopped.stdout
  kept_going = launch("--keep_going")
  assert kept_going.returncode != 0
  assert "=== cells/imdb_gru" in kept_going.stdout
  assert "cells/imdb_lstm  failed (exit status 1); going on" in kept_going.stderr
