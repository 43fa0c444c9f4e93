"""Datasets: readers, TFDS builders, splits and the dataset report.

`load_splits(config.data)` is the entry point; the `data.*` keys are listed in
`config.py`, the formats of local files are the registry of `formats.py`. The names below are imported on first use, so that reading the
config schema (`datasets.config`) does not load tensorflow-datasets.
"""

import importlib

_EXPORTS = {
    "HuffpostNews": "builders", "Imdb": "builders", "Letters": "builders",
    "TextFiles": "builders", "DataOptions": "config", "DataError": "errors",
    "FORMATS": "formats",
    "load_splits": "loader", "missing_source": "loader",
    "accounting_errors": "dataset_report", "dropped_lines": "dataset_report",
    "SplitData": "splits", "Splits": "splits", "with_known_labels": "splits",
}

__all__ = sorted(_EXPORTS)


_SUBMODULES = ("builders", "config", "dataset_report", "errors", "formats", "keys",
               "loader", "readers", "splits")


def __getattr__(name: str):
  if name in _SUBMODULES:
    return importlib.import_module(f"{__name__}.{name}")
  if name not in _EXPORTS:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
  return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
