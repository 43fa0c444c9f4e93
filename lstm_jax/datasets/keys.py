"""Parsing and checking `data.*` values: each helper names the key and what is accepted."""

import pathlib
from typing import Any

from lstm_jax.datasets.errors import DataError


def as_tuple(key: str, value: Any) -> tuple[str, ...]:
  """A list, tuple or comma-separated string → tuple of non-empty strings."""
  if value is None:
    return ()
  if isinstance(value, str):
    value = value.split(",")
  if not isinstance(value, (list, tuple)):
    raise DataError(f"data.{key} must be a list or a comma-separated string, "
                    f"got {value!r}")
  return tuple(str(v).strip() for v in value if str(v).strip())


def choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
  if value not in allowed:
    raise DataError(f"data.{key}={value!r} is not one of {', '.join(allowed)}")
  return value


def fraction(key: str, value: Any) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
      0.0 <= value < 1.0):
    raise DataError(f"data.{key}={value!r} must be a number in [0, 1)")
  return float(value)


def count(key: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < 0:
    raise DataError(f"data.{key}={value!r} must be an integer >= 0")
  return value


def existing(key: str, path: str) -> str:
  if not pathlib.Path(path).expanduser().is_file():
    raise DataError(f"data.{key}: file not found: {path}")
  return str(pathlib.Path(path).expanduser())
