"""Datasets: readers, TFDS builders, splits and the dataset report.

`load_splits(config.data)` is the entry point; the `data.*` keys are listed in
`config.py`.
"""

from lstm_jax.datasets.builders import HuffpostNews
from lstm_jax.datasets.builders import Imdb
from lstm_jax.datasets.builders import Letters
from lstm_jax.datasets.builders import TextFiles
from lstm_jax.datasets.config import DataOptions
from lstm_jax.datasets.errors import DataError
from lstm_jax.datasets.loader import load_splits
from lstm_jax.datasets.loader import missing_source
from lstm_jax.datasets.report import accounting_errors
from lstm_jax.datasets.report import dropped_lines
from lstm_jax.datasets.splits import SplitData
from lstm_jax.datasets.splits import Splits
from lstm_jax.datasets.splits import with_known_labels

__all__ = [
    "DataError", "DataOptions", "HuffpostNews", "Imdb", "Letters",
    "SplitData", "Splits", "TextFiles", "accounting_errors",
    "dropped_lines", "load_splits", "missing_source", "with_known_labels",
]
