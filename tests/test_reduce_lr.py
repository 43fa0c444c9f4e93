"""ReduceLROnPlateau: the counting rules, and the same rates as Keras's callback."""

import types

import numpy as np
import pytest

from lstm_jax.optim import plateau
import keras_testing

pytestmark = keras_testing.KERAS_WARNINGS


def _rates(values, **settings):
  state, rates = plateau.start(0.1), []
  for value in values:
    state = plateau.update(state, value, **settings)
    rates.append(state.learning_rate)
  return rates


def test_the_rate_drops_after_patience_epochs_without_improvement():
  rates = _rates([1.0, 0.9, 0.95, 0.95, 0.8], mode="min", factor=0.5, patience=2)
  np.testing.assert_allclose(rates, [0.1, 0.1, 0.1, 0.05, 0.05], rtol=1e-7)


def test_cooldown_epochs_count_no_waiting():
  # As in Keras, the epoch that ends the cooldown counts again.
  rates = _rates([1.0, 2, 2, 2, 2, 2, 2], mode="min", factor=0.5, patience=1, cooldown=2)
  np.testing.assert_allclose(rates, [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125], rtol=1e-7)


def test_the_rate_never_goes_below_min_lr():
  rates = _rates([1.0, 2, 2, 2], mode="min", factor=0.1, patience=1, min_lr=0.005)
  np.testing.assert_allclose(rates, [0.1, 0.01, 0.005, 0.005], rtol=1e-6)


def test_a_nan_epoch_never_improves():
  state = plateau.update(plateau.start(0.1), float("nan"), mode="min", factor=0.5,
                           patience=1)
  assert state.best is None and state.learning_rate == pytest.approx(0.05)


def test_the_state_survives_a_checkpoint():
  state = plateau.update(plateau.start(0.1), 0.3, mode="max", factor=0.5, patience=3)
  assert plateau.PlateauState.from_dict(state.to_dict()) == state


def test_a_factor_of_one_or_more_is_refused():
  with pytest.raises(ValueError, match="factor must be in"):
    plateau.update(plateau.start(0.1), 1.0, mode="min", factor=1.0, patience=1)


@pytest.mark.parametrize("seed", range(6))
def test_rates_follow_keras_reduce_lr_on_plateau(seed):
  keras = pytest.importorskip("keras")
  rng = np.random.default_rng(seed)
  # Plateaus, ties within min_delta, and improvements, in random order.
  values = np.round(rng.uniform(0.2, 1.0, 30), 2).tolist()
  settings = dict(factor=float(rng.choice([0.1, 0.5])), patience=int(rng.integers(0, 3)),
                  min_delta=float(rng.choice([0.0, 0.01])), cooldown=int(rng.integers(0, 3)),
                  min_lr=float(rng.choice([0.0, 1e-3])))
  mode = str(rng.choice(["min", "max"]))
  optimizer = keras.optimizers.Adam(learning_rate=0.1)
  callback = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", mode=mode, **settings)
  callback.set_model(types.SimpleNamespace(optimizer=optimizer))
  callback.on_train_begin()
  keras_rates = []
  for epoch, value in enumerate(values):
    callback.on_epoch_end(epoch, {"val_loss": value})
    keras_rates.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
  np.testing.assert_allclose(_rates(values, mode=mode, **settings), keras_rates, rtol=1e-7)
