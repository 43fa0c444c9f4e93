"""The workdir's names are a contract: they are spelled once, in workdir.py."""

import os
import pathlib
import re

import pytest

from lstm_jax import errors
from lstm_jax import workdir

PACKAGE = pathlib.Path(workdir.__file__).parent
NAMES = [value for name, value in vars(workdir).items()
         if name.endswith(("_FILE", "_DIR", "_ITEM"))]


def test_the_contract_names_every_workdir_file():
  assert {"config.json", "tokenizer.json", "labels.json", "dataset_report.json",
          "checkpoints", "metrics.jsonl", "results.json", "tensorboard", ".lock",
          "command.txt", "parameters", "optimizer", "state", "meta", "tree"} <= set(NAMES)


def test_no_module_spells_a_workdir_name_as_a_literal():
  literal = re.compile("|".join(rf"""["']{re.escape(name)}["']""" for name in NAMES))
  found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
           for path in sorted(PACKAGE.rglob("*.py")) if path.name != "workdir.py"
           for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
           if literal.search(line)]
  assert not found, "use lstm_jax.workdir's constants:\n" + "\n".join(found)


DOCS = [*sorted((PACKAGE.parent / "docs").glob("*.md")), PACKAGE.parent / "README.md"]
# The checkpoint items written today, and the workdir's files and folders.
ITEMS = {value for name, value in vars(workdir).items()
         if name.endswith("_ITEM")} - set(workdir.LEGACY_ITEMS)
FILES = {value for name, value in vars(workdir).items() if name.endswith(("_FILE", "_DIR"))}
_PARENS = r"\((?:[^()]|\([^()]*\))*\)"  # a parenthesis, one level nested
# "items `a` (what it holds), `b` and `c`"
_ITEM_LIST = re.compile(rf"\bitems? ((?:`\w+`(?: {_PARENS})?(?:,? and |, )?)+)")


def _doc_text(doc: pathlib.Path) -> str:
  return re.sub(r"\s+", " ", doc.read_text("utf-8"))


def test_every_doc_that_lists_the_checkpoint_items_lists_those_written_today():
  lists = [(doc.name, set(re.findall(r"`(\w+)`", re.sub(_PARENS, "", found[1]))))
           for doc in DOCS for found in _ITEM_LIST.finditer(_doc_text(doc))]
  lists = [(name, items) for name, items in lists if len(items) > 1]
  assert {"ARCHITECTURE.md", "SERVING.md"} <= {name for name, _ in lists}
  for name, items in lists:
    assert items == ITEMS, f"{name} lists the checkpoint items {sorted(items)}"


def _file_tables(doc: pathlib.Path) -> list[set[str]]:
  """The names in the first column of each `| file | ... |` table of `doc`."""
  tables, rows = [], None
  for line in doc.read_text("utf-8").splitlines():
    if line.startswith("| file |"):
      rows = set()
      tables.append(rows)
    elif rows is not None and line.startswith("|"):
      rows.update(name.split("/")[0] for name in re.findall(r"`([^`]+)`", line.split("|")[1]))
    else:
      rows = None
  return tables


def test_the_docs_tables_of_workdir_files_name_the_files_of_workdir_py():
  tables = {doc.name: _file_tables(doc) for doc in DOCS if _file_tables(doc)}
  assert set(tables) == {"ARCHITECTURE.md", "SERVING.md", "USAGE.md"}
  (architecture,) = tables["ARCHITECTURE.md"]
  assert FILES <= architecture, f"ARCHITECTURE.md misses {sorted(FILES - architecture)}"
  for doc, found in tables.items():
    for names in found:
      assert names <= FILES, f"{doc} names {sorted(names - FILES)}, not in workdir.py"


def test_read_json_names_a_missing_or_damaged_file(tmp_path):
  with pytest.raises(errors.MissingFileError, match="labels.json not found"):
    workdir.read_json(tmp_path / "labels.json")
  (tmp_path / "labels.json").write_text('["neg", "pos"', encoding="utf-8")
  with pytest.raises(errors.BadValueError, match=r"labels.json is not valid JSON"):
    workdir.read_json(tmp_path / "labels.json")


def test_write_json_atomic_leaves_no_temporary_file(tmp_path):
  workdir.write_json_atomic(tmp_path / "results.json", {"best_epoch": 2})

  assert workdir.read_json(tmp_path / "results.json") == {"best_epoch": 2}
  assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "results.json"
  workdir.write_json_atomic(path, {"a": 1})

  def full_disk(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(os, "fsync", full_disk)
  with pytest.raises(OSError, match=r"could not write .*results.json: No space left"):
    workdir.write_json_atomic(path, {"a": 2})
  assert workdir.read_json(path) == {"a": 1}
  assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
