"""Workdir files are written atomically and read back unchanged."""

import os

import pytest

from lstm_jax import reporting


def test_history_round_trips(tmp_path):
  history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
  reporting.write_history(tmp_path, history)
  assert reporting.read_history(tmp_path) == history


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "results.json"
  reporting.write_json_atomic(path, {"a": 1})

  def full_disk(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(os, "fsync", full_disk)
  with pytest.raises(OSError, match=r"could not write .*results.json: No space left"):
    reporting.write_json_atomic(path, {"a": 2})
  assert reporting.read_json(path) == {"a": 1}
  assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
