"""metrics.jsonl and steps.jsonl are read back as they were written."""

import numpy as np
import pytest

from lstm_jax import errors
from lstm_jax.training import run_records


def test_history_round_trips(tmp_path):
  history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
  run_records.write_history(tmp_path, history)
  assert run_records.read_history(tmp_path) == history


def step_sums(losses, norms):
  return [{"loss_sum": np.float32(2 * loss), "count": np.float32(2), "grad_norm": np.float32(n)}
          for loss, n in zip(losses, norms)]


def test_step_records_number_the_steps_over_the_run():
  records = run_records.step_records(2, 6, step_sums([0.5, 0.25, 0.125], [1.0, 2.0, 4.0]))
  assert records == [
      {"step": 4, "epoch": 2, "loss": 0.5, "grad_norm": 1.0},
      {"step": 5, "epoch": 2, "loss": 0.25, "grad_norm": 2.0},
      {"step": 6, "epoch": 2, "loss": 0.125, "grad_norm": 4.0}]
  assert run_records.grad_norm_summary(records) == {"grad_norm": 7 / 3, "grad_norm_max": 4.0}


def test_a_redone_epoch_replaces_its_steps_and_the_later_ones(tmp_path):
  epoch = lambda e, losses: run_records.step_records(e, 2 * e, step_sums(losses, [1.0, 1.0]))
  run_records.write_steps(tmp_path, epoch(1, [0.5, 0.25]))
  run_records.write_steps(tmp_path, epoch(2, [0.75, 0.625]))
  run_records.write_steps(tmp_path, epoch(3, [0.375, 0.125]))
  # A run killed after writing epoch 3's steps but before its checkpoint redoes epoch 3;
  # one resumed from epoch 1's checkpoint redoes epoch 2 and drops epoch 3 too.
  run_records.write_steps(tmp_path, epoch(2, [0.875, 0.0625]))
  assert [(s["epoch"], s["loss"]) for s in run_records.read_steps(tmp_path)] == [
      (1, 0.5), (1, 0.25), (2, 0.875), (2, 0.0625)]


def test_a_damaged_steps_file_names_its_line(tmp_path):
  (tmp_path / "steps.jsonl").write_text('{"step": 1, "epoch": 1, "loss": 1, "grad_norm": 1}\n'
                                        '{"step": 2}\n')
  with pytest.raises(errors.UserError, match=r"steps\.jsonl:2: not a step record"):
    run_records.read_steps(tmp_path)
