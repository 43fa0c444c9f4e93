"""Shared test setup.

Several CPU devices are made visible before JAX is imported, so pmap tests can
compare 1, 4 and 8 devices in one process. Real data is found through
LSTM_JAX_DATA_DIR (default: ../shared/data next to the repository); tests that
need it skip with the missing path as the reason.
"""

import os
import pathlib

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("KERAS_BACKEND", "jax")

import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def data_dir() -> pathlib.Path:
  return pathlib.Path(
      os.environ.get("LSTM_JAX_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data():
  """Returns a function mapping a path under the data dir to a Path, or skips."""

  def find(relative: str) -> pathlib.Path:
    path = data_dir() / relative
    if not path.exists():
      pytest.skip(f"real data not found: {path} (set LSTM_JAX_DATA_DIR)")
    return path

  return find
