"""metrics.jsonl is read back as it was written."""

from lstm_jax import reporting


def test_history_round_trips(tmp_path):
  history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
  reporting.write_history(tmp_path, history)
  assert reporting.read_history(tmp_path) == history
