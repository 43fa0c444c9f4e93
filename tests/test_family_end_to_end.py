"""A GRU classifier from the command line to plain Keras: `python -m lstm_jax.main`
trains it on the MR sentence-polarity files, `python -m lstm_jax.export` writes
it out, and Keras 3 (JAX and torch backends) predicts what `lstm_jax.predict
--json` prints (slow: run with `pytest -m slow`)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT
from conftest import data_dir
from keras_testing import KERAS_WARNINGS
from keras_testing import keras_on_jax
from lstm_jax import workdir as workdir_lib
from test_export import KERAS_PREDICT

keras_on_jax()
pytestmark = [pytest.mark.slow, *KERAS_WARNINGS]

TEXTS = ["a moving , beautifully acted film", "dull , lifeless and far too long",
         "the plot is thin but the cast makes it worth seeing", "an unknownword",
         "it is neither the best nor the worst of its kind"]


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
  done = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=1200, **kwargs)
  assert done.returncode == 0, done.stderr[-3000:]
  return done


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """(the workdir of a GRU run on MR, its Keras export)."""
  folder = data_dir() / "sentiment_mr_polarity"
  if not folder.is_dir():
    pytest.skip(f"real data not found: {folder} (set LSTM_JAX_DATA_DIR)")
  base = tmp_path_factory.mktemp("gru_mr")
  workdir, out = base / "workdir", base / "keras"
  run("-m", "lstm_jax.main", "--config=configs/default.py", f"--workdir={workdir}",
      "--config.data.format=lines_per_label", "--config.data.encoding=latin-1",
      f"--config.data.train_files={folder}/rt-polarity.pos,{folder}/rt-polarity.neg",
      """--config.model.recurrent_layers=[{"units": 64, "cell": "gru"}]""",
      "--config.data.max_length=40", "--config.embedding.dim=64",
      "--config.train.max_epochs=3",
      # The test process shows 8 CPU devices; a plain CPU run trains on one.
      "--config.train.num_devices=1")
  run("-m", "lstm_jax.export", f"--workdir={workdir}", f"--out={out}")
  return workdir, out


def test_the_gru_run_learns(exported):
  workdir, _ = exported
  config = json.loads((workdir / workdir_lib.CONFIG_FILE).read_text())
  assert config["model"]["recurrent_layers"][0]["cell"] == "gru"
  results = json.loads((workdir / workdir_lib.RESULTS_FILE).read_text())
  # Balanced classes: the majority class scores 0.5.
  assert results["test_accuracy"] > 0.7


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_plain_keras_predicts_what_predict_json_prints(exported, backend):
  if importlib.util.find_spec(backend) is None:
    pytest.skip(f"{backend} is not installed (requirements-bench.txt installs torch)")
  workdir, out = exported
  predicted = run("-m", "lstm_jax.predict", f"--workdir={workdir}", "--json", "--top_k=2",
                  *TEXTS)
  labels = json.loads((out / workdir_lib.LABELS_FILE).read_text())
  ours = [[next(p["probability"] for p in json.loads(line)["top_k"] if p["label"] == label)
           for label in labels] for line in predicted.stdout.splitlines()]
  keras_run = run("-c", KERAS_PREDICT, str(out), input="\n".join(TEXTS),
                  env={**os.environ, "KERAS_BACKEND": backend})
  keras_output = json.loads(keras_run.stdout.splitlines()[-1])
  assert keras_output["backend"] == backend
  np.testing.assert_allclose(keras_output["probabilities"], ours, atol=1e-5, rtol=0)
