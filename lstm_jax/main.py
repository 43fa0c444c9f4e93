r"""Trains and evaluates an LSTM text classifier.

  python -m lstm_jax.main --config=configs/sentiment_glove.py --workdir=runs/sentiment_glove

--config and --workdir are required; any config key can be overridden, e.g.
--config.train.learning_rate=3e-4 (docs/USAGE.md: local files, offline data). The
same command again resumes a run, or trains a finished one further with a larger
--config.train.max_epochs. Several processes: docs/SCALING.md.
"""

import difflib
import json
import os
import pathlib
import shlex
import sys
import traceback

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Required: the experiment's config file, e.g. configs/sentiment_glove.py.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Required: the folder for everything about the run (created).")
_RESTART = flags.DEFINE_bool("restart", False,
                             "Delete the workdir's previous run and start over.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0, for multi-process runs.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False,
    "Join a multi-process run that jax.distributed detects itself (Cloud TPU VM pods, "
    "Open MPI); implied by --coordinator_address / --num_processes and by SLURM.")
_HEARTBEAT_TIMEOUT = flags.DEFINE_integer(
    "heartbeat_timeout_seconds", 100,
    "Multi-process runs: seconds without news from a process after which it counts as "
    "dead and the other processes stop with an error.")
_TRACEBACK = flags.DEFINE_bool("traceback", False, "Show the traceback of an error.")
flags.mark_flags_as_required(["config", "workdir"])


def initialize_distributed() -> None:
  """Joins a multi-process run when flags or the cluster environment ask for it."""
  import jax  # pylint: disable=g-import-not-at-top
  explicit = _COORDINATOR.value is not None or _NUM_PROCESSES.value is not None
  cluster = any(v in os.environ for v in ("SLURM_NTASKS", "TPU_WORKER_HOSTNAMES",
                                          "JAX_COORDINATOR_ADDRESS"))
  if explicit:
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                               num_processes=_NUM_PROCESSES.value,
                               process_id=_PROCESS_ID.value,
                               heartbeat_timeout_seconds=_HEARTBEAT_TIMEOUT.value)
  elif _DISTRIBUTED.value or (cluster and int(os.environ.get("SLURM_NTASKS", "2")) > 1):
    jax.distributed.initialize(heartbeat_timeout_seconds=_HEARTBEAT_TIMEOUT.value)


def leave(code: int) -> None:
  """Exits with `code`. A failed process of a multi-process run exits at once,
  skipping JAX's shutdown barrier (which would wait minutes for the others): they
  then see it gone and stop within the heartbeat timeout."""
  import jax  # pylint: disable=g-import-not-at-top
  if jax.distributed.is_initialized():
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access
  sys.exit(code)


def quiet_libraries() -> None:
  """Keeps the output to the run's own lines; library chatter goes to --verbosity."""
  import logging as std_logging  # pylint: disable=g-import-not-at-top
  for name in ("tensorflow_datasets", "jax._src.xla_bridge", "jax._src.distributed", "absl"):
    std_logging.getLogger(name).setLevel(std_logging.ERROR)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if not sys.stderr.isatty():
    tfds.disable_progress_bar()


# A launcher that runs this module for its user (launch/study.sh) sets this to
# the command its user typed, which is then the run's command.
LAUNCHER_ENV = "LSTM_JAX_LAUNCHER"


def record_command(workdir: str) -> None:
  """Keeps the command line of a finished run, so reports can show how to rerun it."""
  import jax  # pylint: disable=g-import-not-at-top
  from lstm_jax import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  if jax.process_index() == 0:
    command = os.environ.get(LAUNCHER_ENV) or " ".join(
        ["python -m lstm_jax.main", *map(shlex.quote, sys.argv[1:])])
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, workdir_lib.COMMAND_FILE), "w", encoding="utf-8") as f:
      f.write(command + "\n")


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing; a bad flag (a config file that is not there, an
  unknown config key, a value of the wrong type, a missing --workdir) is an
  `error: ...` line and exit code 2."""
  try:
    remaining = flags.FLAGS(argv)
    message = missing_config_file(argv)
    if not message:
      return remaining
  except flags.Error as e:
    message = str(e)
  except (AttributeError, KeyError) as e:  # config_flags: an unknown key
    message = "; ".join(unknown_config_keys(argv)) or f"unknown config key: {e}"
  except OSError:  # config_flags: an override of a config file that did not load
    message = missing_config_file(argv)
    if not message:
      raise
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def missing_config_file(argv: list[str]) -> str:
  """What is wrong with a --config naming no file, with the likely one; "" if it is there."""
  given = next((value for flag, value in zip(argv, argv[1:] + [""]) if flag == "--config"),
               next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None))
  path = pathlib.Path((given or "").split(":", 1)[0])
  if given is None or path.is_file():
    return ""
  folder = path.parent
  near = (difflib.get_close_matches(path.name, [p.name for p in folder.glob("*.py")], n=1)
          if folder.is_dir() else [])
  hint = (f"; did you mean {folder / near[0]}?" if near else
          f" ({folder} holds no such file)" if folder.is_dir() else
          f" (there is no folder {folder} in {os.getcwd()})")
  return f"--config={given}: no such config file{hint}"


def unknown_config_keys(argv: list[str]) -> list[str]:
  """What is wrong with each --config.KEY flag that names no key of the schema,
  and what to write instead."""
  from lstm_jax import errors  # pylint: disable=g-import-not-at-top
  from lstm_jax.config import schema  # pylint: disable=g-import-not-at-top
  known = set(schema.known_keys())
  problems = []
  for i, arg in enumerate(argv):
    if not arg.startswith("--config."):
      continue
    key, has_value, value = arg[len("--config."):].partition("=")
    if key in known:
      continue
    if not has_value and i + 1 < len(argv):
      value = argv[i + 1]
    problems.append(f"--config.{key}: unknown config key; "
                    + schema.unknown_key_hint(key, _flag_value(value), errors.COMMAND_LINE))
  return problems


def _flag_value(text: str):
  """A flag's value as config_flags reads a literal: JSON, True / False, else the text."""
  try:
    return json.loads(text)
  except ValueError:
    return {"True": True, "False": False}.get(text, text)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if logging.get_verbosity() <= logging.INFO:
    quiet_libraries()
  import jax  # pylint: disable=g-import-not-at-top
  from lstm_jax.training import console  # pylint: disable=g-import-not-at-top
  from lstm_jax import errors  # pylint: disable=g-import-not-at-top
  from lstm_jax.training import train  # pylint: disable=g-import-not-at-top
  console.use_plain_log_lines()
  try:
    initialize_distributed()
    results = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value, restart=_RESTART.value)
    record_command(_WORKDIR.value)
  except train.preemption.Interrupted as e:
    print(e, file=sys.stderr)
    leave(e.exit_code)
  except KeyboardInterrupt:
    print("interrupted at once; rerun the same command to resume from the last "
          "checkpoint.", file=sys.stderr)
    leave(130)
  except errors.UserError as e:
    if _TRACEBACK.value:
      raise
    print(f"error: {e}", file=sys.stderr)
    leave(errors.EXIT_CODE)
  except Exception:  # pylint: disable=broad-except
    if not jax.distributed.is_initialized():
      raise
    traceback.print_exc()
    leave(1)
  if jax.process_index() == 0:
    print(train.results_line(results))


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
