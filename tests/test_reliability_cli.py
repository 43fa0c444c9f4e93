"""Bad configs and a diverging run through the real command line: each is one
`error: ...` line naming the problem, exit code 2, no traceback, and nothing
trained (errors of the config come before any compilation)."""

import shutil

import pytest

import fault_harness as fh


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
  scratch = tmp_path_factory.mktemp("cli")
  return fh.Runner(fh.write_reviews(scratch / "reviews.csv", n=200), scratch,
                   overrides=("--config.train.max_epochs=1",))


@pytest.fixture(scope="module")
def finished(runner):
  """A workdir of a finished one-epoch run."""
  workdir = runner.scratch / "finished"
  result = runner.run(workdir)
  assert result.returncode == 0, result.stderr
  return workdir


def assert_user_error(result, *fragments):
  assert result.returncode == 2, result.stderr
  assert "Traceback" not in result.stderr
  assert result.stderr.startswith("error: ") or "\nerror: " in result.stderr
  for fragment in fragments:
    assert fragment in result.stderr


@pytest.mark.parametrize("flag, fragments", [
    ("--config.model.unitz=3", ["unknown config key", "unitz"]),
    ("--config.train.batch_size=abc", ["--config.train.batch_size=abc",
                                       "invalid literal for int()"]),
    ("--config.model.head_dropout=1.5", ["model.head_dropout=1.5: must be in [0.0, 1.0)"]),
    ('--config.model.recurrent_layers=[{"units": 8, "unit": 3}]',
     ["model.recurrent_layers[0]: unknown field 'unit'"]),
    ("--config.model.recurrent_layers=[{units: 8}]", ["model.recurrent_layers=", "is not JSON"]),
    ("--config.data.train_files=missing.csv", ["missing.csv"]),
    ("--config.embedding.kind=glove", ["embedding.path is empty"]),
])
def test_config_errors_are_reported_before_anything_runs(runner, tmp_path, flag, fragments):
  workdir = tmp_path / "workdir"
  assert_user_error(runner.run(workdir, flag), *fragments)
  assert not (workdir / "checkpoints").exists()


def test_glove_file_of_the_wrong_dimension(runner, tmp_path):
  glove = tmp_path / "glove.3d.txt"
  glove.write_text("the 0.1 0.2 0.3\nfilm 0.4 0.5 0.6\n")
  workdir = tmp_path / "workdir"
  result = runner.run(workdir, "--config.embedding.kind=glove",
                      f"--config.embedding.path={glove}")
  assert_user_error(result, "3-dimensional vectors but embedding.dim is 8")
  assert not (workdir / "checkpoints").exists()


def test_a_changed_config_in_a_workdir_needs_restart(runner, finished):
  result = runner.run(finished, '--config.model.recurrent_layers=[{"units": 16}]')
  assert_user_error(result, "differs in: model.recurrent_layers", "--restart")


def test_checkpoints_of_another_config_are_incompatible(runner, finished, tmp_path):
  workdir = tmp_path / "workdir"
  shutil.copytree(finished / "checkpoints", workdir / "checkpoints")
  result = runner.run(workdir, '--config.model.recurrent_layers=[{"units": 16}]')
  assert_user_error(result, "does not fit the current model", "another config")


def test_a_diverging_run_names_epoch_and_step_and_hints(runner, tmp_path):
  result = runner.run(tmp_path / "workdir", "--config.train.learning_rate=1e38",
                      "--config.train.clip_mode=none")
  assert_user_error(result, "non-finite at epoch 1, step", "Lower train.learning_rate",
                    "clip_mode=none")
