"""Tests for lstm_jax.training.early_stopping: Keras counting rules on set curves."""

import json
import math

import numpy as np
import pytest

from lstm_jax.training import early_stopping as es


def _run(curve, **kwargs):
  """Feeds a validation curve; returns the final state (stops when told)."""
  return es.replay(curve, **kwargs)[-1]


def test_replay_gives_the_state_of_each_epoch_up_to_the_stop():
  states = es.replay([0.9, 0.7, 0.8, 0.85, 0.5], patience=2)
  assert [s.wait for s in states] == [0, 0, 1, 2]
  assert [s.stopped for s in states] == [False, False, False, True]
  assert es.replay([], patience=2) == []


def test_stops_at_best_epoch_plus_patience():
  state = _run([0.9, 0.7, 0.6, 0.65, 0.61, 0.62, 0.5, 0.4], patience=3)
  assert (state.best_epoch, state.best, state.last_epoch) == (3, 0.6, 6)
  assert state.stopped


def test_improvement_resets_wait():
  state = _run([0.9, 0.95, 0.96, 0.8, 0.85, 0.86], patience=3)
  assert (state.best_epoch, state.wait, state.stopped) == (4, 2, False)


def test_equal_value_is_not_an_improvement():
  state = _run([0.5, 0.5, 0.5], patience=2)
  assert (state.best_epoch, state.last_epoch, state.stopped) == (1, 3, True)


def test_min_delta_requires_a_larger_improvement():
  # Steps of 0.125 (exact in binary); an improvement of exactly min_delta
  # (epoch 3 against epoch 1) is not enough.
  curve = [1.0, 0.875, 0.75, 0.625]
  assert _run(curve, patience=5, min_delta=0.25).best_epoch == 4
  stopped = _run(curve, patience=2, min_delta=0.25)
  assert (stopped.best_epoch, stopped.last_epoch) == (1, 3)
  assert stopped.stopped
  assert _run(curve, patience=2, min_delta=0.0).best_epoch == 4


def test_negative_min_delta_acts_as_its_absolute_value():
  curve = [1.0, 0.875, 0.75, 0.625]
  assert _run(curve, patience=2, min_delta=-0.25).best_epoch == 1


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
  state = _run([0.9, 0.8, 0.85, 0.7], patience=0)
  assert (state.best_epoch, state.last_epoch, state.stopped) == (2, 3, True)


def test_first_epoch_always_improves():
  state = es.update(es.EarlyStoppingState(), 1e9, 1, patience=0)
  assert (state.best, state.best_epoch, state.stopped) == (1e9, 1, False)


def test_max_mode_for_accuracy():
  state = _run([0.5, 0.7, 0.6, 0.69, 0.71], mode="max", patience=2)
  assert (state.best_epoch, state.best, state.last_epoch) == (2, 0.7, 4)


def test_nan_is_never_an_improvement():
  state = _run([0.9, float("nan"), 0.8], patience=3)
  assert (state.best_epoch, state.best) == (3, 0.8)
  state = _run([float("nan"), 0.8], patience=3)
  assert state.best_epoch == 2


def test_nan_counts_toward_patience():
  state = _run([0.9, float("nan"), float("nan"), 0.1], patience=2)
  assert (state.best_epoch, state.last_epoch, state.stopped) == (1, 3, True)


def test_a_stopped_state_refuses_more_epochs():
  state = _run([0.5, 0.6], patience=1)
  with pytest.raises(ValueError, match="already stopped at epoch 2"):
    es.update(state, 0.1, 3, patience=1)


def test_epochs_must_follow_each_other():
  state = es.update(es.EarlyStoppingState(), 0.5, 1)
  with pytest.raises(ValueError, match="epoch 3 does not follow .* 1"):
    es.update(state, 0.4, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "auto"}, "resolve_mode"),
    ({"patience": -1}, "patience must be >= 0"),
])
def test_update_rejects_bad_settings(kwargs, message):
  with pytest.raises(ValueError, match=message):
    es.update(es.EarlyStoppingState(), 0.5, 1, **kwargs)


def test_state_round_trips_through_json():
  state = _run([0.9, 0.7, 0.8], patience=3)
  restored = es.EarlyStoppingState.from_dict(
      json.loads(json.dumps(state.to_dict())))
  assert restored == state
  # A resumed run continues exactly like an uninterrupted one.
  assert es.update(restored, 0.75, 4) == es.update(state, 0.75, 4)


def test_from_dict_names_missing_and_unknown_keys():
  data = es.EarlyStoppingState().to_dict()
  del data["wait"]
  data["patience"] = 3
  with pytest.raises(ValueError,
                     match=r"missing keys \['wait'\].*\['patience'\]"):
    es.EarlyStoppingState.from_dict(data)


@pytest.mark.parametrize("monitor, mode", [
    ("val_loss", "min"), ("loss", "min"), ("val_accuracy", "max"),
    ("val_sparse_categorical_accuracy", "max"), ("val_macro_f1", "max"),
])
def test_auto_mode_follows_the_metric_name(monitor, mode):
  assert es.resolve_mode(monitor) == mode


def test_explicit_mode_wins_over_the_name():
  assert es.resolve_mode("val_loss", "max") == "max"


@pytest.mark.parametrize("monitor, mode, message", [
    ("val_perplexity", "auto", "cannot tell"),
    ("val_loss", "smallest", "not one of"),
])
def test_resolve_mode_errors(monitor, mode, message):
  with pytest.raises(ValueError, match=message):
    es.resolve_mode(monitor, mode)


def test_infinite_first_value_is_the_best_until_beaten():
  state = _run([math.inf, 3.0], patience=1)
  assert (state.best_epoch, state.stopped) == (2, False)


class _FakeModel:
  """The little of a Keras model that EarlyStopping touches."""
  stop_training = False
  metrics = ()


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("patience", [0, 1, 3])
@pytest.mark.parametrize("min_delta", [0.0, 0.05])
def test_agrees_with_keras_early_stopping(mode, patience, min_delta):
  keras = pytest.importorskip("keras")
  rng = np.random.default_rng(patience * 10 + int(min_delta * 100))
  for _ in range(20):
    # Rounded random walks: plateaus, ties and small steps all occur.
    curve = np.round(1.0 + np.cumsum(rng.normal(0, 0.05, size=12)), 2).tolist()
    callback = keras.callbacks.EarlyStopping(
        monitor="val_metric", mode=mode, patience=patience, min_delta=min_delta)
    model = _FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    for keras_epoch, value in enumerate(curve):
      callback.on_epoch_end(keras_epoch, {"val_metric": value})
      if model.stop_training:
        break
    state = _run(curve, mode=mode, patience=patience, min_delta=min_delta)
    assert state.stopped == model.stop_training, curve
    assert state.last_epoch == keras_epoch + 1, curve
    assert state.best_epoch == callback.best_epoch + 1, curve
