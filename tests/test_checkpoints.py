"""Tests for lstm_jax.training.checkpoints: latest + best kept, damage, write errors."""

import errno
import logging
import math
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from lstm_jax.training import checkpoints


def _state(scale=1.0):
  return {
      "params": {"kernel": jnp.full((2, 3), float(scale)),
                 "bias": jnp.zeros(3)},
      "step": jnp.asarray(int(scale), jnp.int32),
      "rng": jax.random.key_data(jax.random.key(int(scale))),
  }


def _save_curve(ckpt, values):
  for epoch, value in enumerate(values, start=1):
    ckpt.save(epoch, _state(epoch), {"epoch": epoch, "val_loss": value}, value)


@pytest.fixture
def ckpt_dir(tmp_path):
  return str(tmp_path / "checkpoints")


def test_round_trip_restores_state_and_meta(ckpt_dir):
  meta = {"epoch": 3, "early_stopping": {"best": 0.5, "best_epoch": 2},
          "rng": [1, 2], "order_seed": 7}
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    ckpt.save(3, _state(3.0), meta, 0.5)
    state, restored_meta = ckpt.restore(3, _state())
  assert restored_meta == meta
  jax.tree.map(np.testing.assert_array_equal, state, _state(3.0))


def test_keeps_the_latest_two_and_the_best(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.3, 0.4, 0.6, 0.7])
    assert ckpt.epochs() == [2, 4, 5]
    assert (ckpt.latest_epoch(), ckpt.best_epoch()) == (5, 2)


def test_opening_drops_epochs_the_policy_no_longer_keeps(ckpt_dir):
  # A run killed after writing epoch 4 but before deleting epoch 2 leaves
  # what a keep-three policy keeps.
  with checkpoints.Checkpointer(ckpt_dir, keep_latest=3) as ckpt:
    _save_curve(ckpt, [0.3, 0.5, 0.6, 0.7])
    assert ckpt.epochs() == [1, 2, 3, 4]
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    assert ckpt.epochs() == [1, 3, 4]
    assert ckpt.best_epoch() == 1
  assert sorted(os.listdir(ckpt_dir)) == ["1", "3", "4"]


def test_max_mode_keeps_the_highest(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir, monitor_mode="max",
                                keep_latest=1) as ckpt:
    _save_curve(ckpt, [0.5, 0.8, 0.4, 0.6])
    assert ckpt.epochs() == [2, 4]
    assert ckpt.best_epoch() == 2


@pytest.mark.parametrize("mode", ["min", "max"])
def test_ties_go_to_the_earlier_epoch(ckpt_dir, mode):
  with checkpoints.Checkpointer(ckpt_dir, monitor_mode=mode,
                                keep_latest=1) as ckpt:
    _save_curve(ckpt, [0.5, 0.4, 0.4, 0.4] if mode == "min" else
                [0.4, 0.5, 0.5, 0.5])
    assert ckpt.best_epoch() == 2
    assert ckpt.epochs() == [2, 4]


def test_non_finite_metrics_are_saved_and_rank_last(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, math.nan, math.inf, -math.inf, math.nan])
    assert ckpt.best_epoch() == 1
    assert ckpt.epochs() == [1, 4, 5]
    _, meta = ckpt.restore(5, _state())
  assert math.isnan(meta["val_loss"])


def test_no_best_epoch_when_every_metric_is_nan(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [math.nan, math.nan])
    assert ckpt.best_epoch() is None
    assert ckpt.latest_epoch() == 2


def test_reopening_sees_epochs_and_best(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.3, 0.4, 0.6])
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    assert ckpt.epochs() == [2, 3, 4]
    assert ckpt.best_epoch() == 2
    epoch, state, meta = ckpt.restore_latest_intact(_state())
  assert (epoch, meta["epoch"]) == (4, 4)
  np.testing.assert_array_equal(state["params"]["kernel"], np.full((2, 3), 4.0))


def test_pmap_outputs_save_and_restore_with_their_sharding(ckpt_dir):
  devices = jax.local_devices()[:4]
  step = jax.pmap(lambda p, x: jax.tree.map(lambda a: a + jax.lax.pmean(
      x.sum(), "batch"), p), axis_name="batch", in_axes=(None, 0),
                  out_axes=None, devices=devices)
  state = {"params": step({"kernel": jnp.ones((2, 3))}, jnp.ones((4, 2)))}
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    ckpt.save(1, state, {}, 0.1)
    zeros = jax.tree.map(jnp.zeros_like, state)
    restored, _ = ckpt.restore(1, zeros)
  np.testing.assert_array_equal(restored["params"]["kernel"], state["params"]["kernel"])
  assert restored["params"]["kernel"].sharding == zeros["params"]["kernel"].sharding


def test_restore_onto_abstract_target(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    ckpt.save(1, _state(2.0), {}, 0.1)
    target = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding),
        _state())
    restored, _ = ckpt.restore(1, target)
  jax.tree.map(np.testing.assert_array_equal, restored, _state(2.0))


def test_no_checkpoints_means_a_fresh_start(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    assert ckpt.restore_latest_intact(_state()) is None
    assert (ckpt.latest_epoch(), ckpt.best_epoch()) == (None, None)


def _damage(path: pathlib.Path, how: str) -> None:
  if how == "truncate":
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
  else:
    path.unlink()


def _files(ckpt_dir, epoch, pattern):
  files = sorted(pathlib.Path(ckpt_dir, str(epoch)).glob(pattern))
  assert files, pattern
  return files


DAMAGE = [("parameters/d/*", "truncate"), ("optimizer/d/*", "delete"),
          ("parameters/manifest.ocdbt", "delete"), ("meta/metadata", "truncate"),
          ("tree/metadata", "delete")]


# A failed tensorstore read may leave an asyncio callback behind; harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("pattern, how", DAMAGE)
def test_damaged_newest_falls_back_to_the_previous(ckpt_dir, caplog, pattern,
                                                   how):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.4, 0.3])
  for path in _files(ckpt_dir, 3, pattern):
    _damage(path, how)
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    with caplog.at_level(logging.WARNING, logger=checkpoints.__name__):
      epoch, state, meta = ckpt.restore_latest_intact(_state())
    assert (epoch, meta["epoch"]) == (2, 2)
    np.testing.assert_array_equal(state["params"]["kernel"],
                                  np.full((2, 3), 2.0))
    assert "epoch 3" in caplog.text and "damaged" in caplog.text
    # The damaged epoch is set aside, and the resumed run can write it again.
    assert ckpt.epochs() == [2]
    assert [p.name.split(".")[0] for p in
            pathlib.Path(ckpt_dir, checkpoints.DAMAGED_DIR).iterdir()] == ["3"]
    ckpt.save(3, _state(3.0), {"epoch": 3}, 0.3)
    assert ckpt.restore(3, _state())[1] == {"epoch": 3}


def test_unreadable_metrics_file_is_set_aside_on_open(ckpt_dir, caplog):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.4])
  _damage(_files(ckpt_dir, 2, "metrics/metrics")[0], "truncate")
  with caplog.at_level(logging.WARNING, logger=checkpoints.__name__):
    with checkpoints.Checkpointer(ckpt_dir) as ckpt:
      assert ckpt.epochs() == [1]
  assert "epoch 2" in caplog.text


def test_every_metrics_file_unreadable_is_an_error_on_open(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.4])
  for epoch in (1, 2):
    _damage(_files(ckpt_dir, epoch, "metrics/metrics")[0], "truncate")
  with pytest.raises(checkpoints.DamagedCheckpointError,
                     match=r"epochs \[1, 2\] are unreadable"):
    checkpoints.Checkpointer(ckpt_dir)
  assert sorted(os.listdir(ckpt_dir)) == ["1", "2"]


def test_no_intact_checkpoint_is_an_error_and_moves_nothing(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.4])
  for epoch in (1, 2):
    _damage(_files(ckpt_dir, epoch, "meta/metadata")[0], "delete")
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    with pytest.raises(checkpoints.DamagedCheckpointError,
                       match="no intact checkpoint.*epoch 2.*epoch 1"):
      ckpt.restore_latest_intact(_state())
    assert ckpt.epochs() == [1, 2]
  assert not os.path.exists(os.path.join(ckpt_dir, checkpoints.DAMAGED_DIR))


def test_another_models_checkpoint_is_incompatible_not_damaged(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.4])
    other = _state()
    other["params"]["kernel"] = jnp.zeros((5, 3))
    del other["rng"]
    with pytest.raises(checkpoints.IncompatibleCheckpointError,
                       match=r"\['rng'\]: only in the checkpoint.*"
                       r"\['kernel'\]: checkpoint has float32\[2, 3\], "
                       r"expected float32\[5, 3\]"):
      ckpt.restore_latest_intact(other)
    assert ckpt.epochs() == [1, 2]


def test_write_error_keeps_the_previous_checkpoint(ckpt_dir, monkeypatch):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.4])

    async def disk_full(*unused_args, **unused_kwargs):
      raise OSError(errno.ENOSPC, "No space left on device")

    # Injected where orbax writes the JSON items of a checkpoint.
    with monkeypatch.context() as patch:
      patch.setattr(ocp.handlers.JsonCheckpointHandler, "_save_fn", disk_full)
      with pytest.raises(checkpoints.CheckpointWriteError,
                         match="epoch 3.*No space left.*epoch 2 is intact"):
        ckpt.save(3, _state(3.0), {"epoch": 3}, 0.3)
  # The rerun sees the earlier epochs, restores the latest and goes on.
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    assert ckpt.epochs() == [1, 2]
    epoch, _, meta = ckpt.restore_latest_intact(_state())
    assert (epoch, meta["epoch"]) == (2, 2)
    ckpt.save(3, _state(3.0), {"epoch": 3}, 0.3)
    assert ckpt.epochs() == [2, 3]


def test_meta_must_be_json(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    with pytest.raises(ValueError, match="epoch 1 is not JSON-serializable"):
      ckpt.save(1, _state(), {"rng": np.arange(2)}, 0.5)
    assert ckpt.epochs() == []


def test_an_epoch_is_saved_once(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    ckpt.save(1, _state(), {}, 0.5)
    with pytest.raises(ValueError, match="epoch 1 already exists"):
      ckpt.save(1, _state(), {}, 0.4)


def test_restoring_a_missing_epoch_names_the_saved_ones(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5])
    with pytest.raises(checkpoints.DamagedCheckpointError,
                       match=r"no checkpoint of epoch 4 .* epochs: \[1\]"):
      ckpt.restore(4, _state())


@pytest.mark.parametrize("kwargs, message", [
    ({"monitor_mode": "auto"}, "monitor_mode"),
    ({"keep_latest": 0}, "keep_latest"),
])
def test_rejects_bad_settings(ckpt_dir, kwargs, message):
  with pytest.raises(ValueError, match=message):
    checkpoints.Checkpointer(ckpt_dir, **kwargs)


def _item_size(ckpt_dir, epoch, item):
  return sum(p.stat().st_size for p in pathlib.Path(ckpt_dir, str(epoch), item).rglob("*")
             if p.is_file())


def test_an_epoch_kept_only_as_the_best_keeps_its_parameters_alone(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.3, 0.4, 0.6, 0.7])
    assert ckpt.epochs() == [2, 4, 5]
    assert not pathlib.Path(ckpt_dir, "2", "optimizer").exists()
    assert _item_size(ckpt_dir, 4, "optimizer") > 0 and _item_size(ckpt_dir, 5, "optimizer") > 0
    params = ckpt.restore_params(2, _state())
    jax.tree.map(np.testing.assert_array_equal, params, _state(2)["params"])
    with pytest.raises(checkpoints.ParamsOnlyCheckpointError, match="epoch 2 .* parameters only"):
      ckpt.restore(2, _state())


# A failed tensorstore read may leave an asyncio callback behind; harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_resuming_passes_over_an_epoch_kept_as_the_best_only(ckpt_dir):
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    _save_curve(ckpt, [0.5, 0.3, 0.4, 0.6, 0.7])
  for epoch in (4, 5):
    next(pathlib.Path(ckpt_dir, str(epoch), "parameters").glob("manifest.ocdbt")).unlink()
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    with pytest.raises(checkpoints.DamagedCheckpointError, match="no intact checkpoint"):
      ckpt.restore_latest_intact(_state())
  assert pathlib.Path(ckpt_dir, "2", "parameters").is_dir()


def test_a_checkpoint_of_the_whole_state_in_one_item_still_restores(ckpt_dir):
  """The layout written before the parameters got their own item."""
  state = _state(3.0)
  with ocp.CheckpointManager(ckpt_dir) as manager:
    manager.save(1, metrics={"value": 0.5, "epoch": 1}, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave({"epoch": 1}),
        tree=ocp.args.JsonSave(checkpoints.tree_layout(state))))
  with checkpoints.Checkpointer(ckpt_dir) as ckpt:
    restored, meta = ckpt.restore(1, _state())
    params = ckpt.restore_params(1, _state())
  assert meta == {"epoch": 1}
  jax.tree.map(np.testing.assert_array_equal, restored, state)
  jax.tree.map(np.testing.assert_array_equal, params, state["params"])
