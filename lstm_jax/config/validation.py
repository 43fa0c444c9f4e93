"""Checks a config before anything is read or compiled.

Every problem is reported at once, each naming the key, the bad value and
what is accepted, so a run never fails minutes in on a typo. The names a
key accepts for an extension point are its registry's (`lstm_jax/registry.py`):
data formats, schedules, optimizers, clipping modes, poolings, outputs.
"""

import dataclasses
import json
from typing import Any, Callable

import jax
import ml_collections

from lstm_jax import datasets
from lstm_jax import errors
from lstm_jax import recurrent as recurrent_lib
from lstm_jax import registry
from lstm_jax.config import schema
from lstm_jax.models import classifier as model_lib
from lstm_jax.models import heads
from lstm_jax.models import poolings
from lstm_jax.optim import optimizers
from lstm_jax.optim import schedules
from lstm_jax.recurrent import cudnn
from lstm_jax.text import glove
from lstm_jax.training import console
from lstm_jax.training import early_stopping

# What an epoch record holds that early stopping and ReduceLROnPlateau can watch.
MONITORED = ("val_loss", "val_accuracy", "loss", "accuracy")

# key: its accepted values, or the registry whose names it accepts (read when
# checking, so an entry registered later is accepted too).
CHOICES = {
    "data.padding": ("pre", "post"),
    "data.truncating": ("pre", "post"),
    "embedding.kind": ("trainable", "glove"),
    "embedding.oov": ("zeros", "random"),
    "model.dtype": ("float32", "bfloat16"),
    "model.implementation": recurrent_lib.IMPLEMENTATIONS,
    "model.pooling": poolings.POOLINGS,
    "model.output": heads.HEADS,
    "train.optimizer": optimizers.OPTIMIZERS,
    "train.clip_mode": optimizers.CLIP_MODES,
    "train.lr_schedule": schedules.SCHEDULES,
    "early_stopping.mode": ("auto",) + early_stopping.MODES,
    "early_stopping.monitor": MONITORED,
    "reduce_lr_on_plateau.mode": ("auto",) + early_stopping.MODES,
    "reduce_lr_on_plateau.monitor": MONITORED,
    "train.verbose": console.VERBOSITIES,
}

# Keys that change what is printed, not what is computed: a run may resume with others.
OUTPUT_ONLY_KEYS = ("train.verbose",)

# key: (lowest, highest, lowest is allowed)
RANGES = {
    "data.vocab_size": (2, None, True),
    "data.max_length": (1, None, True),
    "embedding.dim": (1, None, True),
    "model.embedding_dropout": (0.0, 1.0, True),
    "model.head_dropout": (0.0, 1.0, True),
    "model.time_chunks": (1, None, True),
    "train.batch_size": (1, None, True),
    "train.max_epochs": (1, None, True),
    "train.learning_rate": (0.0, None, False),
    "train.clip_norm": (0.0, None, False),
    "train.weight_decay": (0.0, None, True),
    "embedding.learning_rate_scale": (0.0, None, False),
    "train.num_devices": (0, None, True),
    "early_stopping.patience": (0, None, True),
    "early_stopping.min_delta": (0.0, None, True),
    "reduce_lr_on_plateau.factor": (0.0, 1.0, False),
    "reduce_lr_on_plateau.patience": (0, None, True),
    "reduce_lr_on_plateau.min_delta": (0.0, None, True),
    "reduce_lr_on_plateau.cooldown": (0, None, True),
    "reduce_lr_on_plateau.min_lr": (0.0, None, True),
    **{f"train.{key}": (spec.low, None, True) for key, spec in schedules.KEYS.items()},
}

@dataclasses.dataclass(frozen=True)
class LayerList:
  """A config key holding a list of layer dicts: the keys one item may hold
  (key → (type, required)), given the item, and the item completed with defaults."""
  fields: Callable[[dict], dict[str, tuple[type, bool]]]
  complete: Callable[[dict], dict]


LAYER_LISTS = {
    "model.recurrent_layers": LayerList(
        fields=lambda item: model_lib.recurrent_layer_fields(
            item.get("cell", recurrent_lib.LSTMCell.name)),
        complete=lambda item: model_lib.recurrent_layer_dict(model_lib.recurrent_layer(item))),
    "model.hidden_layers": LayerList(
        fields=lambda item: {f.name: (f.type, f.default is dataclasses.MISSING)
                             for f in dataclasses.fields(model_lib.Hidden)},
        complete=lambda item: dataclasses.asdict(model_lib.Hidden(**item))),
}


class ConfigError(errors.UserError, ValueError):
  """A config that cannot run; the message says which key and what to do."""


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(flatten(v, key + "."))
    else:
      out[key] = v
  return out


def to_plain(d: Any) -> Any:
  """Tuples → lists, recursively, so a config compares equal to its JSON."""
  if isinstance(d, dict):
    return {k: to_plain(v) for k, v in d.items()}
  if isinstance(d, (list, tuple)):
    return [to_plain(v) for v in d]
  return d


def changed_keys(old: dict, new: dict) -> set[str]:
  """Keys whose values differ between a run's config.json and a new config.

  `old` is first upgraded (`config.upgrade`): a key it lacks counts with the
  value the old run used. `OUTPUT_ONLY_KEYS` are never a change.
  """
  a, b = flatten(_complete_layers(schema.upgrade(old))), flatten(_complete_layers(new))
  return {k for k in (a.keys() | b.keys()) - set(OUTPUT_ONLY_KEYS) if a.get(k) != b.get(k)}


def list_keys() -> tuple[str, ...]:
  """The list-valued keys: every key whose default is a tuple, but the layer lists
  (a format's or a schedule's list-valued option included, as its registry entry
  gives the default)."""
  defaults = flatten(schema.default_config().to_dict())
  return tuple(key for key, value in defaults.items()
               if isinstance(value, tuple) and key not in LAYER_LISTS)


def split_list(value: Any) -> tuple:
  """('a,b', 'c') or 'a,b,c' → ('a', 'b', 'c'); command lines pass one string."""
  if isinstance(value, str):
    value = (value,)
  items = []
  for item in value:
    items.extend(p.strip() for p in item.split(",")) if isinstance(item, str) else items.append(item)
  return tuple(i for i in items if i != "")


def _layer_list(key: str, value: Any) -> tuple:
  """A layer list as a tuple of dicts; a string is JSON (the command line)."""
  if isinstance(value, str):
    try:
      value = json.loads(value) if value.strip() else []
    except json.JSONDecodeError as e:
      raise ConfigError(f"{key}={value!r} is not JSON ({e.msg} at character {e.pos}); write "
                        'it as a list of dicts, e.g. \'[{"units": 64}]\'') from None
  if isinstance(value, dict):
    value = [value]
  if not isinstance(value, (list, tuple)):
    return value
  return tuple(dict(item) if isinstance(item, (dict, ml_collections.ConfigDict)) else item
               for item in value)


def _complete_layer(layers: LayerList, item: Any) -> Any:
  """Every field of a valid layer dict, defaults filled in, so that equal layers
  compare equal however they were written; an invalid one is left for `validate`."""
  if not isinstance(item, dict) or _layer_problems(layers, item):
    return item
  return layers.complete(item)


def _complete_layers(plain: dict) -> dict:
  """A plain config whose layer lists hold complete dicts (lists of them)."""
  plain = dict(plain)
  for key, layers in LAYER_LISTS.items():
    section, name = key.split(".")
    values = plain.get(section)
    if isinstance(values, dict) and isinstance(values.get(name), (list, tuple)):
      plain[section] = {**values, name: [_complete_layer(layers, item) for item in values[name]]}
  return plain


def normalize(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Returns a copy with renamed keys under today's names (`schema.RENAMED_KEYS`:
  an old config file still runs), list-valued keys as tuples of items and layer
  lists as tuples of complete dicts."""
  try:
    plain = schema.rename_legacy_keys(config.to_dict())
  except ValueError as e:
    raise ConfigError(str(e)) from None
  for key in list_keys():
    section, name = key.split(".")
    value = split_list(plain[section][name])
    if name == "bucket_lengths":
      value = tuple(int(v) for v in value)
    plain[section][name] = value
  for key, layers in LAYER_LISTS.items():
    section, name = key.split(".")
    if name in plain.get(section, {}):
      value = _layer_list(key, plain[section][name])
      if isinstance(value, tuple):
        value = tuple(_complete_layer(layers, item) for item in value)
      plain[section][name] = value
  return ml_collections.ConfigDict(plain)


def _layer_problems(layers: LayerList, item: dict) -> list[str]:
  """What is wrong with one layer dict, without its key."""
  try:
    fields = layers.fields(item)
  except registry.UnknownEntryError as e:
    return [str(e)]
  problems = [f"unknown field {name!r} (fields: {', '.join(fields)})"
              for name in item if name not in fields]
  problems += [f"needs {name!r}" for name, (_, required) in fields.items()
               if required and name not in item]
  for name, value in item.items():
    want = fields[name][0] if name in fields else None
    if want is float and isinstance(value, int) and not isinstance(value, bool):
      continue
    if want is not None and (not isinstance(value, want)
                             or (want is int and isinstance(value, bool))):
      problems.append(f"{name}={value!r}: expected {want.__name__}")
  return problems


def _check_layers(config: ml_collections.ConfigDict) -> list[str]:
  """Each layer dict, then the model they make (with two classes: the class
  count is known once the data is read)."""
  problems = []
  for key, layers in LAYER_LISTS.items():
    value = flatten(config.to_dict())[key]
    if not isinstance(value, (list, tuple)):
      problems.append(f"{key}={value!r}: expected a list of dicts")
      continue
    for index, item in enumerate(value):
      if not isinstance(item, dict):
        problems.append(f"{key}[{index}]={item!r}: expected a dict")
        continue
      problems += [f"{key}[{index}]: {p}" for p in _layer_problems(layers, item)]
  if not problems:
    try:
      model_lib.from_config(config.model, config.embedding, vocab_size=2, num_classes=2).check()
    except ValueError as e:
      problems.append(f"model: {e}")
  return problems


def check_model(model: model_lib.LSTMClassifier) -> None:
  """Raises ConfigError when the model the config and the data make cannot be built."""
  try:
    model.check()
  except ValueError as e:
    raise ConfigError(f"model: {e}") from None
  if model.implementation == "cudnn" and not cudnn.available():
    raise ConfigError(
        "model.implementation=cudnn needs a CUDA GPU, but JAX's backend is "
        f"{jax.default_backend()!r}; use model.implementation=fused")


def _check_types(config: ml_collections.ConfigDict) -> list[str]:
  expected = flatten(schema.default_config().to_dict())
  given = flatten(config.to_dict())
  problems = []
  for key in sorted(given.keys() - expected.keys()):
    problems.append(f"{key}: unknown key (known keys of its section: "
                    f"{', '.join(k for k in sorted(expected) if k.rsplit('.', 1)[0] == key.rsplit('.', 1)[0])})")
  for key in sorted(given.keys() & expected.keys()):
    want, got = type(expected[key]), given[key]
    if want is float and isinstance(got, int) and not isinstance(got, bool):
      continue
    if want is tuple and isinstance(got, (list, tuple, str)):
      continue
    if not isinstance(got, want) or (want is int and isinstance(got, bool)):
      problems.append(f"{key}={got!r}: expected {want.__name__}")
  return problems


def _check_values(config: ml_collections.ConfigDict) -> list[str]:
  flat = flatten(config.to_dict())
  problems = []
  for key, choices in CHOICES.items():
    names = choices.names() if isinstance(choices, registry.Registry) else choices
    if key in flat and flat[key] not in names:
      problems.append(f"{key}={flat[key]!r}: accepted values are {', '.join(map(str, names))}")
  for key, (low, high, low_ok) in RANGES.items():
    value = flat.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
      continue
    too_low = value < low if low_ok else value <= low
    too_high = high is not None and value >= high
    if too_low or too_high:
      interval = f"{'[' if low_ok else '('}{low}, {high if high is not None else '∞'})"
      problems.append(f"{key}={value!r}: must be in {interval}")
  return problems


def _check_training(config: ml_collections.ConfigDict) -> list[str]:
  """Keys that only make sense together."""
  train, problems = config.train, []
  if train.optimizer in optimizers.OPTIMIZERS:
    decays = optimizers.OPTIMIZERS.get(train.optimizer).weight_decay
    if decays and not train.weight_decay:
      problems.append(f"train.optimizer={train.optimizer!r} with train.weight_decay=0 is "
                      "Adam: set train.weight_decay (Keras AdamW's default is 0.004) or use "
                      "'adam'")
    if train.weight_decay and not decays:
      problems.append(f"train.weight_decay={train.weight_decay} is a decoupled weight decay: "
                      f"set train.optimizer to one with it "
                      f"({', '.join(optimizers.decaying_optimizers())}; now "
                      f"{train.optimizer!r})")
  problems += schedules.unread_keys(train)
  if config.embedding.learning_rate_scale != 1.0 and not config.embedding.trainable:
    problems.append("embedding.learning_rate_scale is for a trainable embedding; set "
                    "embedding.trainable=True to fine-tune it, or leave the scale at 1")
  return problems


def check_warmup(train: ml_collections.ConfigDict, steps_per_epoch: int) -> None:
  """Raises ConfigError when the warmup of the `train` section would not end
  before the run's last step."""
  total = train.max_epochs * steps_per_epoch
  if train.warmup_steps and train.warmup_steps >= total:
    raise ConfigError(
        f"train.warmup_steps={train.warmup_steps} does not end before the run's last "
        f"step ({train.max_epochs} epochs x {steps_per_epoch} steps = {total}); "
        "use fewer warmup steps")


def _check_data(data: ml_collections.ConfigDict) -> list[str]:
  """The input-file keys, checked by the datasets package itself, and the
  source's files (a missing download is listed with a missing GloVe file)."""
  try:
    missing = datasets.missing_source(datasets.DataOptions.from_config(data))
  except datasets.DataError as e:
    return [str(e)]
  return [missing] if missing else []


def _check_glove(embedding: ml_collections.ConfigDict, download: bool) -> list[str]:
  """A missing GloVe 6B file is downloaded into the shared cache if `download`."""
  if not embedding.path:
    return ["embedding.path is empty: embedding.kind='glove' needs a GloVe file "
            "(glove.6B.300d.txt, .txt.gz or glove.6B.zip); download it with "
            "`python -m lstm_jax.text.glove download --dest DIR`"]
  if glove.find(embedding.path) is not None:
    return []
  if not download:
    return [glove.missing_message(embedding.path)]
  try:
    glove.fetch(embedding.path)
  except errors.MissingFileError as e:
    return [str(e)]
  return []


def check_batch_divides(batch_size: int, num_devices: int) -> None:
  if batch_size % num_devices:
    raise ConfigError(
        f"train.batch_size={batch_size} does not divide by the {num_devices} devices of "
        f"this run; use a multiple of {num_devices} (e.g. "
        f"{max(num_devices, batch_size // num_devices * num_devices)}) or set "
        "train.num_devices")


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError listing every problem of `config`."""
  problems = _check_types(config)
  if not problems:
    problems = (_check_values(config) + _check_training(config) + _check_layers(config)
                + _check_data(config.data))
    if config.embedding.kind == "glove":
      # No download while anything else is wrong: one message lists it all.
      problems += _check_glove(config.embedding, download=not problems)
  if problems:
    raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
