"""`python -m lstm_jax.predict` on a real, tiny trained run."""

import json
import subprocess
import sys

import pytest

from lstm_jax import predict
from lstm_jax import serving
from test_serving import REPO_ROOT
from test_serving import SERVING_FILES
from test_serving import copy_files
from test_serving import trained_run


def run_predict(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "lstm_jax.predict", *args], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def json_run(workdir, tmp_path_factory):
  """Two texts from the command line, two from a file with a blank line."""
  texts = tmp_path_factory.mktemp("predict") / "texts.txt"
  texts.write_text("the plot is terrible\n\nzzz qqq\n", encoding="utf-8")
  return run_predict(f"--workdir={workdir}", "--json", "--top_k=1", f"--input={texts}",
                     "a wonderful film", "this movie was bad")


def test_json_lines_give_label_probability_and_top_k(json_run):
  assert json_run.returncode == 0, json_run.stderr
  rows = [json.loads(line) for line in json_run.stdout.splitlines()]

  assert [r["text"] for r in rows] == ["a wonderful film", "this movie was bad",
                                       "the plot is terrible", "zzz qqq"]
  assert [r["label"] for r in rows[:3]] == ["pos", "neg", "neg"]
  assert all(r["top_k"] == [{"label": r["label"], "probability": r["probability"]}]
             for r in rows)


def test_text_without_known_words_is_answered_with_a_warning(json_run):
  rows = [json.loads(line) for line in json_run.stdout.splitlines()]

  assert rows[3]["unknown_fraction"] == 1.0 and rows[3]["label"] in ("pos", "neg")
  assert "warning: text 4 has no word of the training vocabulary" in json_run.stderr
  assert "zzz qqq" in json_run.stderr
  assert "skipped 1 blank lines" in json_run.stderr


def test_text_line_shows_label_probability_and_top_k():
  prediction = serving.Prediction("pos", 0.9, [("pos", 0.9), ("neg", 0.1)], 0.0)

  assert predict.as_line("nice", prediction) == "pos 0.9000 | top 2: pos 0.9000, neg 0.1000 | nice"


def test_missing_workdir_file_is_an_error_without_traceback(workdir, tmp_path):
  copy = copy_files(workdir, tmp_path / "run", tuple(n for n in SERVING_FILES
                                                     if n != "tokenizer.json"))

  done = run_predict(f"--workdir={copy}", "a great film")

  assert done.returncode == 2
  assert done.stderr.startswith(f"error: tokenizer.json not found in {copy}")
  assert "may not be finished" in done.stderr and "Traceback" not in done.stderr
