"""One run per workdir: an exclusive `flock` on `<workdir>/.lock`.

The lock belongs to the open file, so the kernel releases it when the holding
process exits for any reason, SIGKILL included: a lock left behind by a killed
run never blocks the next one. The file also records who holds the lock (pid,
host, start time) so that a refused run can name the holder. The holder
deletes the file when it releases the lock, so a finished workdir holds none;
a process that locked a file which was deleted meanwhile takes the lock again
on the new file (checked by inode), so two processes never both hold it.

`flock` is advisory and per host: on a network filesystem it may not reach
other machines, so two hosts must not share a workdir.
"""

import datetime
import fcntl
import json
import os
import socket
from typing import Any, Optional

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib


class WorkdirLockedError(errors.UserError, RuntimeError):
  """Another live process holds the workdir."""


class WorkdirLock:
  """Context manager holding the workdir's lock.

  Usage:

    with WorkdirLock(workdir):
      train(...)

  Raises WorkdirLockedError on entry when another process holds the lock.
  """

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, workdir_lib.LOCK_FILE)
    self._fd: Optional[int] = None

  def acquire(self) -> None:
    """Takes the lock without waiting; creates the workdir if needed.

    Raises:
      WorkdirLockedError: another process holds it; the message names it.
    """
    if self._fd is not None:
      raise RuntimeError(f"{self.path} is already held by this WorkdirLock")
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        holder = _describe(_read_holder(fd))
        os.close(fd)
        raise WorkdirLockedError(
            f"another run is using this workdir: {holder} holds {self.path}. "
            "Wait for it to finish, stop it, or use another workdir."
        ) from None
      except BaseException:
        os.close(fd)
        raise
      if _is_current(fd, self.path):
        break
      # The holder deleted this file between our open and our lock: try the new one.
      os.close(fd)
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    self._fd = fd

  def release(self) -> None:
    """Deletes the lock file, then releases the lock."""
    if self._fd is None:
      return
    # Deleted while still locked, so no one can take the lock on a file that
    # is about to vanish; closing the descriptor drops the flock.
    try:
      os.unlink(self.path)
    except FileNotFoundError:
      pass
    os.close(self._fd)
    self._fd = None

  def __enter__(self) -> "WorkdirLock":
    self.acquire()
    return self

  def __exit__(self, *exc_info: Any) -> None:
    self.release()


def _is_current(fd: int, path: str) -> bool:
  """Whether the locked descriptor is still the file at `path`."""
  try:
    return os.stat(path).st_ino == os.fstat(fd).st_ino
  except FileNotFoundError:
    return False


def _read_holder(fd: int) -> Optional[dict[str, Any]]:
  """The holder recorded in the lock file, None if unreadable."""
  try:
    holder = json.loads(os.pread(fd, 4096, 0).decode())
  except (OSError, UnicodeDecodeError, json.JSONDecodeError):
    return None
  return holder if isinstance(holder, dict) else None


def _describe(holder: Optional[dict[str, Any]]) -> str:
  if holder is None:
    return "a process (details not yet written)"
  return (f"process {holder.get('pid')} on host {holder.get('host')} "
          f"(started {holder.get('started')})")
