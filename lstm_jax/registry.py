"""Registries: each extension point of lstm_jax as one table of named entries.

A recurrent cell, a data format, a learning-rate schedule, a pooling or an
output head is one `register` call in the module that defines it. The config's
accepted values, its checks, the docs' tables and the error for an unknown name
all read the registry, so no list of names is written a second time:

  FORMATS = registry.Registry("data format", key="data.format")

  @FORMATS.register("jsonl")
  class JsonLines: ...

  FORMATS.get("jsonl")       # the entry
  FORMATS.names()            # ("jsonl", ...), in registration order
  FORMATS.get("xml")         # UnknownEntryError: data.format='xml': unknown data
                             # format; registered: jsonl, ...
"""

import contextlib
from typing import Callable, Generic, Iterator, TypeVar, Union, overload

from lstm_jax import errors

T = TypeVar("T")


class UnknownEntryError(errors.BadValueError):
  """A name no entry of a registry has; the message lists the registered ones."""


class Registry(Generic[T]):
  """Named entries of one extension point, in registration order.

  Attributes:
    what: what an entry is, in words ("data format").
    key: where a user gives the name ("data.format"), for error messages.
  """

  def __init__(self, what: str, *, key: str = ""):
    self.what = what
    self.key = key
    self._entries: dict[str, T] = {}

  @overload
  def register(self, name: str) -> Callable[[T], T]: ...

  @overload
  def register(self, name: str, entry: T) -> T: ...

  def register(self, name: str, entry: Union[T, None] = None) -> Union[T, Callable[[T], T]]:
    """Adds `entry` under `name`; without `entry`, a decorator that adds what it decorates."""
    if entry is None:
      return lambda decorated: self.register(name, decorated)
    if name in self._entries:
      raise ValueError(f"{self.what} {name!r} is registered twice")
    self._entries[name] = entry
    return entry

  def get(self, name: str) -> T:
    """The entry of `name`; UnknownEntryError naming the registered ones otherwise."""
    try:
      return self._entries[name]
    except (KeyError, TypeError):
      where = f"{self.key}={name!r}: " if self.key else f"{name!r}: "
      raise UnknownEntryError(f"{where}unknown {self.what}; registered: "
                              f"{', '.join(self._entries)}") from None

  def names(self) -> tuple[str, ...]:
    return tuple(self._entries)

  def items(self) -> list[tuple[str, T]]:
    return list(self._entries.items())

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(tuple(self._entries))

  def __len__(self) -> int:
    return len(self._entries)

  @contextlib.contextmanager
  def temporarily(self, name: str, entry: T) -> Iterator[T]:
    """Registers `entry` for the duration of a `with` block (tests, scoped plugins)."""
    self.register(name, entry)
    try:
      yield entry
    finally:
      del self._entries[name]
