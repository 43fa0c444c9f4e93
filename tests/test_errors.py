"""The command line's two kinds of failure: a `UserError` is one `error: ...`
line and exit code 2; any other exception is a bug and keeps its traceback."""

import subprocess
import sys
import textwrap

import pytest

from lstm_jax import datasets
from lstm_jax import errors
from lstm_jax import serving
from lstm_jax.config import validation as config_validation
from lstm_jax.study import report
from lstm_jax.text import glove
from lstm_jax.training import checkpoints
from lstm_jax.training import train
from lstm_jax.training import workdir_lock
from conftest import REPO_ROOT

# `python -m lstm_jax.main` with `train_and_evaluate` replaced by one raising
# the exception given as the first argument.
MAIN_RAISING = textwrap.dedent("""
    import sys
    from absl import app
    from lstm_jax import errors
    from lstm_jax import main
    from lstm_jax.training import train
    exception = eval(sys.argv.pop(1))
    def fail(*args, **kwargs):
      raise exception
    train.train_and_evaluate = fail
    app.run(main.main, flags_parser=main.parse_flags)
""")


def run_main(exception: str, tmp_path) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, "-c", MAIN_RAISING, exception, "--config=configs/default.py",
       f"--workdir={tmp_path}"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("error", [
    config_validation.ConfigError, datasets.DataError, checkpoints.CheckpointError,
    checkpoints.DamagedCheckpointError, workdir_lock.WorkdirLockedError,
    serving.WorkdirError, glove.GloveFormatError, glove.DownloadError, report.RunError,
    train.NonFiniteLossError, train.DivergedError, errors.MissingFileError, errors.BadValueError,
    errors.WriteError, errors.MissingDependencyError])
def test_every_error_the_user_can_fix_is_a_user_error(error):
  assert issubclass(error, errors.UserError)


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path):
  done = run_main("errors.BadValueError('data.max_length=0: must be >= 1')", tmp_path)

  assert done.returncode == 2
  assert done.stderr == "error: data.max_length=0: must be >= 1\n"


@pytest.mark.parametrize("bug", ["ValueError('shapes do not match')",
                                 "OSError(5, 'input/output error')"])
def test_any_other_exception_keeps_its_traceback(bug, tmp_path):
  done = run_main(bug, tmp_path)

  assert done.returncode == 1
  assert "Traceback (most recent call last)" in done.stderr
  assert "error: " not in done.stderr


def run_command(*flags: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "lstm_jax.main", *flags], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("overrides", [(), ("--config.train.max_epochs=3",)])
def test_a_misspelt_config_path_is_one_line_naming_the_likely_file(overrides, tmp_path):
  done = run_command("--config=configs/sentimnt_glove.py", f"--workdir={tmp_path}", *overrides)

  assert done.returncode == 2
  assert done.stderr == ("error: --config=configs/sentimnt_glove.py: no such config file; "
                         "did you mean configs/sentiment_glove.py?\n")


def test_a_key_of_the_first_releases_names_the_key_that_replaced_it(tmp_path):
  done = run_command("--config=configs/default.py", f"--workdir={tmp_path}",
                     "--config.model.units=128")

  assert done.returncode == 2
  assert done.stderr == ("error: --config.model.units: unknown config key; model.units of an "
                         "earlier release is now model.recurrent_layers: pass "
                         """--config.model.recurrent_layers='[{"units": 128}]'\n""")


def test_a_misspelt_key_is_answered_with_the_nearest_one(tmp_path):
  done = run_command("--config=configs/default.py", f"--workdir={tmp_path}",
                     "--config.train.max_epoch=3")

  assert done.returncode == 2
  assert done.stderr == ("error: --config.train.max_epoch: unknown config key; did you mean "
                         "train.max_epochs?\n")


def test_help_says_which_flags_are_required():
  done = run_command("--help")

  assert "--config and --workdir are required" in done.stdout
  assert "--workdir: Required" in done.stdout
  assert "Scaling out" not in done.stdout


def test_exit_with_prints_the_message_and_exits_2(capsys):
  with pytest.raises(SystemExit) as exited:
    errors.exit_with(errors.MissingFileError("--input file texts.txt not found"))

  assert exited.value.code == 2
  assert capsys.readouterr().err == "error: --input file texts.txt not found\n"
