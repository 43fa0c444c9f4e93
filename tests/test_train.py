"""The training program end to end on small generated data."""

import csv
import functools
import json
import random
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import default
from lstm_jax import errors
from lstm_jax.models import heads
from lstm_jax.training import batching
from lstm_jax.training import run_records
from lstm_jax.training import steps
from lstm_jax.training import train
import test_workdir

WORDS = {"good": ["great", "fine", "lovely", "superb", "nice"],
         "bad": ["awful", "poor", "dreadful", "nasty", "grim"]}
FILLER = ["the", "a", "film", "plot", "actor", "scene", "music", "ending"]


def write_reviews(path, n, seed):
  """A CSV whose label is decided by which word family a text uses."""
  rng = random.Random(seed)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for _ in range(n):
      label = rng.choice(["good", "bad"])
      words = rng.choices(FILLER, k=rng.randint(3, 8)) + [rng.choice(WORDS[label])]
      rng.shuffle(words)
      writer.writerow([" ".join(words), label])


def tiny_config(tmp_path, **overrides):
  config = default.get_config()
  train_file = tmp_path / "train.csv"
  if not train_file.exists():  # rewritten, it would be prepared again
    write_reviews(train_file, 400, seed=1)
  config.data.train_files = (str(train_file),)
  config.data.max_length = 12
  config.embedding.dim = 8
  config.model.recurrent_layers = ({"units": 8},)
  config.train.batch_size = 32
  config.train.num_devices = 1
  config.train.max_epochs = 6
  config.train.learning_rate = 0.02
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  return config


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  tmp_path = tmp_path_factory.mktemp("run")
  config = tiny_config(tmp_path)
  results = train.train_and_evaluate(config, tmp_path / "workdir")
  return tmp_path / "workdir", results


def test_learns_the_signal_well_above_the_majority_class(finished_run):
  _, results = finished_run
  majority = max(np.bincount(np.argmax(results["confusion_matrix"], axis=0))) / results["num_test"]
  assert results["test_accuracy"] >= 0.9
  assert results["test_accuracy"] > majority + 0.3


def test_workdir_holds_the_contract_files(finished_run):
  workdir, results = finished_run
  for name in ("config.json", "tokenizer.json", "labels.json", "dataset_report.json",
               "metrics.jsonl", "results.json"):
    assert (workdir / name).is_file(), name
  assert list((workdir / "tensorboard").iterdir())
  for key in ("best_epoch", "epochs_run", "stopped_early", "best_val_loss", "val_accuracy",
              "test_loss", "test_accuracy", "test_macro_f1", "num_train", "num_val",
              "num_test", "num_dropped", "train_seconds", "train_tokens_per_second"):
    assert key in results, key
  epochs = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert [e["epoch"] for e in epochs] == list(range(1, results["epochs_run"] + 1))
  for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "grad_norm",
              "grad_norm_max", "seconds"):
    assert all(key in e for e in epochs), key


def test_a_checkpoint_holds_the_items_of_workdir_py(finished_run):
  workdir, results = finished_run
  epoch = workdir / "checkpoints" / str(results["epochs_run"])
  items = {p.name for p in epoch.iterdir() if p.is_dir()}
  assert items == test_workdir.ITEMS


def test_the_docs_name_every_key_of_metrics_and_results(finished_run):
  workdir, results = finished_run
  rows = [line for doc in test_workdir.DOCS for line in doc.read_text("utf-8").splitlines()
          if line.startswith(("| `metrics.jsonl` |", "| `results.json` |"))]
  metrics_rows = [row for row in rows if row.startswith("| `metrics.jsonl`")]
  assert len(metrics_rows) >= 2
  for row in metrics_rows:
    assert set(run_records.EPOCH_KEYS) <= set(re.findall(r"`(\w+)`", row)), row
  listing = [row for row in rows if row.startswith("| `results.json`")
             and len(set(re.findall(r"`(\w+)`", row)) & set(results)) > 2]
  assert listing
  for row in listing:
    assert set(results) <= set(re.findall(r"`(\w+)`", row)), row


def test_every_step_records_its_loss_and_gradient_norm(finished_run):
  workdir, results = finished_run
  steps = run_records.read_steps(workdir)
  history = run_records.read_history(workdir)
  steps_per_epoch = len(steps) // results["epochs_run"]
  assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
  assert [s["epoch"] for s in steps] == [
      e for e in range(1, results["epochs_run"] + 1) for _ in range(steps_per_epoch)]
  for record in history:
    norms = [s["grad_norm"] for s in steps if s["epoch"] == record["epoch"]]
    assert record["grad_norm"] == pytest.approx(np.mean(norms))
    assert record["grad_norm_max"] == max(norms)
  assert all(s["grad_norm"] > 0 and s["loss"] > 0 for s in steps)


def test_every_example_is_counted(finished_run):
  _, results = finished_run
  assert results["num_train"] + results["num_val"] + results["num_test"] + \
      results["num_dropped"] == 400
  assert sum(map(sum, results["confusion_matrix"])) == results["num_test"]


def test_rerunning_a_finished_run_returns_its_results(finished_run, capsys):
  workdir, results = finished_run
  config = tiny_config(workdir.parent)
  assert train.train_and_evaluate(config, workdir) == results
  assert "is finished" in capsys.readouterr().out


def test_a_changed_config_is_refused(finished_run):
  workdir, _ = finished_run
  config = tiny_config(workdir.parent, **{"model.recurrent_layers": ({"units": 16},)})
  with pytest.raises(train.config_validation.ConfigError, match=r"differs in: model.recurrent_layers"):
    train.train_and_evaluate(config, workdir)


REAL_EVALUATE = steps.evaluate
REAL_LOAD_DATASET = train.input_pipeline.load_dataset


def scripted_validation(monkeypatch, val_losses):
  """Replaces the validation loss with a scripted curve (test metrics unchanged)."""
  calls = iter(val_losses)

  def evaluate(p_eval_step, params, split, spec, topology, label_names):
    metrics = REAL_EVALUATE(p_eval_step, params, split, spec, topology, label_names)
    if split is evaluate.validation:
      metrics["loss"] = next(calls)
    return metrics

  def load_dataset(data_config, embedding, workdir, *, seed):
    data = REAL_LOAD_DATASET(data_config, embedding, workdir, seed=seed)
    evaluate.validation = data.validation
    return data

  monkeypatch.setattr(steps, "evaluate", evaluate)
  monkeypatch.setattr(train.input_pipeline, "load_dataset", load_dataset)


def test_early_stopping_stops_at_best_plus_patience(tmp_path, monkeypatch):
  scripted_validation(monkeypatch, [0.9, 0.7, 0.6, 0.65, 0.61, 0.62, 0.5, 0.4])
  config = tiny_config(tmp_path, **{"train.max_epochs": 8})
  results = train.train_and_evaluate(config, tmp_path / "workdir")
  assert results["best_epoch"] == 3
  assert results["epochs_run"] == 6
  assert results["stopped_early"]
  assert results["best_val_loss"] == 0.6


def test_restore_best_tests_the_best_epochs_weights(tmp_path, monkeypatch):
  curve = [0.9, 0.5, 0.7, 0.8]
  scripted_validation(monkeypatch, curve)
  best = train.train_and_evaluate(tiny_config(tmp_path, **{"early_stopping.patience": 2}),
                                  tmp_path / "best")
  scripted_validation(monkeypatch, curve)
  last = train.train_and_evaluate(
      tiny_config(tmp_path, **{"early_stopping.patience": 2,
                               "early_stopping.restore_best": False}), tmp_path / "last")
  assert best["restored_weights"] == "best" and last["restored_weights"] == "last"
  assert best["epochs_run"] == last["epochs_run"] == 4
  assert best["test_loss"] != last["test_loss"]
  # The best epoch's weights are those of epoch 2's checkpoint: evaluating them
  # again with restore_best=False after 2 epochs gives the same test loss.
  scripted_validation(monkeypatch, curve[:2])
  two_epochs = train.train_and_evaluate(
      tiny_config(tmp_path, **{"early_stopping.patience": 2, "train.max_epochs": 2,
                               "early_stopping.restore_best": False}), tmp_path / "two")
  assert two_epochs["test_loss"] == best["test_loss"]


def test_batch_not_dividing_the_devices_fails_before_training(tmp_path):
  config = tiny_config(tmp_path, **{"train.batch_size": 30, "train.num_devices": 4})
  with pytest.raises(train.config_validation.ConfigError, match=r"batch_size=30"):
    train.train_and_evaluate(config, tmp_path / "workdir")
  assert not (tmp_path / "workdir" / "checkpoints").exists()


def test_restart_deletes_the_previous_run_and_trains_again(tmp_path):
  workdir = tmp_path / "workdir"
  train.train_and_evaluate(tiny_config(tmp_path, **{"train.max_epochs": 1}), workdir)
  changed = tiny_config(tmp_path, **{"train.max_epochs": 2})
  results = train.train_and_evaluate(changed, workdir, restart=True)
  assert results["epochs_run"] == 2
  assert json.loads((workdir / "config.json").read_text())["train"]["max_epochs"] == 2


def test_bucketed_training_compiles_each_bucket_length_once(tmp_path, monkeypatch):
  compiles, after_each_evaluation = [], []

  def record(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
      compiles.append(duration)

  def evaluate(*args, **kwargs):
    metrics = REAL_EVALUATE(*args, **kwargs)
    after_each_evaluation.append(len(compiles))
    return metrics

  monkeypatch.setattr(steps, "evaluate", evaluate)
  config = tiny_config(tmp_path, **{"data.bucket_lengths": (4, 8, 12), "train.max_epochs": 3,
                                    "early_stopping.patience": 100})
  jax.monitoring.register_event_duration_secs_listener(record)
  try:
    train.train_and_evaluate(config, tmp_path / "workdir")
  finally:
    jax.monitoring.unregister_event_duration_listener(record)
  # Validation after epochs 1, 2 and 3, then the test split: the first epoch
  # compiled every bucket's train and eval step, later epochs nothing.
  assert len(after_each_evaluation) == 4
  assert after_each_evaluation[0] > 0
  assert after_each_evaluation[1:] == [after_each_evaluation[0]] * 3


def test_distinct_tokens_train_like_every_token_slot(tmp_path):
  """The batch vocabulary changes float rounding only, not what is learned."""
  def run(distinct, name):
    config = tiny_config(tmp_path, **{"model.distinct_tokens": distinct, "train.max_epochs": 2,
                                      "early_stopping.patience": 100})
    return train.train_and_evaluate(config, tmp_path / name)

  with_vocab, every_slot = run(True, "distinct"), run(False, "every_slot")
  assert with_vocab["test_loss"] == pytest.approx(every_slot["test_loss"], rel=1e-3)
  assert with_vocab["test_accuracy"] == pytest.approx(every_slot["test_accuracy"], abs=0.01)


def test_batches_carry_their_vocabulary_as_the_config_says(tmp_path):
  config = tiny_config(tmp_path)
  ids = np.arange(1, 41, dtype=np.int32).reshape(4, 10)
  split = train.input_pipeline.EncodedSplit(ids, np.zeros(4, np.int32))
  topology = steps.Topology.create(config.train.num_devices)

  def keys(config):
    batch = next(steps.make_batches(split, train.batch_spec(config), topology, epoch=0,
                                    shuffle=False))
    return set(batch)

  assert {"batch_vocab", "token_index"} <= keys(config)
  config.model.distinct_tokens = False
  assert not {"batch_vocab", "token_index"} & keys(config)


def test_train_and_eval_steps_hand_the_batch_vocabulary_to_the_model():
  seen = []

  def apply_fn(variables, token_ids, **kwargs):
    seen.append(sorted(k for k in kwargs if k in ("batch_vocab", "token_index")))
    return jnp.zeros(token_ids.shape[:1] + (2,)) + variables["params"]["w"]

  ids = np.arange(1, 13, dtype=np.int32).reshape(1, 2, 6)
  batch_vocab, token_index = batching.batch_vocabulary(ids)
  batch = {"token_ids": ids, "label": np.zeros((1, 2), np.int32),
           "weight": np.ones((1, 2), np.float32), "batch_vocab": batch_vocab,
           "token_index": token_index}
  state = steps.TrainState.create(apply_fn=apply_fn, params={"w": jnp.zeros(())},
                                  tx=optax.sgd(0.1))
  jax.pmap(functools.partial(steps.train_step, num_classes=2,
                             head=heads.Softmax()), axis_name=steps.AXIS,
           in_axes=(None, 0, None), out_axes=(None, None))(state, batch, jax.random.key(0))
  jax.pmap(functools.partial(steps.eval_step, apply_fn=apply_fn, num_classes=2,
                             head=heads.Softmax()),
           axis_name=steps.AXIS, in_axes=(None, 0), out_axes=None)(state.params, batch)
  assert seen == [["batch_vocab", "token_index"]] * 2


def test_class_weights_scale_the_training_loss_only(tmp_path):
  """Adam without clipping is invariant to a loss scaled by 2: the same weights are
  learned, the training loss doubles, and validation stays unweighted."""
  def run(class_weight, name):
    config = tiny_config(tmp_path, **{"train.class_weight": class_weight,
                                      "train.clip_mode": "none", "train.max_epochs": 1})
    train.train_and_evaluate(config, tmp_path / name)
    return run_records.read_history(tmp_path / name)[0]

  weighted, plain = run("good=2,bad=2", "weighted"), run("", "plain")
  assert weighted["loss"] == pytest.approx(2 * plain["loss"], rel=1e-3)
  assert weighted["val_loss"] == pytest.approx(plain["val_loss"], rel=1e-3)


def test_a_start_that_failed_before_any_checkpoint_lets_the_corrected_command_train(tmp_path):
  workdir = tmp_path / "workdir"
  with pytest.raises(errors.UserError, match="sentiment"):
    train.train_and_evaluate(tiny_config(tmp_path, **{"data.label_field": "sentiment"}), workdir)
  results = train.train_and_evaluate(tiny_config(tmp_path, **{"train.max_epochs": 1}), workdir)
  assert results["epochs_run"] == 1
  assert not (workdir / ".lock").exists()
