"""The errors a user can fix, and how the command line shows them.

Every error whose message tells the user what to do (a missing or damaged file,
a bad config key or flag, a locked workdir) derives from `UserError`; the
command line prints it as one `error: ...` line and exits with `EXIT_CODE`.
Any other exception is a bug and keeps its traceback.
"""

import dataclasses
import json
import shlex
import sys
from typing import Any, NoReturn

EXIT_CODE = 2


class UserError(Exception):
  """Bad input the user can fix; the message names the file, line, key or flag
  and what to do."""


class MissingFileError(UserError, FileNotFoundError):
  """A file the user named, or the run needs, does not exist."""


class BadValueError(UserError, ValueError):
  """A flag value or a file's content that cannot be used."""


class WriteError(UserError, OSError):
  """A file could not be written (no space, no permission)."""


class MissingDependencyError(UserError, ImportError):
  """An optional package a command needs is not installed."""


@dataclasses.dataclass(frozen=True)
class Spelling:
  """How a message names what its reader can pass: the command's flags, or the
  arguments of a Python call such as `lstm_jax.fit`."""
  restart: str  # what deletes the previous run of a workdir
  command_line: bool  # flags (JSON values, quoted for a shell), else Python literals

  def key(self, key: str, value: Any) -> str:
    """`key` set to `value`, as the reader writes it."""
    if self.command_line:
      return f"--config.{key}={shlex.quote(json.dumps(value))}"
    return f"overrides={{{key!r}: {value!r}}}"


COMMAND_LINE = Spelling(restart="--restart", command_line=True)
PYTHON = Spelling(restart="restart=True", command_line=False)


class NoKerasEquivalentError(UserError, ValueError):
  """A run's setting has no counterpart in Keras, so Keras cannot train its twin."""


def exit_with(error: UserError) -> NoReturn:
  """Prints `error` as one line on stderr and exits with `EXIT_CODE`."""
  print(f"error: {error}", file=sys.stderr)
  sys.exit(EXIT_CODE)
