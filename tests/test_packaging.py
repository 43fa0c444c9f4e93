"""The package installs on its own: `pip install .` holds every module it imports,
and the README's install makes the Python API importable from any folder."""

import ast
import inspect
import pathlib
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib

import pytest

from lstm_jax import api
from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "lstm_jax"


def _requirements() -> list[str]:
  lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
  return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_package_declares_the_runtime_requirements():
  project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
  assert project["dependencies"] == _requirements()


def test_every_folder_of_the_package_is_a_package():
  folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
  assert all((folder / "__init__.py").is_file() for folder in folders)


def test_the_library_never_imports_the_experiment_configs():
  importers = []
  for path in PACKAGE.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
      names = ([a.name for a in node.names] if isinstance(node, ast.Import)
               else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
      if any(name == "configs" or name.startswith("configs.") for name in names):
        importers.append(str(path.relative_to(REPO_ROOT)))
  assert not importers, f"the installed package has no configs/: {importers}"


# What a clone holds that installing the package reads.
INSTALLED_FROM = ("pyproject.toml", "README.md", "requirements.txt", "constraints.txt",
                  ".gitignore", "lstm_jax")


def readme_install_command() -> list[str]:
  """The arguments of the README's `pip install` that installs the package itself."""
  section = (REPO_ROOT / "README.md").read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
  commands = [shlex.split(line, comments=True) for line in section.splitlines()
              if line.startswith("pip install")]
  installs_package = [c[2:] for c in commands if "." in c or "-e" in c]
  assert len(installs_package) == 1, f"one README command installs the package: {commands}"
  return installs_package[0]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_readme_install_makes_the_api_importable_from_another_folder(tmp_path):
  # A clone named like the package, and a script beside it: the folder must not
  # shadow the installed package.
  clone = tmp_path / "lstm_jax"
  clone.mkdir()
  for name in INSTALLED_FROM:
    copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy
    copy(REPO_ROOT / name, clone / name,
         **({"ignore": shutil.ignore_patterns("__pycache__")}
            if (REPO_ROOT / name).is_dir() else {}))
  subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
  subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
  # A fresh environment that finds the dependencies where this interpreter does;
  # the package is built offline (no index, the installed setuptools).
  venv = tmp_path / "venv"
  subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
  python = venv / "bin" / "python"
  site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        check=True, capture_output=True, text=True).stdout.strip()
  pathlib.Path(site, "dependencies.pth").write_text(
      "\n".join({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}) + "\n")
  subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
                  "--no-deps", "--no-index", "--no-build-isolation", *readme_install_command()],
                 cwd=clone, check=True)
  untracked = subprocess.run(["git", "status", "--porcelain"], cwd=clone, check=True,
                             capture_output=True, text=True).stdout
  assert "??" not in untracked, f"the install left files git does not ignore:\n{untracked}"
  script = tmp_path / "script.py"
  script.write_text("import inspect, lstm_jax\n"
                    "print(inspect.signature(lstm_jax.fit))\n"
                    "print(lstm_jax.fit.__doc__ == lstm_jax.api.fit.__doc__)\n")
  shown = subprocess.run([python, script.name], cwd=tmp_path, check=True, capture_output=True,
                         text=True).stdout.splitlines()
  assert shown == [str(inspect.signature(api.fit)), "True"]


def test_help_shows_the_signature_and_docstring_of_fit():
  import lstm_jax  # pylint: disable=g-import-not-at-top
  assert lstm_jax.fit is api.fit
  assert "fit" in dir(lstm_jax)


def test_ci_runs_every_suite_the_default_one_leaves_out():
  pytest_options = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
      "ini_options"]
  markers = [marker.split(":")[0] for marker in pytest_options["markers"]]
  assert {"slow", "keras"} <= set(markers)
  ci = (REPO_ROOT / ".ci" / "run").read_text()
  for marker in markers:
    assert f"not {marker}" in pytest_options["addopts"]
    assert f"pytest -m {marker}" in ci, marker
