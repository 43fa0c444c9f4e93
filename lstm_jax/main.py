r"""Trains and evaluates an LSTM text classifier.

  python -m lstm_jax.main --config=configs/sentiment_glove.py --workdir=runs/sentiment_glove

Any config key can be overridden, e.g. `--config.train.learning_rate=3e-4`;
list-valued keys take a comma-separated string. Rerunning the same command
resumes an interrupted run and prints the results of a finished one.
Multi-process runs call `jax.distributed.initialize` (see README "Scaling out").
"""

import os
import shlex
import shutil
import sys

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
                               process_id=_PROCESS_ID.value)
  elif cluster and int(os.environ.get("SLURM_NTASKS", "2")) > 1:
    jax.distributed.initialize()


def quiet_libraries() -> None:
  """Keeps the output to the run's own lines; library chatter goes to --verbosity."""
  import logging as std_logging  # pylint: disable=g-import-not-at-top
  for name in ("tensorflow_datasets", "jax._src.xla_bridge", "absl"):
    std_logging.getLogger(name).setLevel(std_logging.ERROR)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if not sys.stderr.isatty():
    tfds.disable_progress_bar()


def record_command(workdir: str) -> None:
  """Keeps the command line in the workdir, so reports can show how to rerun."""
  import jax  # pylint: disable=g-import-not-at-top
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "command.txt"), "w", encoding="utf-8") as f:
      f.write(" ".join(["python -m lstm_jax.main", *map(shlex.quote, sys.argv[1:])]) + "\n")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if logging.get_verbosity() <= logging.INFO:
    quiet_libraries()
  from lstm_jax import train  # pylint: disable=g-import-not-at-top
  try:
    initialize_distributed()
    if _RESTART.value and os.path.isdir(_WORKDIR.value):
      logging.warning("--restart: deleting %s", _WORKDIR.value)
      shutil.rmtree(_WORKDIR.value)
    record_command(_WORKDIR.value)
    results = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except train.USER_ERRORS as e:
    if _TRACEBACK.value:
      raise
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(train.results_line(results))


if __name__ == "__main__":
  app.run(main)
