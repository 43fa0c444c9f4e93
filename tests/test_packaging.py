"""The package installs on its own: `pip install .` holds every module it imports."""

import ast
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lstm_jax"


def _requirements() -> list[str]:
  lines = (ROOT / "requirements.txt").read_text().splitlines()
  return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_package_declares_the_runtime_requirements():
  project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
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
        importers.append(str(path.relative_to(ROOT)))
  assert not importers, f"the installed package has no configs/: {importers}"
