"""Tests for lstm_jax.training.workdir_lock: one run per workdir, stale locks free."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from lstm_jax.training import workdir_lock
from conftest import REPO_ROOT


_HOLD = """
import sys, time
from lstm_jax.training import workdir_lock
lock = workdir_lock.WorkdirLock(sys.argv[1])
lock.acquire()
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
  """A separate process that holds the lock on tmp_path until killed."""
  process = subprocess.Popen(
      [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE,
      env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, text=True)
  try:
    assert process.stdout.readline() == "holding\n"
    yield process
  finally:
    process.kill()
    process.wait()


def test_lock_file_names_the_holder(tmp_path):
  with workdir_lock.WorkdirLock(str(tmp_path)):
    holder_info = json.loads((tmp_path / ".lock").read_text())
  assert holder_info["pid"] == os.getpid()
  assert holder_info["host"] == socket.gethostname()
  assert holder_info["started"]


def test_creates_a_missing_workdir(tmp_path):
  workdir = tmp_path / "new" / "run"
  with workdir_lock.WorkdirLock(str(workdir)):
    assert (workdir / ".lock").exists()


def test_second_run_is_refused_naming_the_holder(tmp_path, holder):
  with pytest.raises(workdir_lock.WorkdirLockedError,
                     match=rf"process {holder.pid} on host .*use another workdir"):
    workdir_lock.WorkdirLock(str(tmp_path)).acquire()


def test_lock_of_a_killed_process_does_not_block(tmp_path, holder):
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  with workdir_lock.WorkdirLock(str(tmp_path)):
    holder_info = json.loads((tmp_path / ".lock").read_text())
  assert holder_info["pid"] == os.getpid()


def test_two_locks_in_one_process_also_exclude_each_other(tmp_path):
  with workdir_lock.WorkdirLock(str(tmp_path)):
    with pytest.raises(workdir_lock.WorkdirLockedError,
                       match=rf"process {os.getpid()}"):
      workdir_lock.WorkdirLock(str(tmp_path)).acquire()


def test_released_on_exception(tmp_path):
  with pytest.raises(KeyError):
    with workdir_lock.WorkdirLock(str(tmp_path)):
      raise KeyError("training failed")
  with workdir_lock.WorkdirLock(str(tmp_path)):
    pass


def test_acquiring_twice_is_an_error(tmp_path):
  lock = workdir_lock.WorkdirLock(str(tmp_path))
  with lock:
    with pytest.raises(RuntimeError, match="already held"):
      lock.acquire()


def test_releasing_deletes_the_lock_file_and_the_workdir_can_be_locked_again(tmp_path):
  lock = workdir_lock.WorkdirLock(str(tmp_path))
  with lock:
    assert (tmp_path / ".lock").exists()
  assert not (tmp_path / ".lock").exists()
  with workdir_lock.WorkdirLock(str(tmp_path)):
    assert (tmp_path / ".lock").exists()


def test_a_lock_taken_on_a_file_deleted_meanwhile_moves_to_the_new_file(tmp_path, monkeypatch):
  """The race of deleting on release: a process that opened the old file locks it
  after the holder deleted it; it must lock the file now at the path instead."""
  real_flock = workdir_lock.fcntl.flock
  calls = []

  def flock_after_the_holder_left(fd, operation):
    if not calls:  # the first attempt: the holder deletes its file under our feet
      (tmp_path / ".lock").unlink()
    calls.append(fd)
    return real_flock(fd, operation)

  monkeypatch.setattr(workdir_lock.fcntl, "flock", flock_after_the_holder_left)
  with workdir_lock.WorkdirLock(str(tmp_path)) as lock:
    assert len(calls) == 2
    assert os.fstat(lock._fd).st_ino == os.stat(tmp_path / ".lock").st_ino
