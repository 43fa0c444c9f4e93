"""A trained classifier looked at on one text, token by token.

`inspect(classifier, texts)` (or `inspect_ids` for token ids) gives, for each
text, an `Inspection`:

  * the text as the model reads it: `classifier.encode`, exactly as `predict`
    encodes it (vocabulary, `max_length`, padding and truncating), with the
    padding steps, the words cut by truncation and the unknown words dropped;
  * the prediction as it forms: the class probabilities of the model on each
    prefix of the token sequence, the first token alone, the first two, ... the
    whole sequence, each encoded (padded) as `predict` encodes a text, and
    computed by `predict`'s own function: the last row is `predict`'s answer;
  * every recurrent layer's gates and states after each token
    (`recording.apply`: the reference recurrence on the layer's own inputs);
  * each token's contribution to the prediction (`Attribution`): integrated
    gradients on the embeddings (docs/INSPECT.md says why).
"""

import dataclasses
from typing import Any, Optional, Sequence
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from lstm_jax import errors
from lstm_jax import serving
from lstm_jax.explain import recording
from lstm_jax.text import tokenizer as tokenizer_lib

# Points on the straight path from the baseline to the input (the trapezoidal
# rule over STEPS intervals); the completeness gap shows whether they suffice.
ATTRIBUTION_STEPS = 64
# The JSON's gate values and attributions are rounded to this many decimals.
JSON_DECIMALS = 6


@dataclasses.dataclass(frozen=True)
class Attribution:
  """Integrated gradients (Sundararajan et al., 2017) on the embedded tokens.

  With F the probability of `target`, x the embedded sequence and x' the
  baseline (every token's vector replaced by zeros; padding, the mask and the
  sequence length unchanged), token t's contribution is

    (x_t - x'_t) . mean over a in [0, 1] of dF/dx_t (x' + a (x - x')),

  the mean taken with the trapezoidal rule over `steps` intervals. The
  contributions add up to F(x) - F(x') (completeness), up to the quadrature
  error that `gap` reports.

  Attributes:
    target: the class explained.
    values: <float32>[n] each token's contribution.
    probability: F(x).
    baseline_probability: F(x').
    steps: the intervals of the quadrature.
  """
  method = "integrated_gradients"
  target: str
  values: np.ndarray
  probability: float
  baseline_probability: float
  steps: int

  @property
  def gap(self) -> float:
    """sum(values) - (F(x) - F(x')): zero for an exact integral."""
    return float(np.sum(self.values, dtype=np.float64)) - (
        self.probability - self.baseline_probability)


@dataclasses.dataclass(frozen=True)
class Inspection:
  """One text, inspected (see the module docstring).

  Attributes:
    text: the text, None when token ids were given.
    token_ids: <int32>[T] the sequence the model reads, padding included.
    positions: <int64>[n] the steps of `token_ids` holding the text's tokens.
    tokens: the n tokens as words (ids as text without a tokenizer).
    padding: "pre" or "post", where the padding is.
    truncating: "pre" or "post", where words are cut from a longer text.
    words_cut: how many of the text's known words truncation cut.
    unknown_words: the text's words outside the vocabulary, dropped.
    mask_zero: whether the padding steps are masked (the state carried over).
    label_names: the classes, index = class id.
    probabilities: <float32>[n, C] after each token (the model on each prefix).
    layers: the recorded layers (`recording.traced_layers`).
    values: layer name -> gate or state name -> <float32>[n, H] after each token.
    attribution: each token's contribution.
  """
  text: Optional[str]
  token_ids: np.ndarray
  positions: np.ndarray
  tokens: list[str]
  padding: str
  truncating: str
  words_cut: int
  unknown_words: list[str]
  mask_zero: bool
  label_names: list[str]
  probabilities: np.ndarray
  layers: list[recording.TracedLayer]
  values: dict[str, dict[str, np.ndarray]]
  attribution: Attribution

  @property
  def padding_steps(self) -> int:
    return len(self.token_ids) - len(self.positions)

  @property
  def label(self) -> str:
    """The predicted class (of the whole sequence)."""
    return self.label_names[int(np.argmax(self.probabilities[-1]))]

  def layer(self, name: Optional[str] = None) -> recording.TracedLayer:
    """The layer called `name`; None: the first (a Bidirectional's forward direction)."""
    if name is None:
      return self.layers[0]
    for layer in self.layers:
      if layer.name == name:
        return layer
    raise errors.BadValueError(f"no recurrent layer {name!r}; the model's layers are "
                               f"{', '.join(l.name for l in self.layers)}")

  def to_json(self, layer: Optional[str] = None) -> dict[str, Any]:
    """The JSON object of `python -m lstm_jax.inspect --json`: the gates are
    those of `layer` (default: the first)."""
    shown = self.layer(layer)
    rounded = lambda a: np.round(np.asarray(a, np.float64), JSON_DECIMALS).tolist()
    a = self.attribution
    return {
        "text": self.text,
        "tokens": self.tokens,
        "padding": {"side": self.padding, "steps": self.padding_steps,
                    "masked": self.mask_zero},
        "truncated": {"side": self.truncating, "words": self.words_cut},
        "unknown_words": self.unknown_words,
        "label": self.label,
        "probabilities": [{name: float(p) for name, p in zip(self.label_names, row)}
                          for row in self.probabilities],
        "layer": shown.name,
        "cell": shown.cell.name,
        "gates": {name: rounded(v) for name, v in self.values[shown.name].items()},
        "attributions": rounded(a.values),
        "attribution": {"method": a.method, "target": a.target, "steps": a.steps,
                        "baseline": "zero embeddings", "probability": a.probability,
                        "baseline_probability": a.baseline_probability,
                        "sum": float(np.sum(a.values, dtype=np.float64)), "gap": a.gap},
    }


class _Inspector:
  """The compiled functions of one classifier's model (holding no reference to the
  classifier, whose cache entry it is)."""

  def __init__(self, classifier: serving.Classifier):
    model = classifier.model
    self.layers = recording.traced_layers(model)
    # The layers' recorded values and the first layer's inputs, of one forward pass.
    self.trace = jax.jit(lambda params, ids: (
        lambda applied: (applied.trace, applied.first_layer_inputs))(
            recording.apply(model, params, ids)))
    self.integrated_gradients = jax.jit(
        lambda params, ids, x, target, steps: integrated_gradients(
            model, params, ids, x, target, steps), static_argnums=(4,))

  def inspect(self, classifier: serving.Classifier, token_ids: np.ndarray,
              tokens: Sequence[str], *, text: Optional[str], words_cut: int,
              unknown_words: list[str], target: Optional[str], steps: int) -> Inspection:
    positions = np.flatnonzero(token_ids)
    prefixes = tokenizer_lib.pad_sequences(
        [token_ids[positions[:k]] for k in range(1, len(positions) + 1)],
        maxlen=len(token_ids), padding=classifier.padding)
    probabilities = classifier.predict_proba_ids(prefixes)
    ids = jnp.asarray(token_ids[None])
    trace, embedded = self.trace(classifier.params, ids)
    trace = jax.device_get(trace)
    values = {layer: {name: v[0, positions] for name, v in trace[layer].items()}
              for layer in trace}
    label_names = classifier.label_names
    target_index = (int(np.argmax(probabilities[-1])) if target is None
                    else _class_index(label_names, target))
    contributions, probability, baseline = jax.device_get(self.integrated_gradients(
        classifier.params, ids, embedded, target_index, steps))
    return Inspection(
        text=text, token_ids=token_ids, positions=positions, tokens=list(tokens),
        padding=classifier.padding, truncating=classifier.truncating, words_cut=words_cut,
        unknown_words=unknown_words, mask_zero=classifier.model.mask_zero,
        label_names=label_names, probabilities=probabilities, layers=self.layers,
        values={layer.name: values[layer.name] for layer in self.layers},
        attribution=Attribution(target=label_names[target_index],
                                values=np.asarray(contributions)[positions],
                                probability=float(probability),
                                baseline_probability=float(baseline), steps=steps))


# One per classifier, so that its compiled functions serve every later call.
_INSPECTORS: "weakref.WeakKeyDictionary[serving.Classifier, _Inspector]" = (
    weakref.WeakKeyDictionary())


def _inspector(classifier: serving.Classifier) -> _Inspector:
  if classifier not in _INSPECTORS:
    _INSPECTORS[classifier] = _Inspector(classifier)
  return _INSPECTORS[classifier]


def _class_index(label_names: Sequence[str], target: str) -> int:
  if target not in label_names:
    raise errors.BadValueError(f"target class {target!r} is not one of the model's classes: "
                               f"{', '.join(label_names)}")
  return list(label_names).index(target)


def integrated_gradients(model: Any, params: Any, token_ids: jax.Array, embedded: jax.Array,
                         target: int, steps: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Integrated gradients of one sequence (see `Attribution`).

  Args:
    model: the classifier.
    params: its parameters.
    token_ids: <int32>[1, T].
    embedded: <float32>[1, T, E] the first recurrent layer's inputs for them.
    target: the class whose probability is explained.
    steps: intervals of the trapezoidal rule.

  Returns:
    <float32>[T] each step's contribution (0 at padding), F(x) and F(x').
  """
  real = (token_ids != 0)[..., None]
  baseline = jnp.where(real, 0.0, embedded)
  alphas = jnp.linspace(0.0, 1.0, steps + 1)[:, None, None]
  path = baseline + alphas * (embedded - baseline)  # [steps + 1, T, E]
  ids = jnp.broadcast_to(token_ids, (steps + 1, token_ids.shape[1]))

  def target_probability(path):
    logits = recording.apply(model, params, ids, first_layer_inputs=path, trace=False).logits
    p = model.head.class_probabilities(logits.astype(jnp.float32))[:, target]
    return jnp.sum(p), p

  gradients, p = jax.grad(target_probability, has_aux=True)(path)
  weights = jnp.ones(steps + 1).at[0].set(0.5).at[-1].set(0.5) / steps
  mean_gradient = jnp.tensordot(weights, gradients, axes=1)  # [T, E]
  contributions = jnp.sum((embedded[0] - baseline[0]) * mean_gradient, axis=-1)
  return contributions, p[-1], p[0]


def inspect(classifier: serving.Classifier, texts: Sequence[str], *,
            target: Optional[str] = None, steps: int = ATTRIBUTION_STEPS) -> list[Inspection]:
  """Inspects each text (see the module docstring).

  Args:
    classifier: a classifier with a tokenizer (`serving.load_classifier`, or
      `serving.from_model(..., tokenizer=...)`).
    texts: the texts.
    target: the class the attributions explain; None: each text's predicted class.
    steps: intervals of the integrated gradients' quadrature.

  Raises:
    errors.BadValueError: a text is empty, has no word of the vocabulary, or
      `target` is no class; the message names the text by its number.
  """
  if classifier.tokenizer is None:
    raise errors.BadValueError("this classifier has no tokenizer: pass token ids to "
                               "inspect_ids, or tokenizer= to serving.from_model")
  tokenizer = classifier.tokenizer
  word_of = {i: w for w, i in tokenizer.word_index.items()}
  encoded = classifier.encode(texts) if texts else np.zeros((0, 0), np.int32)
  for number, (text, ids) in enumerate(zip(texts, encoded), start=1):
    if not tokenizer.words(text):
      raise errors.BadValueError(f"text {number} is empty: there is nothing to inspect")
    if not ids.any():
      raise errors.BadValueError(
          f"text {number} has no word of the training vocabulary ({_shown(text)}): the "
          "model would read an empty sequence")
  inspector = _inspector(classifier)
  inspections = []
  for text, ids in zip(texts, encoded):
    known = len(tokenizer.texts_to_sequences([text])[0])
    inspections.append(inspector.inspect(
        classifier, ids, [word_of[i] for i in ids[ids != 0]], text=text,
        words_cut=known - int(np.count_nonzero(ids)),
        unknown_words=tokenizer.unknown_words(text), target=target, steps=steps))
  return inspections


def inspect_ids(classifier: serving.Classifier, token_ids: np.ndarray, *,
                tokens: Optional[Sequence[str]] = None, target: Optional[str] = None,
                steps: int = ATTRIBUTION_STEPS) -> Inspection:
  """Inspects one encoded sequence (a classifier without a tokenizer).

  Args:
    classifier: the classifier (e.g. `serving.from_model`).
    token_ids: <int>[T] the sequence as the model reads it, 0 for padding on
      the classifier's `padding` side.
    tokens: a name for each nonzero id, in order; default the ids.
    target: the class the attributions explain; None: the predicted class.
    steps: intervals of the integrated gradients' quadrature.
  """
  token_ids = np.asarray(token_ids, np.int32)
  if token_ids.ndim != 1 or not token_ids.any():
    raise errors.BadValueError(f"token_ids must be one sequence [time] with at least one "
                               f"nonzero id, got shape {token_ids.shape}")
  real = token_ids[token_ids != 0]
  tokens = [str(i) for i in real] if tokens is None else list(tokens)
  if len(tokens) != len(real):
    raise errors.BadValueError(f"{len(tokens)} tokens named for {len(real)} nonzero ids")
  return _inspector(classifier).inspect(classifier, token_ids, tokens, text=None, words_cut=0,
                                        unknown_words=[], target=target, steps=steps)


def _shown(text: str) -> str:
  return repr(text if len(text) <= 60 else text[:57] + "...")
