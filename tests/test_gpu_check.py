"""The GPU check and the GPU benchmark keep working where there is no GPU:
`--smoke` runs every step on CPU with tiny sizes (CI runs these)."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

STEPS = ("tests", "imdb fused", "imdb cudnn", "benchmark", "2 devices")


@pytest.mark.slow
def test_the_gpu_check_passes_every_step_in_its_smoke_run(tmp_path, shared_data):
  data = shared_data("sentiment_imdb").parent
  done = subprocess.run(
      ["bash", "benchmarks/gpu_check.sh", "--smoke", f"--workdir={tmp_path}"],
      cwd=REPO_ROOT, env={**os.environ, "PYTHON": sys.executable, "LSTM_JAX_DATA_DIR": str(data)},
      capture_output=True, text=True, timeout=1800, check=False)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  rows = [re.match(r"(.+?)\s{2,}(\w+)\s", line).groups()
          for line in (tmp_path / "summary.txt").read_text().splitlines()[1:]]
  assert rows == [(step, "PASS") for step in STEPS]


@pytest.mark.slow
def test_the_gpu_benchmark_smoke_run_gives_a_row_for_every_framework():
  done = subprocess.run([sys.executable, "-m", "benchmarks.lstm_gpu", "--smoke"],
                        cwd=REPO_ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu"},
                        capture_output=True, text=True, timeout=900, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(done.stdout.strip().splitlines()[-1])["results"]
  frameworks = {row["framework"] for row in results}
  assert len(frameworks) == 9
  # Only what needs a GPU may fail on CPU.
  assert {row["framework"] for row in results if "error" in row} <= {"jax cudnn", "lstm_jax cudnn"}
