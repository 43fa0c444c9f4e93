"""Faults injected into the real command: SIGKILL at random moments, SIGINT and
SIGTERM, two runs in one workdir. Each run is compared with an uninterrupted
run of the same command (see tests/fault_harness.py)."""

import collections
import json
import os
import random
import signal
import time

import pytest

import fault_harness as fh

MAX_EPOCHS = 5  # fault_harness.Runner's train.max_epochs


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
  scratch = tmp_path_factory.mktemp("faults")
  return fh.Runner(fh.write_reviews(scratch / "reviews.csv"), scratch)


@pytest.fixture(scope="module")
def reference(runner):
  """An uninterrupted run (it also fills the compilation cache) and its duration."""
  start = time.monotonic()
  finished = runner.run(runner.scratch / "reference")
  assert finished.returncode == 0, finished.stderr
  return runner.scratch / "reference", time.monotonic() - start


def assert_consistent_after_kill(workdir):
  """What a killed run leaves: whole files and one metrics line per epoch."""
  if (workdir / "metrics.jsonl").exists():
    epochs = [json.loads(line)["epoch"]
              for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, len(epochs) + 1))
  if (workdir / "results.json").exists():
    json.loads((workdir / "results.json").read_text())


def kill_and_resume(runner, reference, kills, seed):
  """SIGKILLs the command `kills` times at random moments, restarting it after
  each kill, and checks that every run ends as the reference run did.

  The moments: a random delay within a whole run, the moment orbax is writing
  a checkpoint, or a random instant shortly after an epoch's checkpoint.
  """
  reference_dir, duration = reference
  rng = random.Random(seed)
  hits, restarts, runs, killed = collections.Counter(), 0, 0, []
  while sum(hits.values()) < kills:
    workdir = runner.scratch / f"seed{seed}_run{runs}"
    runs += 1
    while True:
      process = runner.start(workdir)
      restarts += 1
      moment = rng.choice(["random", "checkpoint write", "after epoch"])
      if moment == "random":
        trigger = fh.after(rng.uniform(0, duration))
      elif moment == "checkpoint write":
        trigger = fh.writing_checkpoint(workdir)
      else:
        trigger = fh.epoch_saved(workdir, rng.randint(1, MAX_EPOCHS), rng.uniform(0, 0.3))
      hit = fh.kill_when(process, workdir, trigger)
      if hit is None:
        finished = fh.Finished.of(process)
        assert finished.returncode == 0, finished.stderr
        break
      hits[hit] += 1
      assert_consistent_after_kill(workdir)
      killed.append(process.pid)
      if (workdir / ".lock").exists():  # a dead holder, which must not block the restart
        assert json.loads((workdir / ".lock").read_text() or "{}").get("pid") in killed + [None]
      if sum(hits.values()) == kills:
        finished = runner.run(workdir)
        restarts += 1
        assert finished.returncode == 0, finished.stderr
        break
    assert fh.differences(workdir, reference_dir) == [], f"seed {seed}, {workdir}"
  print(f"\nkill harness (seed {seed}): {kills} SIGKILLs ({hits['checkpoint write']} during "
        f"a checkpoint write), {restarts} starts, {runs} runs, every run identical "
        "to the uninterrupted one; no restart blocked by the killed run's lock")


def test_sigkill_at_random_moments_then_resume_is_exact(runner, reference):
  kill_and_resume(runner, reference, kills=5,
                  seed=int(os.environ.get("LSTM_JAX_FAULT_SEED", time.time_ns() % 10**6)))


@pytest.mark.slow
def test_twenty_sigkills_then_resume_is_exact(runner, reference):
  kill_and_resume(runner, reference, kills=20,
                  seed=int(os.environ.get("LSTM_JAX_FAULT_SEED", time.time_ns() % 10**6)))


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, marks=pytest.mark.slow),
                                    signal.SIGTERM])
def test_signal_stops_cleanly_and_resume_is_exact(runner, reference, signum):
  workdir = runner.scratch / f"signal{signum}"
  process = runner.start(workdir)
  assert fh.kill_when(process, workdir, fh.epoch_saved(workdir, 2), signum=signum)
  stopped = fh.Finished.of(process)
  assert stopped.returncode == 128 + signum
  name = signal.Signals(signum).name
  assert f"{name}: stopped " in stopped.stderr
  assert "Rerun the same command to resume." in stopped.stderr
  assert "Traceback" not in stopped.stderr
  assert (workdir / "checkpoints" / "2").is_dir()
  assert not (workdir / "results.json").exists()
  resumed = runner.run(workdir)
  assert resumed.returncode == 0, resumed.stderr
  assert fh.differences(workdir, reference[0]) == []


def test_second_run_in_a_workdir_is_refused(runner, reference):
  workdir = runner.scratch / "locked"
  first = runner.start(workdir)
  # Freeze the first run once it holds the workdir, so that it still holds it.
  fh.kill_when(first, workdir, fh.epoch_saved(workdir, 1), signum=signal.SIGSTOP)
  try:
    second = runner.run(workdir)
  finally:
    first.send_signal(signal.SIGCONT)
  assert second.returncode == 2
  assert f"another run is using this workdir: process {first.pid}" in second.stderr
  assert "Traceback" not in second.stderr
  first.wait(120)
  assert fh.Finished.of(first).returncode == 0
  assert fh.differences(workdir, reference[0]) == []
