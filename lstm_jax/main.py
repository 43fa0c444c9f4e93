r"""Trains and evaluates an LSTM text classifier.

  python -m lstm_jax.main --config=configs/sentiment_glove.py --workdir=runs/sentiment_glove

Any config key can be overridden, e.g. `--config.train.learning_rate=3e-4`;
list-valued keys take a comma-separated string. Rerunning the same command
resumes an interrupted run and prints the results of a finished one.
Multi-process runs call `jax.distributed.initialize` (see README "Scaling out").
"""

import os
import shlex
import sys
import traceback

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for everything about the run.")
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
  """absl's flag parsing; a bad flag (an unknown config key, a value of the
  wrong type, a missing --workdir) is an `error: ...` line and exit code 2."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}", file=sys.stderr)
  except (AttributeError, KeyError) as e:  # config_flags: an unknown key
    detail = str(e).strip("'").replace("\\'", "'").replace("\\n", "; ")
    print(f"error: unknown config key in a --config.* flag: {detail}", file=sys.stderr)
  sys.exit(2)


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
