"""Each component takes its own config section: the whole config is a parameter
only of the entry points and of the config's own checks."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "lstm_jax"

# Modules with a function of the whole config, and why.
WHOLE_CONFIG = {
    "api.py": "fit: the Python entry point",
    "config/validation.py": "the checks of the config, across its sections",
    "training/train.py": "train_and_evaluate, which hands each component its section",
    "study/keras_reference.py": "the Keras comparison command",
    "training/continuation.py": "a changed config held against the run's: what goes on and how",
    "evaluate.py": "the evaluate command: the run's config with its overrides",
}


def _takes_the_whole_config(function: ast.FunctionDef) -> bool:
  """A parameter named `config` or `*_config` (a section is named after itself)."""
  for arg in function.args.args + function.args.kwonlyargs:
    if arg.arg == "config" or arg.arg.endswith("_config"):
      annotation = ast.unparse(arg.annotation) if arg.annotation else ""
      return annotation in ("", "Any") or annotation.endswith("ConfigDict")
  return False


def test_only_the_entry_points_take_the_whole_config():
  found = {}
  for path in sorted(PACKAGE.rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
      if isinstance(node, ast.FunctionDef) and _takes_the_whole_config(node):
        found.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node.name)
  assert set(found) <= set(WHOLE_CONFIG), {k: v for k, v in found.items()
                                           if k not in WHOLE_CONFIG}
