"""The GPU check: everything that can only break on a GPU, in one time-boxed run.

  bash benchmarks/gpu_check.sh            # one CUDA GPU: under 8 minutes on an H100
  bash benchmarks/gpu_check.sh --smoke    # the same steps on CPU, tiny (CI runs it)

`gpu_check.sh` prepares the environment and runs this module. Each step runs in
its own process with a time limit (the whole check stays inside `--budget`
seconds) and its output goes to `<workdir>/<step>.log`:

  tests        cuDNN vs fused vs scan (float32, pre/post padding, bidirectional,
               stacked, gradients), bfloat16 vs float32 (`test_mixed_precision`)
               and the lowering tests (the cuDNN one needs the CUDA plugin)
  imdb fused   one epoch of the study's IMDB model (`configs/sentiment_keras.py`)
               on one device, `model.implementation=fused`
  imdb cudnn   the same with `model.implementation=cudnn` (on CPU: must be
               refused with exit 2, which is the smoke of that command)
  benchmark    `python -m benchmarks.lstm_gpu` (a reduced set of frameworks)
  2 devices    the IMDB epoch pmapped over 2 GPUs, equal to 1 GPU (skipped with
               one GPU; on CPU: 2 CPU devices)

It ends with one summary table; the exit status is 1 when a step failed.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Callable, Optional

from lstm_jax import workdir as workdir_lib
from lstm_jax.training import run_records

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
IMDB_FILES = ("sentiment_imdb/imdb_train.jsonl.gz", "sentiment_imdb/imdb_test.jsonl.gz")
TEST_FILES = ("tests/test_gpu_equivalence.py", "tests/test_mixed_precision.py",
              "tests/test_lowering.py")
BENCHMARK_FLAGS = ("--cases=imdb_b64,imdb_b512",
                   "--frameworks=lstm_jax fused,lstm_jax fused bf16,lstm_jax cudnn,jax cudnn,"
                   "pytorch nn.LSTM",
                   "--warmup=2", "--repeats=3", "--steps=5")
TWO_DEVICE_ACCURACY_TOLERANCE = 0.02
# A 2-core CPU runs the tiny smoke steps slower than a GPU machine the real ones.
SMOKE_SLOWDOWN = 3
SMOKE_BUDGET = 1500.0
# The smoke run's model: the study's layers, small.
SMOKE_MODEL = ("--config.data.max_length=16", "--config.embedding.dim=8",
               '--config.model.recurrent_layers=[{"units": 8}]')


@dataclasses.dataclass
class Outcome:
  status: str  # PASS | FAIL | SKIP | TIMEOUT
  seconds: float
  detail: str


class Check:
  """The settings of one run and the results its steps share."""

  def __init__(self, args: argparse.Namespace):
    self.smoke = args.smoke
    self.workdir = pathlib.Path(args.workdir).absolute()
    self.data_dir = pathlib.Path(args.data_dir).absolute()
    self.deadline = time.monotonic() + args.budget
    self.device_count = 0  # JAX's devices (`describe_devices`)
    self.workdir.mkdir(parents=True, exist_ok=True)
    self.env = dict(os.environ, PYTHONUNBUFFERED="1")
    if self.smoke:
      self.env.update(JAX_PLATFORMS="cpu", LSTM_JAX_GPU_CHECK_SMOKE="1")

  def command(self, name: str, argv: list[str], limit_s: float,
              env: Optional[dict[str, str]] = None) -> tuple[Optional[int], str, float]:
    """Runs argv with its output in `<name>.log`; (exit status or None on
    timeout, output, seconds)."""
    limit = min(limit_s * (SMOKE_SLOWDOWN if self.smoke else 1),
                self.deadline - time.monotonic())
    log = self.workdir / f"{name.replace(' ', '_')}.log"
    start = time.monotonic()
    if limit < 10:
      return None, "no time left in the budget", 0.0
    with open(log, "w", encoding="utf-8") as out:
      process = subprocess.Popen(argv, cwd=REPO_ROOT, env={**self.env, **(env or {})},
                                 stdout=out, stderr=subprocess.STDOUT, text=True)
      try:
        code = process.wait(timeout=limit)
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = None
    return code, log.read_text(encoding="utf-8", errors="replace"), time.monotonic() - start

  def train(self, name: str, implementation: str, num_devices: int, limit_s: float,
            env: Optional[dict[str, str]] = None) -> tuple[Optional[int], str, float]:
    """One epoch of the study's IMDB model, as `python -m lstm_jax.main` runs it."""
    train_file, test_file = (self.data_dir / f for f in IMDB_FILES)
    argv = [sys.executable, "-m", "lstm_jax.main", "--config=configs/sentiment_keras.py",
            f"--workdir={self.run_dir(name)}", "--restart",
            "--config.data.source=files", f"--config.data.train_files={train_file}",
            f"--config.data.test_files={test_file}",
            f"--config.data.tfds_data_dir={self.workdir / 'tfds'}",
            "--config.train.max_epochs=1", f"--config.train.num_devices={num_devices}",
            f"--config.model.implementation={implementation}"]
    return self.command(name, argv + list(SMOKE_MODEL if self.smoke else ()), limit_s, env)

  def run_dir(self, name: str) -> pathlib.Path:
    return self.workdir / name.replace(" ", "_")

  def results_of(self, name: str) -> dict:
    path = self.run_dir(name) / workdir_lib.RESULTS_FILE
    return workdir_lib.read_json(path) if path.exists() else {}


def outcome(code: Optional[int], output: str, seconds: float, detail: str = "") -> Outcome:
  if code is None:
    return Outcome("TIMEOUT", seconds, detail or output.strip()[-120:])
  if code != 0:
    tail = [line for line in output.strip().splitlines() if line.strip()][-1:] or [""]
    return Outcome("FAIL", seconds, f"exit {code}: {tail[0][:160]}")
  return Outcome("PASS", seconds, detail)


def run_tests(check: Check) -> Outcome:
  # float32 comparisons with float32 matmuls: no TF32 on the GPU.
  code, output, seconds = check.command(
      "tests", [sys.executable, "-m", "pytest", *TEST_FILES, "-q", "-p", "no:randomly",
                "-m", "not slow"], 240, {"JAX_DEFAULT_MATMUL_PRECISION": "highest"})
  counts = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)(?: in [\d.]+s.*)?\s*=*$", output,
                      re.MULTILINE)
  return outcome(code, output, seconds, counts[-1] if counts else "")


def epoch_detail(check: Check, name: str) -> str:
  results = check.results_of(name)
  if not results:
    return ""
  epoch = run_records.read_history(check.run_dir(name))[-1]
  rate = epoch["timed_tokens"] / max(epoch["timed_seconds"], 1e-9)
  return (f"test_accuracy {results['test_accuracy']:.4f}, test_loss {results['test_loss']:.4f}, "
          f"epoch {epoch['seconds']:.1f} s ({rate:,.0f} tokens/s after compiling)")


def run_imdb_fused(check: Check) -> Outcome:
  code, output, seconds = check.train("imdb fused", "fused", 1, 200)
  return outcome(code, output, seconds, epoch_detail(check, "imdb fused"))


def run_imdb_cudnn(check: Check) -> Outcome:
  code, output, seconds = check.train("imdb cudnn", "cudnn", 1, 120)
  if check.smoke:
    # No GPU: the command must get as far as the model and refuse it clearly.
    refused = code == 2 and "error: model.implementation=cudnn needs a CUDA GPU" in output
    return Outcome("PASS" if refused else "FAIL", seconds,
                   "refused on CPU as it should be" if refused else output.strip()[-160:])
  detail = epoch_detail(check, "imdb cudnn")
  fused = check.results_of("imdb fused")
  if code == 0 and fused:
    detail += f"; fused - cudnn accuracy {fused['test_accuracy'] - check.results_of('imdb cudnn')['test_accuracy']:+.4f}"
  return outcome(code, output, seconds, detail)


def run_benchmark(check: Check) -> Outcome:
  flags = ["--smoke", BENCHMARK_FLAGS[1]] if check.smoke else list(BENCHMARK_FLAGS)
  code, output, seconds = check.command(
      "benchmark", [sys.executable, "-m", "benchmarks.lstm_gpu", *flags], 150)
  rows = errors = 0
  for line in output.splitlines():
    if line.startswith('{"benchmark"'):
      results = json.loads(line)["results"]
      rows, errors = len(results), sum("error" in r for r in results)
  return outcome(code, output, seconds,
                 f"{rows} rows, {errors} with an error (table in benchmark.log)")


def run_two_devices(check: Check) -> Outcome:
  env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"} if check.smoke else None
  if not check.smoke and check.device_count < 2:
    return Outcome("SKIP", 0.0, f"{check.device_count} GPU: needs 2")
  code, output, seconds = check.train("imdb 2 devices", "fused", 2, 150, env)
  result = outcome(code, output, seconds, epoch_detail(check, "imdb 2 devices"))
  one, two = check.results_of("imdb fused"), check.results_of("imdb 2 devices")
  if result.status == "PASS" and one:
    # The same global batches, but each device draws its own dropout masks:
    # another sample of the same training, not the same numbers.
    difference = two["test_accuracy"] - one["test_accuracy"]
    if abs(difference) > TWO_DEVICE_ACCURACY_TOLERANCE:
      return Outcome("FAIL", seconds, f"test_accuracy {two['test_accuracy']:.4f} on 2 devices, "
                     f"{one['test_accuracy']:.4f} on 1")
    result.detail += f"; {difference:+.4f} vs 1 device"
  return result


STEPS: dict[str, Callable[[Check], Outcome]] = {
    "tests": run_tests, "imdb fused": run_imdb_fused, "imdb cudnn": run_imdb_cudnn,
    "benchmark": run_benchmark, "2 devices": run_two_devices}


def describe_devices(check: Check) -> str:
  """JAX's versions and devices, read in a child process (this one keeps the
  GPU's memory free); sets `check.device_count`."""
  code = ("import jax, jaxlib; d = jax.devices()[0]; print(len(jax.devices())); "
          "print(f'jax {jax.__version__}, jaxlib {jaxlib.__version__}, {len(jax.devices())} x "
          "{d.device_kind} ({jax.default_backend()})')")
  done = subprocess.run([sys.executable, "-c", code], env=check.env, capture_output=True,
                        text=True, check=False, timeout=120)
  if done.returncode != 0:
    return "jax does not start: " + (done.stderr.strip().splitlines() or [""])[-1]
  count, line = done.stdout.strip().splitlines()[-2:]
  check.device_count = int(count)
  return line


def summary(outcomes: dict[str, Outcome]) -> str:
  width = max(len(name) for name in outcomes)
  lines = [f"{'check':<{width}}  result   seconds  detail"]
  for name, o in outcomes.items():
    lines.append(f"{name:<{width}}  {o.status:<7}  {o.seconds:7.1f}  {o.detail}")
  return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--smoke", action="store_true", help="tiny, on CPU")
  parser.add_argument("--workdir", default="/tmp/lstm_jax_gpu_check")
  parser.add_argument("--data-dir", default=os.environ.get(
      "LSTM_JAX_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data")))
  parser.add_argument("--budget", type=float, default=None,
                      help=f"seconds for all steps together (450; {SMOKE_BUDGET:.0f} with --smoke)")
  parser.add_argument("--steps", default=",".join(STEPS))
  args = parser.parse_args(argv)
  unknown = set(args.steps.split(",")) - set(STEPS)
  if unknown:
    parser.error(f"--steps: no step {', '.join(sorted(unknown))}; the steps are "
                 f"{', '.join(STEPS)}")
  if args.budget is None:
    args.budget = SMOKE_BUDGET if args.smoke else 450.0
  check = Check(args)
  print(describe_devices(check), flush=True)
  missing = [f for f in IMDB_FILES if not (check.data_dir / f).exists()]
  outcomes = {}
  for name, run in STEPS.items():
    if name not in args.steps.split(","):
      continue
    if missing and name not in ("tests", "benchmark"):  # the others train on IMDB
      outcomes[name] = Outcome("SKIP", 0.0, f"no {check.data_dir / missing[0]}")
    else:
      outcomes[name] = run(check)
    print(f"{name}: {outcomes[name].status} ({outcomes[name].seconds:.0f} s)", flush=True)
  table = summary(outcomes)
  print("\n" + table)
  (check.workdir / "summary.txt").write_text(table + "\n")
  return 1 if any(o.status in ("FAIL", "TIMEOUT") for o in outcomes.values()) else 0


if __name__ == "__main__":
  sys.exit(main())
