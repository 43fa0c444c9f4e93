"""The workdir's names are a contract: they are spelled once, in workdir.py."""

import pathlib
import re

from lstm_jax import workdir

PACKAGE = pathlib.Path(workdir.__file__).parent
NAMES = [value for name, value in vars(workdir).items()
         if name.endswith(("_FILE", "_DIR", "_ITEM"))]


def test_the_contract_names_every_workdir_file():
  assert {"config.json", "tokenizer.json", "labels.json", "dataset_report.json",
          "checkpoints", "metrics.jsonl", "results.json", "tensorboard", ".lock",
          "command.txt", "state", "meta", "tree"} <= set(NAMES)


def test_no_module_spells_a_workdir_name_as_a_literal():
  literal = re.compile("|".join(rf"""["']{re.escape(name)}["']""" for name in NAMES))
  found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
           for path in sorted(PACKAGE.rglob("*.py")) if path.name != "workdir.py"
           for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
           if literal.search(line)]
  assert not found, "use lstm_jax.workdir's constants:\n" + "\n".join(found)
