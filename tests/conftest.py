"""Shared test setup.

Several CPU devices are made visible before JAX is imported, so pmap tests can
compare 1, 4 and 8 devices in one process; prepared datasets, caches and the
compiled programs go to a temporary directory, not the user's. Real data is found through
LSTM_JAX_DATA_DIR (default: ../shared/data next to the repository); tests that
need it skip with the missing path as the reason.
"""

import os
import pathlib
import signal
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("KERAS_BACKEND", "jax")
# Prepared datasets and GloVe caches of a test session stay in its own temp dir.
_SESSION_DIR = tempfile.mkdtemp(prefix="lstm_jax_tests_")
os.environ.setdefault("LSTM_JAX_TFDS_DIR", os.path.join(_SESSION_DIR, "tfds"))
os.environ.setdefault("LSTM_JAX_CACHE_DIR", os.path.join(_SESSION_DIR, "cache"))
# A suite started as a background job of a script inherits SIGINT ignored; the
# Ctrl-C tests (and the processes they start, which inherit it) need it delivered.
signal.signal(signal.SIGINT, signal.default_int_handler)

import jax  # noqa: E402
import pytest  # noqa: E402

# The tests train many small models whose steps compile to the same programs:
# each test process keeps what it compiled on disk, in its own temp dir (never
# shared: JAX writes cache entries in place), and compiles each program once.
# About 3x less CPU for tests/test_train.py; the results are the same programs'.
jax.config.update("jax_compilation_cache_dir", os.path.join(_SESSION_DIR, "jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)

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
