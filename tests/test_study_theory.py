"""The study's theory tools on tiny finished runs: gradients over distance, the clipping
figure and the cells comparison (`lstm_jax.study.gradients`, `.clipping`, `.cells`)."""

import csv
import json
import pathlib
import random
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.study import cells
from lstm_jax.study import clipping
from lstm_jax.study import gradients
from lstm_jax.study import run_data
from lstm_jax.training import run_records
from lstm_jax.training import train

GOOD, BAD = ("great", "superb", "lovely"), ("awful", "dreadful", "dull")
FILLER = ("the", "a", "film", "plot", "actor", "scene", "music", "ending", "was", "it")
MAX_LENGTH = 24


def write_reviews(path: pathlib.Path, n: int = 320) -> None:
  """Reviews of 6 to 30 words whose label is one early word: memory is needed."""
  rng = random.Random(0)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for _ in range(n):
      label = rng.choice(["pos", "neg"])
      words = [rng.choice(GOOD if label == "pos" else BAD)]
      words += rng.choices(FILLER, k=rng.randint(5, 29))
      writer.writerow([" ".join(words), label])


def tiny_run(base: pathlib.Path, name: str, cell: str, seed: int = 0, **train_keys) -> pathlib.Path:
  config = default.get_config()
  config.name = f"tiny_{cell}"
  config.seed = seed
  config.data.train_files = (str(base / "train.csv"),)
  config.data.max_length = MAX_LENGTH
  config.embedding.dim = 8
  config.model.recurrent_layers = ({"units": 8, "cell": cell},)
  config.train.batch_size = 32
  config.train.max_epochs = 2
  config.train.learning_rate = 0.02
  config.train.verbose = 0
  for key, value in train_keys.items():
    config.train[key] = value
  workdir = base / name
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  base = tmp_path_factory.mktemp("theory_runs")
  write_reviews(base / "train.csv")
  return {"lstm_0": tiny_run(base, "lstm_0", "lstm"),
          # Barely moved by training: its trained weights are its initial ones.
          "lstm_1": tiny_run(base, "lstm_1", "lstm", seed=1, learning_rate=1e-9),
          "simple_rnn_0": tiny_run(base, "simple_rnn_0", "simple_rnn")}


def test_gradient_norms_are_those_of_the_loss_at_each_input_step(runs):
  run = run_data.load(runs["lstm_0"])
  model, params = run.classifier.model, run.classifier.params
  # Distinct ids at every step: the gradient of the loss with respect to an embedding
  # row is then the gradient at the one step that reads it.
  ids = np.zeros((1, MAX_LENGTH), np.int32)
  ids[0, -6:] = np.arange(2, 8)
  labels = np.array([1], np.int32)
  norms = gradients.gradient_norms(model, params, ids, labels)

  def loss(table):
    with_table = {**params, "embedding": {"embedding": table}}
    logits = model.apply({"params": with_table}, ids)
    return jnp.sum(model.head.losses(logits, labels))

  table_gradient = jax.grad(loss)(params["embedding"]["embedding"])
  np.testing.assert_allclose(norms[0, -6:], np.linalg.norm(table_gradient[2:8], axis=1),
                             rtol=1e-4, atol=1e-8)
  np.testing.assert_array_equal(norms[0, :-6], 0.0)


def test_norms_are_read_back_from_the_last_token():
  norms = np.array([[0.0, 0.0, 1.0, 2.0, 3.0], [5.0, 6.0, 7.0, 8.0, 9.0]])
  ids = np.array([[0, 0, 4, 5, 6], [1, 2, 3, 4, 5]])
  np.testing.assert_array_equal(gradients.by_distance(norms, ids, 3),
                                [[3.0, 2.0, 1.0], [9.0, 8.0, 7.0]])


def test_gradients_over_distance_at_initialisation_and_trained(runs, tmp_path):
  out, numbers = tmp_path / "g.png", tmp_path / "g.json"
  assert gradients.main([str(runs["lstm_0"]), str(runs["simple_rnn_0"]), f"--out={out}",
                         f"--json={numbers}", "--min_tokens=12", "--texts=20"]) == 0
  assert out.stat().st_size > 10_000
  results = json.loads(numbers.read_text())
  assert [r["cell"] for r in results] == ["lstm", "simple_rnn (activation=tanh)"]
  for result in results:
    assert result["texts"] == 20
    for weights in ("initial", "trained"):
      assert len(result[weights]["geometric_mean"]) == 12
      assert all(v > 0 for v in result[weights]["geometric_mean"])
  # The initial weights are the run's seeded start, not its trained ones.
  assert results[0]["initial"] != results[0]["trained"]


def test_too_short_texts_are_named(runs):
  with pytest.raises(errors.UserError, match=r"no test text has 500 tokens \(the longest has"):
    gradients.measure(run_data.load(runs["lstm_0"]), min_tokens=500, count=10)


def test_the_initial_parameters_are_the_runs_start(runs):
  still = run_data.load(runs["lstm_1"])  # trained at a rate of 1e-9
  for start, trained in zip(jax.tree.leaves(still.initial_params),
                            jax.tree.leaves(still.classifier.params)):
    np.testing.assert_allclose(start, trained, atol=1e-6)
  other_seed = run_data.load(runs["lstm_0"])
  assert not np.allclose(still.initial_params["lstm_0"]["kernel"],
                         other_seed.initial_params["lstm_0"]["kernel"], atol=1e-3)


def test_the_clipping_figure_reads_finished_and_stopped_runs(runs, tmp_path):
  stopped = tmp_path / "stopped"
  shutil.copytree(runs["simple_rnn_0"], stopped)
  (stopped / workdir_lib.RESULTS_FILE).unlink()
  out = tmp_path / "clipping.png"
  assert clipping.main([str(runs["simple_rnn_0"]), str(stopped), f"--out={out}"]) == 0
  assert out.stat().st_size > 10_000
  finished, unfinished = clipping.describe(runs["simple_rnn_0"]), clipping.describe(stopped)
  assert finished["clipping"] == "clip global norm 1" and finished["threshold"] == 1.0
  assert finished["ending"].startswith("test accuracy ")
  assert unfinished["ending"].startswith("no results: last step ")
  assert finished["steps"] == run_records.read_steps(runs["simple_rnn_0"])


def test_a_run_without_steps_is_named(tmp_path, runs):
  empty = tmp_path / "empty"
  shutil.copytree(runs["lstm_0"], empty)
  (empty / workdir_lib.STEPS_FILE).unlink()
  with pytest.raises(errors.UserError, match="steps.jsonl not found or empty"):
    clipping.describe(empty)


def test_running_mean_averages_the_last_steps():
  np.testing.assert_allclose(clipping.running_mean(np.array([2.0, 4.0, 6.0, 8.0]), 2),
                             [2.0, 3.0, 5.0, 7.0])


def test_length_buckets_hold_about_equal_counts():
  lengths = np.arange(1, 101)
  edges = cells.bucket_edges(lengths)
  assert edges == [25, 50, 75, 100]
  assert cells.bucket_labels(edges, lengths) == ["1–25", "26–50", "51–75", "76–100"]
  # Mostly truncated texts: equal quantiles merge.
  assert cells.bucket_edges(np.array([10, 20, 300, 300, 300, 300, 300, 300])) == [20, 300]


def test_the_cells_table_pools_seeds_and_checks_each_runs_accuracy(runs, tmp_path, capsys):
  dirs = [str(runs[name]) for name in ("lstm_0", "lstm_1", "simple_rnn_0")]
  assert cells.main([*dirs, f"--figure={tmp_path / 'c.png'}",
                     f"--table={tmp_path / 'c.md'}"]) == 0
  table = (tmp_path / "c.md").read_text()
  assert "| tiny | simple_rnn | 0 |" in table
  assert "| tiny | lstm | 0, 1 |" in table
  assert "tokens (" in table
  assert (tmp_path / "c.png").stat().st_size > 10_000
  assert "warning" not in capsys.readouterr().err
  measured = cells.measure(run_data.load(runs["lstm_0"]))
  results = workdir_lib.read_json(runs["lstm_0"] / workdir_lib.RESULTS_FILE)
  assert measured["correct"].mean() == pytest.approx(results["test_accuracy"], abs=1e-9)


def test_underflowed_gradients_are_counted_not_averaged():
  norms = np.array([[1.0, 1e-3, 0.0], [1e-2, 0.0, 0.0], [1e-4, 1e-5, 1e-9]])
  summary = gradients.summarize(norms)
  np.testing.assert_allclose(summary["geometric_mean"][:2], [1e-2, 1e-4])
  assert summary["geometric_mean"][2] is None  # two texts of three underflowed
  np.testing.assert_allclose(summary["underflow"], [0, 1 / 3, 2 / 3], rtol=1e-3)
