"""The Registry class every extension point is made of."""

import pytest

from lstm_jax import errors
from lstm_jax import registry


def colours():
  table = registry.Registry("colour", key="paint.colour")
  table.register("red", 1)
  table.register("green")(2)
  return table


def test_entries_come_back_by_name_in_registration_order():
  table = colours()
  assert table.get("green") == 2
  assert table.names() == ("red", "green") and list(table) == ["red", "green"]
  assert table.items() == [("red", 1), ("green", 2)]
  assert "red" in table and "blue" not in table and len(table) == 2


def test_an_unknown_name_is_a_user_error_naming_the_key_and_the_registered_ones():
  with pytest.raises(registry.UnknownEntryError,
                     match=r"^paint.colour='blue': unknown colour; registered: red, green$"):
    colours().get("blue")
  assert issubclass(registry.UnknownEntryError, errors.UserError)


def test_a_name_registered_twice_is_refused():
  table = colours()
  with pytest.raises(ValueError, match="colour 'red' is registered twice"):
    table.register("red", 3)
  assert table.get("red") == 1


def test_a_temporary_entry_is_gone_after_its_block_even_on_an_error():
  table = colours()
  with pytest.raises(RuntimeError):
    with table.temporarily("blue", 3):
      assert table.names() == ("red", "green", "blue")
      raise RuntimeError
  assert table.names() == ("red", "green")
