"""The config schema: every key, its default and what it means.

`default_config()` is a complete experiment on local files, one section per
component; experiment configs (`configs/*.py`) start from it and change what
they change. The `data.*` keys of the input files, with their meaning, are
defined by `lstm_jax/datasets/config.py` (a format's own keys by its entry in
`lstm_jax/datasets/formats.py`), the learning-rate schedules' keys by
`lstm_jax/optim/schedules.py`. A key naming an entry of a registry (a format,
schedule, optimizer, clipping mode, pooling, output) accepts the registry's names.
List-valued keys (those whose default is a tuple) are tuples; on the command
line they accept a comma-separated string. The layer lists
(`model.recurrent_layers`, `model.hidden_layers`) are tuples of dicts; on the
command line they accept JSON.
"""

import copy
import difflib
import json
from typing import Any, Mapping

import ml_collections
from ml_collections import config_dict

from lstm_jax import errors
from lstm_jax.datasets import config as datasets_config
from lstm_jax.optim import schedules


def list_key(*items) -> config_dict.FieldReference:
  """A list-valued key: a tuple in config files, a comma-separated string on
  the command line (normalised to a tuple before the run)."""
  return config_dict.FieldReference(tuple(items), field_type=object)


def default_config() -> ml_collections.ConfigDict:
  """Returns the default configuration: every key of the schema at its default."""
  config = ml_collections.ConfigDict()
  config.name = "default"
  config.seed = 0
  config.data = _data()
  config.embedding = _embedding()
  config.model = _model()
  config.train = _train()
  config.early_stopping = _early_stopping()
  config.reduce_lr_on_plateau = _reduce_lr_on_plateau()
  return config


def _data() -> ml_collections.ConfigDict:
  """The data: what `lstm_jax.datasets` reads (its keys, the formats' included,
  are defined there), then the tokenizer and padding."""
  data = ml_collections.ConfigDict()
  for key, value in datasets_config.defaults().items():
    data[key] = list_key(*value) if isinstance(value, tuple) else value
  # Tokenizer and padding (Keras Tokenizer / pad_sequences semantics).
  data.vocab_size = 20000  # Keras num_words: ids < vocab_size are kept
  data.lowercase = True
  data.oov_token = ""  # "" drops unknown words, as Keras does by default
  data.max_length = 200
  data.padding = "pre"
  data.truncating = "pre"
  data.bucket_lengths = list_key()  # e.g. (32, 64, 128, 200): length bucketing
  return data


def _embedding() -> ml_collections.ConfigDict:
  embedding = ml_collections.ConfigDict()
  embedding.kind = "trainable"  # trainable | glove
  embedding.path = ""  # glove.6B.300d.txt, .txt.gz or glove.6B.zip
  embedding.dim = 300
  embedding.trainable = True
  embedding.oov = "zeros"  # zeros | random: rows of words missing from GloVe
  # The trainable embedding's learning rate as a multiple of the others' (e.g. 0.1
  # to fine-tune GloVe vectors gently); it follows the same schedule.
  embedding.learning_rate_scale = 1.0
  return embedding


def _model() -> ml_collections.ConfigDict:
  """The Keras recurrent classifier family (lstm_jax/models/classifier.py); the study's
  model is Embedding → LSTM(128) → Dropout(head_dropout) → Dense(C, softmax)."""
  model = ml_collections.ConfigDict()
  model.embedding_dropout = 0.0  # Dropout on the embedded sequence
  model.spatial_dropout = False  # ... as SpatialDropout1D: one mask per sequence and feature
  # One dict per recurrent layer, first to last: units, and optionally cell
  # (lstm, default | gru | simple_rnn: lstm_jax/recurrent/) with the cell's own
  # options (gru: reset_after, True; simple_rnn: activation, tanh | relu),
  # bidirectional (False), merge_mode (concat | sum | mul | ave), dropout (Keras
  # LSTM(dropout=): on the layer's inputs), recurrent_dropout, dropout_after (a
  # Dropout on the layer's output sequence). On the command line: JSON, e.g.
  # '[{"units": 64, "bidirectional": true}, {"units": 32, "cell": "gru"}]'.
  model.recurrent_layers = list_key({"units": 128})
  model.pooling = "last"  # a name of lstm_jax/models/poolings.py (last: the final state)
  model.head_dropout = 0.0  # Dropout between the recurrent stack and the Dense layers
  # One dict per hidden Dense layer: units, and optionally activation (relu) and
  # dropout_after. On the command line: JSON, e.g. '[{"units": 64}]'.
  model.hidden_layers = list_key()
  model.output = "softmax"  # a name of lstm_jax/models/heads.py (its Keras activation)
  model.mask_zero = True
  model.dtype = "float32"  # float32 | bfloat16 (matmuls; state stays float32)
  # fused | scan (reference) | cudnn (CUDA GPUs; LSTM layers only, other cells run fused)
  model.implementation = "fused"
  # Pieces the time axis runs in: on CPU a later piece's input projection
  # overlaps an earlier piece's loop. Results equal up to float rounding.
  model.time_chunks = 4
  # Batches carry their batch vocabulary (`batch_vocab`, `token_index`): the first
  # LSTM layer projects each distinct token once (~5x fewer rows on IMDB).
  # Results equal up to float rounding.
  model.distinct_tokens = True
  return model


def _train() -> ml_collections.ConfigDict:
  """The optimizer (lstm_jax/optim/optimizers.py), its learning-rate schedule
  (lstm_jax/optim/schedules.py, which defines the schedules' own keys), batches
  and devices, and what is printed."""
  train = ml_collections.ConfigDict()
  train.batch_size = 64  # global, over all devices of all processes
  train.max_epochs = 20
  train.learning_rate = 1e-3
  train.optimizer = "adam"  # a name of lstm_jax/optim/optimizers.py's OPTIMIZERS
  train.weight_decay = 0.0  # a decoupled weight decay (adamw; Keras AdamW's default is 0.004)
  # Parameters AdamW leaves alone: those with one of these names on their path.
  train.weight_decay_exclude = list_key("embedding", "bias")
  # A name of lstm_jax/optim/schedules.py's SCHEDULES, spanning max_epochs; a
  # schedule's keys follow (a key the chosen schedule does not read stays at its default).
  train.lr_schedule = "constant"
  for key, spec in schedules.KEYS.items():
    train[key] = spec.default
  train.clip_mode = "global_norm"  # a name of lstm_jax/optim/optimizers.py's CLIP_MODES
  train.clip_norm = 1.0
  train.num_devices = 0  # local devices to use; 0 = all
  # Weights of the training loss per class, as Keras fit(class_weight=):
  # "" none | "balanced" (n / (C * count)) | "label=weight,..." (others keep 1).
  train.class_weight = ""
  # What is printed, as Keras fit(verbose=): 0 nothing, 1 a progress bar within each
  # epoch (a line every 30 s when stdout is not a terminal), 2 one line per epoch.
  # It may change when a run resumes.
  train.verbose = 1
  return train


def _early_stopping() -> ml_collections.ConfigDict:
  """Keras EarlyStopping (lstm_jax/training/early_stopping.py)."""
  early_stopping = ml_collections.ConfigDict()
  early_stopping.monitor = "val_loss"
  early_stopping.mode = "auto"  # auto | min | max
  early_stopping.patience = 3
  early_stopping.min_delta = 0.0
  early_stopping.restore_best = True
  return early_stopping


def _reduce_lr_on_plateau() -> ml_collections.ConfigDict:
  """Keras ReduceLROnPlateau, with its defaults; used when train.lr_schedule is one
  the plateau lowers (reduce_on_plateau), between epochs (lstm_jax/optim/plateau.py)."""
  plateau = ml_collections.ConfigDict()
  plateau.monitor = "val_loss"
  plateau.mode = "auto"  # auto | min | max
  plateau.factor = 0.1
  plateau.patience = 10
  plateau.min_delta = 1e-4
  plateau.cooldown = 0
  plateau.min_lr = 0.0
  return plateau


# Keys added after runs had been made with another behaviour: what a run whose
# config.json lacks the key ran with. A key not named here ran with its default.
LEGACY_VALUES: Mapping[str, Any] = {
    "model.time_chunks": 1,  # the LSTM ran in one piece
    "model.distinct_tokens": False,  # every token slot went to the first layer
}

# The model keys of the first releases (one stack of equal layers), which
# `upgrade` turns into today's: their defaults, and the new key each feeds.
LEGACY_MODEL_KEYS: Mapping[str, Any] = {
    "units": 128, "num_layers": 1, "bidirectional": False, "lstm_dropout": 0.0,
    "recurrent_dropout": 0.0, "dropout": 0.0,
}


# Keys renamed since runs were made: old name → today's (same value).
RENAMED_KEYS: Mapping[str, str] = {
    "model.lstm_layers": "model.recurrent_layers",  # when GRU and SimpleRNN layers came
}


# The key that replaced each model key of the first releases (a flag or an
# override naming an old key is told how to write it: `legacy_key_hint`).
LEGACY_KEY_REPLACEMENTS: Mapping[str, str] = {
    "model.units": "model.recurrent_layers", "model.num_layers": "model.recurrent_layers",
    "model.bidirectional": "model.recurrent_layers",
    "model.lstm_dropout": "model.recurrent_layers",
    "model.recurrent_dropout": "model.recurrent_layers", "model.dropout": "model.head_dropout",
    **RENAMED_KEYS,
}


def known_keys() -> list[str]:
  """Every key of the schema: `section.name`, or `name` at the top level."""
  return [f"{section}.{name}" if isinstance(values, dict) else section
          for section, values in default_config().to_dict().items()
          for name in (values if isinstance(values, dict) else [None])]


def unknown_key_hint(key: str, value: Any, spelling: errors.Spelling) -> str:
  """What to write instead of `key` (set to `value`), a key of no section of the
  schema: the key that replaced one of the first releases, else the nearest key
  of its section, or its section's keys, or the nearest section."""
  if legacy := legacy_key_hint(key, value, spelling):
    return legacy
  known = known_keys()
  section = key.rsplit(".", 1)[0]
  siblings = sorted(k for k in known if k.rsplit(".", 1)[0] == section and "." in k)
  if siblings:
    near = difflib.get_close_matches(key, siblings, n=1, cutoff=0.8)
    return (f"did you mean {near[0]}?" if near else
            f"the keys of {section}: {', '.join(k.rsplit('.', 1)[1] for k in siblings)}")
  sections = sorted({k.split(".")[0] for k in known if "." in k})
  near = difflib.get_close_matches(section, sections, n=1)
  return f"no section {section}" + (f"; did you mean {near[0]}?" if near else
                                    f" (sections: {', '.join(sections)})")


def legacy_key_hint(key: str, value: Any, spelling: errors.Spelling) -> str:
  """How to write `key`=`value` of the first releases today ("" for another key):
  e.g. model.units=128 is model.recurrent_layers=[{"units": 128}]."""
  if key not in LEGACY_KEY_REPLACEMENTS:
    return ""
  section, name = key.split(".")
  new_key = LEGACY_KEY_REPLACEMENTS[key]
  new_value = rename_legacy_keys({section: {name: value}})[section][new_key.split(".")[1]]
  if isinstance(new_value, list):  # layer dicts: the fields the old key set, and units
    new_value = [{field: v for field, v in layer.items() if field == "units" or v}
                 for layer in new_value]
  return (f"{key} of an earlier release is now {new_key}: pass "
          f"{spelling.key(new_key, new_value)}")


def rename_legacy_keys(old: Mapping[str, Any]) -> dict[str, Any]:
  """A copy of a run's `config.json` (or of a config as a dict) with the keys of
  earlier releases in today's form: the first releases' units / num_layers /
  bidirectional / lstm_dropout / recurrent_dropout → recurrent_layers and dropout
  → head_dropout; then `RENAMED_KEYS`.

  Raises:
    ValueError: both a renamed key and its new name are set, to different values.
  """
  renamed = copy.deepcopy(dict(old))
  model = renamed.get("model")
  if isinstance(model, dict) and LEGACY_MODEL_KEYS.keys() & model.keys():
    legacy = {key: model.pop(key, default) for key, default in LEGACY_MODEL_KEYS.items()}
    layer = {"units": legacy["units"], "bidirectional": legacy["bidirectional"],
             "dropout": legacy["lstm_dropout"], "recurrent_dropout": legacy["recurrent_dropout"]}
    model.setdefault("recurrent_layers", [layer] * legacy["num_layers"])
    model.setdefault("head_dropout", legacy["dropout"])
  for old_key, new_key in RENAMED_KEYS.items():
    (old_section, old_name), (new_section, new_name) = (
        old_key.split("."), new_key.split("."))
    values = renamed.get(old_section)
    if not isinstance(values, dict) or old_name not in values:
      continue
    value = values.pop(old_name)
    into = renamed.setdefault(new_section, {})
    if new_name in into and into[new_name] != value:
      raise ValueError(f"{old_key} is the old name of {new_key}, and both are set to "
                       f"different values; set {new_key} alone")
    into[new_name] = value
  return renamed


def upgrade(old: Mapping[str, Any]) -> dict[str, Any]:
  """A run's `config.json` with every key of today's schema, as plain JSON.

  Keys of the first releases are renamed (`rename_legacy_keys`); a key it
  lacks gets the value that runs from before the key used (`LEGACY_VALUES`),
  otherwise today's default; keys it holds are kept.
  """
  upgraded = rename_legacy_keys(old)
  defaults = json.loads(json.dumps(default_config().to_dict()))
  for section, values in defaults.items():
    if not isinstance(values, dict):
      upgraded.setdefault(section, values)
      continue
    into = upgraded.setdefault(section, {})
    for name, value in values.items():
      if isinstance(into, dict) and name not in into:
        into[name] = LEGACY_VALUES.get(f"{section}.{name}", value)
  return upgraded
