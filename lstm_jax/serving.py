"""A trained classifier, loaded from its workdir without the training code path.

Four things of a workdir suffice (see docs/SERVING.md):

  config.json     the resolved config: model shape and padding;
  tokenizer.json  the fitted vocabulary (`Tokenizer.load`);
  labels.json     the class names, index = class id;
  checkpoints/    orbax steps, one per epoch; only the item `parameters` is
                  read (the `params` of `state` in older checkpoints), never
                  the optimizer state.

`load_classifier` picks the epoch: `best` by the monitored metric (the
early-stopping state saved in the newest checkpoint), `last` (the newest
checkpoint), or `results` (the weights `results.json` reports test metrics
for: the best unless `early_stopping.restore_best` was off).

`from_model` serves a `(model, variables)` pair instead, e.g. a Keras model
brought in with `keras_compat.from_keras`: it classifies token ids at the same
speed (precomputed input projections, few compiled shapes).
"""

import dataclasses
import os
import pathlib
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.config import schema
from lstm_jax.models import classifier as model_lib
from lstm_jax.text import tokenizer as tokenizer_lib
from lstm_jax.training import checkpoints

WEIGHTS = ("best", "last", "results")
# Largest per-token input-projection table `Classifier` precomputes (float32).
MAX_PROJECTION_TABLE_BYTES = 1 << 30


class WorkdirError(errors.UserError):
  """A workdir lacks a file or holds one that cannot be used; says which."""


@dataclasses.dataclass(frozen=True)
class Prediction:
  """The classification of one text.

  Attributes:
    label: the most probable class.
    probability: its probability.
    top_k: the k most probable `(label, probability)`, most probable first.
    unknown_fraction: share of the text's words outside the vocabulary; 1.0
      means the model saw nothing it was trained on.
  """
  label: str
  probability: float
  top_k: list[tuple[str, float]]
  unknown_fraction: float

  @property
  def no_known_words(self) -> bool:
    return self.unknown_fraction >= 1.0


class Classifier:
  """Trained parameters with the tokenizer and padding they were trained with.

  Texts are encoded exactly as training encoded them (same vocabulary,
  `data.max_length`, padding and truncating) and classified in batches of at
  most `batch_size` rows; a short batch is filled with padding rows up to the
  next power of two, so that few shapes are compiled.

  The first recurrent layer's input projection of every vocabulary word is computed
  once here (`model.input_projection_table`) when that table fits in
  `MAX_PROJECTION_TABLE_BYTES`: each batch then gathers rows instead of doing
  its largest matmul. `projection_table` is None when it did not fit.

  A classifier without a tokenizer (`from_model`) classifies token ids only.
  """

  def __init__(self, model: model_lib.LSTMClassifier, params: Any,
               tokenizer: Optional[tokenizer_lib.Tokenizer], label_names: Sequence[str], *,
               max_length: Optional[int], padding: str, truncating: str, batch_size: int,
               epoch: Optional[int]):
    self.model = model
    self.params = params
    self.tokenizer = tokenizer
    self.label_names = list(label_names)
    self.max_length = max_length
    self.padding = padding
    self.truncating = truncating
    self.batch_size = batch_size
    self.epoch = epoch  # the epoch whose weights these are; None: not from a workdir
    self.projection_table = (
        model_lib.input_projection_table(params, model)
        if model_lib.projection_table_bytes(model) <= MAX_PROJECTION_TABLE_BYTES else None)
    self._probabilities = jax.jit(
        lambda params, table, token_ids: model.head.class_probabilities(
            model.apply({"params": params}, token_ids, train=False,
                        projection_table=table).astype(jnp.float32)))

  def encode(self, texts: Sequence[str]) -> np.ndarray:
    """<int32>[N, max_length] token ids, as training encoded its data."""
    if self.tokenizer is None:
      raise ValueError("this classifier has no tokenizer (it was made by from_model): "
                       "encode the texts as the model was trained and call "
                       "predict_proba_ids, or pass tokenizer= to from_model")
    return self.tokenizer.encode(texts, self.max_length, padding=self.padding,
                                 truncating=self.truncating)

  def predict_proba_ids(self, token_ids: np.ndarray) -> np.ndarray:
    """Class probabilities of encoded texts.

    Args:
      token_ids: <int32>[N, T], 0 for padding.

    Returns:
      <float32>[N, C], one probability per class (for a sigmoid output the
      second column is what Keras's `predict` returns).
    """
    out = np.zeros((len(token_ids), len(self.label_names)), np.float32)
    for start in range(0, len(token_ids), self.batch_size):
      chunk = token_ids[start:start + self.batch_size]
      rows = min(self.batch_size, 1 << (len(chunk) - 1).bit_length())
      filled = np.zeros((rows, token_ids.shape[1]), np.int32)
      filled[:len(chunk)] = chunk
      out[start:start + len(chunk)] = np.asarray(
          self._probabilities(self.params, self.projection_table, filled))[:len(chunk)]
    return out

  def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
    """<float32>[N, C] class probabilities of N texts."""
    return self.predict_proba_ids(self.encode(texts))

  def predict(self, texts: Sequence[str], top_k: int = 3) -> list[Prediction]:
    """The most probable class of each text, with the `top_k` most probable.

    A text with no known word still gets the model's answer (for an empty
    sequence); its `unknown_fraction` is 1.0 so the caller can warn.
    """
    if top_k < 1:
      raise ValueError(f"top_k must be >= 1, got {top_k}")
    probabilities = self.predict_proba(texts)
    k = min(top_k, len(self.label_names))
    predictions = []
    for text, row in zip(texts, probabilities):
      # Stable sort: equal probabilities keep class order.
      order = np.argsort(-row, kind="stable")[:k]
      ranked = [(self.label_names[i], float(row[i])) for i in order]
      predictions.append(Prediction(
          label=ranked[0][0], probability=ranked[0][1], top_k=ranked,
          unknown_fraction=self.tokenizer.unknown_fraction(text)))
    return predictions


def _required(workdir: pathlib.Path, name: str) -> pathlib.Path:
  if not workdir.is_dir():
    raise WorkdirError(f"workdir {workdir} does not exist or is not a directory")
  path = workdir / name
  if not path.exists():
    raise WorkdirError(
        f"{name} not found in {workdir}: training writes it there "
        f"({workdir_lib.CONFIG_FILE} at the start, {workdir_lib.TOKENIZER_FILE} and "
        f"{workdir_lib.LABELS_FILE} once the data is read, {workdir_lib.CHECKPOINT_DIR}/ after "
        f"each epoch, {workdir_lib.RESULTS_FILE} at the end). The run may not be finished, "
        "or --workdir points at another directory.")
  return path


def read_config(workdir: os.PathLike) -> ml_collections.ConfigDict:
  """The resolved config a run wrote into its workdir."""
  workdir = pathlib.Path(workdir)
  config = workdir_lib.read_json(_required(workdir, workdir_lib.CONFIG_FILE))
  if not isinstance(config, dict) or not {"data", "model", "embedding"} <= config.keys():
    raise WorkdirError(f"{workdir / workdir_lib.CONFIG_FILE} is not a run config: it needs "
                       "the sections data, embedding and model")
  return ml_collections.ConfigDict(schema.upgrade(config))


def read_labels(workdir: os.PathLike) -> list[str]:
  """The class names of a run, index = class id."""
  path = _required(pathlib.Path(workdir), workdir_lib.LABELS_FILE)
  labels = workdir_lib.read_json(path)
  if not isinstance(labels, list) or not labels or not all(isinstance(l, str) for l in labels):
    raise WorkdirError(f"{path} must hold a non-empty JSON list of class names")
  return labels


def saved_epochs(workdir: os.PathLike) -> list[int]:
  """The epochs with a complete checkpoint, oldest first.

  orbax writes a step under a temporary name and renames it when complete,
  so a directory named by a number alone is complete.
  """
  directory = _required(pathlib.Path(workdir), workdir_lib.CHECKPOINT_DIR)
  items = (workdir_lib.PARAMS_ITEM, workdir_lib.STATE_ITEM)
  epochs = sorted(int(p.name) for p in directory.iterdir()
                  if p.name.isdigit() and any((p / item).is_dir() for item in items))
  if not epochs:
    raise WorkdirError(f"no checkpoint in {directory}: a checkpoint is written at the end "
                       "of each epoch, so the run has not finished its first epoch yet")
  return epochs


def _read_json_item(directory: pathlib.Path, item: str) -> dict[str, Any]:
  try:
    with ocp.Checkpointer(ocp.JsonCheckpointHandler()) as checkpointer:
      return checkpointer.restore(directory / item)
  except (OSError, ValueError) as e:
    raise WorkdirError(f"cannot read the item {item!r} of the checkpoint {directory}: "
                       f"{e}") from None


def choose_epoch(workdir: os.PathLike, weights: str = "best") -> int:
  """The epoch whose weights to load (see the module docstring for `weights`)."""
  workdir = pathlib.Path(workdir)
  if weights not in WEIGHTS:
    raise errors.BadValueError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
  epochs = saved_epochs(workdir)
  if weights == "last":
    return epochs[-1]
  if weights == "results":
    path = _required(workdir, workdir_lib.RESULTS_FILE)
    results = workdir_lib.read_json(path)
    if not isinstance(results, dict) or not {"best_epoch", "epochs_run"} <= results.keys():
      raise WorkdirError(f"{path} lacks the keys best_epoch and epochs_run")
    last = results.get("restored_weights") == "last"
    epoch = results["epochs_run"] if last else results["best_epoch"]
  else:
    meta = _read_json_item(workdir / workdir_lib.CHECKPOINT_DIR / str(epochs[-1]),
                           workdir_lib.META_ITEM)
    # No best epoch when the monitored metric was never finite; training then
    # reports the last epoch's weights.
    epoch = meta.get("early_stopping", {}).get("best_epoch") or epochs[-1]
  if epoch not in epochs:
    raise WorkdirError(
        f"the {weights} weights are those of epoch {epoch}, but "
        f"{workdir / workdir_lib.CHECKPOINT_DIR} holds only epochs {epochs}; copy that "
        "epoch's checkpoint or pick --weights=last")
  return epoch


def restore_params(workdir: os.PathLike, epoch: int, target: Any) -> Any:
  """Reads only the parameters of one checkpoint, not the optimizer state.

  Args:
    workdir: the run's directory.
    epoch: a saved epoch.
    target: a pytree of `jax.ShapeDtypeStruct` like the parameters.

  Returns:
    The parameters on the first local device.
  """
  directory = pathlib.Path(workdir).absolute() / workdir_lib.CHECKPOINT_DIR / str(epoch)
  _check_layout(directory, target)
  # Checkpoints written before the split hold the parameters inside the whole state.
  whole_state = not (directory / workdir_lib.PARAMS_ITEM).is_dir()
  path = directory / (workdir_lib.STATE_ITEM if whole_state else workdir_lib.PARAMS_ITEM)
  sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  item = {"params": target} if whole_state else target
  restore_args = jax.tree.map(lambda _: ocp.ArrayRestoreArgs(sharding=sharding), item)
  try:
    with ocp.PyTreeCheckpointer() as checkpointer:
      restored = checkpointer.restore(path, args=ocp.args.PyTreeRestore(
          item=item, restore_args=restore_args, partial_restore=whole_state))
  except (OSError, ValueError, KeyError) as e:
    raise WorkdirError(
        f"cannot read the parameters of {path}: {e}. The checkpoint is damaged; "
        "pick another epoch with --weights") from None
  return restored["params"] if whole_state else restored


def _check_layout(directory: pathlib.Path, target: Any) -> None:
  """Raises when the saved parameters differ from `target` in keys or shapes."""
  layout = _read_json_item(directory, workdir_lib.LAYOUT_ITEM)
  differences = checkpoints.layout_differences(checkpoints.params_layout(layout),
                                               checkpoints.tree_layout(target))
  if differences:
    raise WorkdirError(
        f"the parameters in {directory} do not fit the model that {workdir_lib.CONFIG_FILE}, "
        f"{workdir_lib.TOKENIZER_FILE} and {workdir_lib.LABELS_FILE} describe "
        f"({len(differences)} differences, e.g. {'; '.join(differences[:3])}): these files "
        "come from different runs")


def load_classifier(workdir: os.PathLike, *, weights: str = "best") -> Classifier:
  """Loads a trained classifier from a workdir (or a copy of its serving files).

  Args:
    workdir: directory with config.json, tokenizer.json, labels.json and
      checkpoints/ (and results.json for `weights="results"`).
    weights: "best", "last" or "results" (see the module docstring).

  Returns:
    The classifier.

  Raises:
    WorkdirError: a file is missing or unusable; the message names it.
  """
  workdir = pathlib.Path(workdir)
  config = read_config(workdir)
  tokenizer_path = _required(workdir, workdir_lib.TOKENIZER_FILE)
  try:
    tokenizer = tokenizer_lib.Tokenizer.load(tokenizer_path)
  except ValueError as e:
    raise WorkdirError(str(e)) from None
  label_names = read_labels(workdir)
  epoch = choose_epoch(workdir, weights)
  model = model_lib.from_config(config.model, config.embedding, tokenizer.vocab_size, len(label_names))
  target = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                          jnp.zeros((1, 1), jnp.int32))["params"]
  params = restore_params(workdir, epoch, target)
  return Classifier(model, params, tokenizer, label_names,
                    max_length=config.data.max_length, padding=config.data.padding,
                    truncating=config.data.truncating,
                    batch_size=config.train.batch_size, epoch=epoch)


def from_model(model: model_lib.LSTMClassifier, variables: Any, *, batch_size: int = 256,
               label_names: Optional[Sequence[str]] = None,
               tokenizer: Optional[tokenizer_lib.Tokenizer] = None,
               max_length: Optional[int] = None, padding: str = "pre",
               truncating: str = "pre") -> Classifier:
  """Serves a classifier given as a `(model, variables)` pair.

  Args:
    model: the classifier, e.g. from `keras_compat.from_keras`.
    variables: its `{'params': ...}`.
    batch_size: the most rows classified at once.
    label_names: the class names, index = class id; default "0", "1", ...
    tokenizer: encodes texts for `predict` / `predict_proba`; without one
      only `predict_proba_ids` works.
    max_length, padding, truncating: how the tokenizer's ids are padded
      (`tokenizer.pad_sequences`); max_length None pads to the longest text.

  Returns:
    The classifier (its `epoch` is None).
  """
  model.check()
  if label_names is None:
    label_names = [str(i) for i in range(model.num_classes)]
  if len(label_names) != model.num_classes:
    raise ValueError(f"{len(label_names)} label_names for a model of {model.num_classes} "
                     "classes")
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  return Classifier(model, variables["params"], tokenizer, label_names, max_length=max_length,
                    padding=padding, truncating=truncating, batch_size=batch_size, epoch=None)
