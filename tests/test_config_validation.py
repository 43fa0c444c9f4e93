"""Config checks run before anything is read or compiled."""

import socket

import ml_collections
import pytest

from configs import default
from lstm_jax import datasets
from lstm_jax.config import schema
from lstm_jax.config import validation as cv
from lstm_jax.text import glove


def valid_config(tmp_path):
  config = default.get_config()
  train = tmp_path / "train.csv"
  train.write_text("text,label\nhello,a\n")
  config.data.train_files = (str(train),)
  return config


def test_default_with_a_train_file_is_valid(tmp_path):
  cv.validate(valid_config(tmp_path))


def test_unknown_key_is_named(tmp_path):
  config = valid_config(tmp_path)
  config.model.unitz = 3
  with pytest.raises(cv.ConfigError, match=r"model.unitz: unknown key.*model.recurrent_layers"):
    cv.validate(config)


def test_wrong_type_is_named(tmp_path):
  as_dict = valid_config(tmp_path).to_dict()
  as_dict["train"]["batch_size"] = "64"
  config = ml_collections.ConfigDict(as_dict)
  with pytest.raises(cv.ConfigError, match=r"train.batch_size='64': expected int"):
    cv.validate(config)


@pytest.mark.parametrize("key,value,message", [
    ("model.head_dropout", -0.1, r"model.head_dropout=-0.1: must be in \[0.0, 1.0\)"),
    ("model.pooling", "min", r"model.pooling='min': accepted values are last, max, average"),
    ("early_stopping.patience", -1, r"early_stopping.patience=-1: must be in \[0"),
    ("train.batch_size", 0, r"train.batch_size=0: must be in \[1"),
    ("train.learning_rate", 0.0, r"train.learning_rate=0.0: must be in \(0.0"),
    ("data.padding", "left", r"data.padding='left': accepted values are pre, post"),
    ("model.time_chunks", 0, r"model.time_chunks=0: must be in \[1"),
    ("train.verbose", 3, r"train.verbose=3: accepted values are 0, 1, 2"),
    ("train.optimizer", "sgd", r"train.optimizer='sgd': accepted values are adam, adamw, keras_adam"),
    ("train.lr_schedule", "step", r"train.lr_schedule='step': accepted values are constant, cosine"),
    ("reduce_lr_on_plateau.factor", 1.0, r"reduce_lr_on_plateau.factor=1.0: must be in \(0.0, 1.0\)"),
    ("embedding.learning_rate_scale", 0.0, r"embedding.learning_rate_scale=0.0: must be in \(0.0"),
])
def test_out_of_range_value_is_named(tmp_path, key, value, message):
  config = valid_config(tmp_path)
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(cv.ConfigError, match=message):
    cv.validate(config)


def test_every_problem_is_reported_at_once(tmp_path):
  config = valid_config(tmp_path)
  config.model.head_dropout = 2.0
  config.train.max_epochs = 0
  with pytest.raises(cv.ConfigError) as e:
    cv.validate(config)
  assert "model.head_dropout" in str(e.value) and "train.max_epochs" in str(e.value)


def test_missing_data_file_is_named(tmp_path):
  config = valid_config(tmp_path)
  config.data.test_files = (str(tmp_path / "nope.csv"),)
  with pytest.raises(cv.ConfigError, match=r"data.test_files: file not found: .*nope.csv"):
    cv.validate(config)


@pytest.fixture
def offline(monkeypatch, tmp_path):
  """No GloVe in the shared cache, and its URL refuses connections."""
  monkeypatch.setenv(glove.CACHE_ENV, str(tmp_path / "cache"))
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  monkeypatch.setattr(glove, "GLOVE_6B_URL", f"http://127.0.0.1:{port}/glove.6B.zip")


def test_offline_missing_glove_says_where_to_put_it(tmp_path, offline):
  config = valid_config(tmp_path)
  config.embedding.kind = "glove"
  config.embedding.path = str(tmp_path / "glove.6B.300d.txt")
  with pytest.raises(cv.ConfigError) as info:
    cv.validate(config)
  assert glove.missing_message(config.embedding.path) in str(info.value)
  assert "Cannot reach" in str(info.value)


def test_missing_data_and_glove_are_one_message_and_nothing_downloads(tmp_path, offline,
                                                                      monkeypatch):
  monkeypatch.setattr(glove, "download_glove", None)  # would raise if called
  config = valid_config(tmp_path)
  config.data.test_files = (str(tmp_path / "nope.csv"),)
  config.embedding.kind = "glove"
  config.embedding.path = str(tmp_path / "glove.6B.300d.txt")
  with pytest.raises(cv.ConfigError) as info:
    cv.validate(config)
  assert "data.test_files: file not found" in str(info.value)
  assert glove.missing_message(config.embedding.path) in str(info.value)


def test_offline_imdb_and_glove_are_one_message(tmp_path, offline, monkeypatch):
  monkeypatch.setattr(datasets.builders, "IMDB_URL", glove.GLOVE_6B_URL)  # refuses too
  monkeypatch.setattr(glove, "download_glove", None)  # would raise if called
  config = valid_config(tmp_path)
  config.data.source = "imdb"
  config.data.tfds_data_dir = str(tmp_path / "tfds")
  config.embedding.kind = "glove"
  config.embedding.path = str(tmp_path / "glove.6B.300d.txt")
  with pytest.raises(cv.ConfigError) as info:
    cv.validate(config)
  assert "cannot download" in str(info.value) and "aclImdb_v1.tar.gz" in str(info.value)
  assert glove.missing_message(config.embedding.path) in str(info.value)


def test_comma_separated_lists_are_split():
  config = default.get_config()
  config.data.text_fields = ("headline,short_description",)
  config.data.bucket_lengths = ("32,64",)
  config = cv.normalize(config)
  assert config.data.text_fields == ("headline", "short_description")
  assert config.data.bucket_lengths == (32, 64)


def test_batch_not_dividing_devices_is_an_error():
  with pytest.raises(cv.ConfigError, match=r"batch_size=6 does not divide by the 4 devices"):
    cv.check_batch_divides(6, 4)
  cv.check_batch_divides(8, 4)


def test_changed_keys_lists_differences():
  old = cv.to_plain(default.get_config().to_dict())
  new = {**old, "model": {**old["model"], "head_dropout": 0.5}}
  assert cv.changed_keys(old, new) == {"model.head_dropout"}


def test_a_key_added_since_a_run_started_is_a_change_only_off_its_default():
  new = cv.to_plain(default.get_config().to_dict())
  old = {**new, "train": {k: v for k, v in new["train"].items() if k != "class_weight"}}
  assert cv.changed_keys(old, new) == set()
  new["train"]["class_weight"] = "balanced"
  assert cv.changed_keys(old, new) == {"train.class_weight"}


def test_a_key_old_runs_ran_otherwise_counts_with_their_value():
  new = cv.to_plain(default.get_config().to_dict())
  old = {**new, "model": {k: v for k, v in new["model"].items() if k != "time_chunks"}}
  assert cv.changed_keys(old, new) == {"model.time_chunks"}
  new["model"]["time_chunks"] = 1
  assert cv.changed_keys(old, new) == set()


def test_upgrade_gives_old_runs_the_values_they_ran_with():
  new = cv.to_plain(default.get_config().to_dict())
  old = {**new, "model": {k: v for k, v in new["model"].items()
                          if k not in ("time_chunks", "distinct_tokens")},
         "train": {k: v for k, v in new["train"].items() if k != "verbose"}}
  upgraded = schema.upgrade(old)
  assert (upgraded["model"]["time_chunks"], upgraded["model"]["distinct_tokens"]) == (1, False)
  assert upgraded["train"] == new["train"]


def test_a_resumed_run_may_print_differently():
  old = cv.to_plain(default.get_config().to_dict())
  new = {**old, "train": {**old["train"], "verbose": 2}}
  assert cv.changed_keys(old, new) == set()


@pytest.mark.parametrize("overrides,message", [
    ({"train.optimizer": "adamw"}, r"'adamw' with train.weight_decay=0 is Adam"),
    ({"train.weight_decay": 0.01},
     r"train.weight_decay=0.01 is a decoupled weight decay: .* one with it \(adamw; now 'adam'\)"),
    ({"train.lr_schedule": "reduce_on_plateau", "train.warmup_steps": 10},
     r"train.warmup_steps=10 \(a linear warmup .*\) is not read by "
     r"train.lr_schedule='reduce_on_plateau'; schedules that read it: constant, cosine, linear"),
    ({"train.final_learning_rate": 1e-5},
     r"train.final_learning_rate=1e-05 \(the rate a decaying schedule ends at\) is not read by "
     r"train.lr_schedule='constant'; schedules that read it: cosine, linear"),
    ({"embedding.trainable": False, "embedding.learning_rate_scale": 0.1},
     r"learning_rate_scale is for a trainable embedding"),
])
def test_training_keys_that_only_work_together_are_named(tmp_path, overrides, message):
  config = valid_config(tmp_path)
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  with pytest.raises(cv.ConfigError, match=message):
    cv.validate(config)


@pytest.mark.parametrize("layers,message", [
    (({"units": 8, "unit": 3},), r"model.recurrent_layers\[0\]: unknown field 'unit'"),
    (({"bidirectional": True},), r"model.recurrent_layers\[0\]: needs 'units'"),
    (({"units": "8"},), r"model.recurrent_layers\[0\]: units='8': expected int"),
    (({"units": 8}, 3), r"model.recurrent_layers\[1\]=3: expected a dict"),
    (({"units": 8, "merge_mode": "max", "bidirectional": True},), r"merge_mode must be one of"),
    (({"units": 8, "dropout_after": 0.2},), r"dropout_after needs a layer that returns"),
    ((), r"at least one recurrent layer"),
])
def test_a_bad_recurrent_layer_is_named_with_its_index(tmp_path, layers, message):
  config = valid_config(tmp_path)
  config.model.recurrent_layers = layers
  with pytest.raises(cv.ConfigError, match=message):
    cv.validate(cv.normalize(config))


def test_a_bad_hidden_activation_lists_the_keras_names(tmp_path):
  config = valid_config(tmp_path)
  config.model.hidden_layers = ({"units": 8, "activation": "relu6"},)
  with pytest.raises(cv.ConfigError, match=r"hidden layer 0: activation must be one of relu"):
    cv.validate(cv.normalize(config))


def test_layer_lists_from_the_command_line_are_json_completed_with_defaults(tmp_path):
  config = valid_config(tmp_path)
  config.model.recurrent_layers = '[{"units": 64, "bidirectional": true}, {"units": 32}]'
  layers = cv.normalize(config).model.recurrent_layers
  assert [layer["units"] for layer in layers] == [64, 32]
  assert layers[0]["bidirectional"] and layers[0]["merge_mode"] == "concat"
  assert layers[1] == {"units": 32, "cell": "lstm", "bidirectional": False,
                       "merge_mode": "concat", "dropout": 0.0, "recurrent_dropout": 0.0,
                       "dropout_after": 0.0}


def test_a_layer_written_with_its_defaults_is_no_change():
  old = cv.to_plain(cv.normalize(default.get_config()).to_dict())
  config = default.get_config()
  config.model.recurrent_layers = ({"units": 128, "bidirectional": False},)
  new = cv.to_plain(cv.normalize(config).to_dict())
  assert cv.changed_keys(old, new) == set()


def test_a_run_of_the_first_releases_is_read_with_its_model():
  new = cv.to_plain(cv.normalize(default.get_config()).to_dict())
  legacy = {k: v for k, v in new["model"].items()
            if k not in ("recurrent_layers", "head_dropout", "embedding_dropout", "spatial_dropout",
                         "pooling", "hidden_layers", "output")}
  old = {**new, "model": {**legacy, "units": 64, "num_layers": 2, "bidirectional": True,
                          "dropout": 0.2, "lstm_dropout": 0.1, "recurrent_dropout": 0.0}}
  upgraded = schema.upgrade(old)["model"]
  assert "units" not in upgraded and upgraded["head_dropout"] == 0.2
  assert upgraded["recurrent_layers"] == [{"units": 64, "bidirectional": True, "dropout": 0.1,
                                      "recurrent_dropout": 0.0}] * 2
  same = default.get_config()
  same.model.recurrent_layers = ({"units": 64, "bidirectional": True, "dropout": 0.1},) * 2
  same.model.head_dropout = 0.2
  assert cv.changed_keys(old, cv.to_plain(cv.normalize(same).to_dict())) == set()
