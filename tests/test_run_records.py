"""metrics.jsonl is read back as it was written."""

from lstm_jax.training import run_records


def test_history_round_trips(tmp_path):
  history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
  run_records.write_history(tmp_path, history)
  assert run_records.read_history(tmp_path) == history
