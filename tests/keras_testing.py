"""What the tests that compare with Keras 3 share: Keras on the JAX backend,
and the warnings of Keras itself that they ignore."""

import pytest


def keras_on_jax():
  """The `keras` module; skips the calling test module without Keras, or on
  another backend than JAX."""
  keras = pytest.importorskip("keras")
  if keras.backend.backend() != "jax":
    pytest.skip("the Keras comparison tests need KERAS_BACKEND=jax", allow_module_level=True)
  return keras


# pytestmark of such a module.
KERAS_WARNINGS = [
    # Keras's own variables trip a numpy 2 deprecation inside get_weights / set_weights.
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
    # GlobalMaxPooling1D drops the mask, as Keras warns; the import follows Keras.
    pytest.mark.filterwarnings("ignore:Layer .* does not support masking:UserWarning"),
]
