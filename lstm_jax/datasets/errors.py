"""The error raised for bad input data or a bad `data.*` config."""


class DataError(ValueError):
  """Bad input: the message names the file, line or config key and the fix."""
