"""The error raised for bad input data or a bad `data.*` config."""

from lstm_jax import errors


class DataError(errors.UserError, ValueError):
  """Bad input: the message names the file, line or config key and the fix."""
