"""The figure of one `Inspection`: one column per token, panels top to bottom.

  1. the prediction as it forms: the probability of the most probable classes
     after each token (the model on each prefix);
  2. the gates' mean over units after each token (the states' mean for a cell
     without gates);
  3. a heat map per gate and per state: the `UNITS` units whose value varies
     most over the text (standard deviation over its tokens), unit by unit;
     sigmoid gates on [0, 1], a tanh candidate on [-1, 1], a state symmetric
     around 0 at the scale of its largest value;
  4. each token's contribution to the explained class (integrated gradients).

The padding steps, or the words truncation cut, are one hatched column on
their side of the text, labelled with their number: masked padding steps leave
the state unchanged, so there is nothing to draw there.
"""

from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lstm_jax import errors
from lstm_jax.explain import inspection as inspection_lib

UNITS = 12  # rows of each heat map
CLASSES = 4  # classes drawn in the probability panel, most probable first
MAX_LABELLED_COLUMNS = 120  # beyond, every k-th token is labelled
GATE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _columns(inspection: inspection_lib.Inspection) -> tuple[list[str], Optional[int]]:
  """The x tick labels (tokens, and the marker column) and the marker's column."""
  labels = list(inspection.tokens)
  if inspection.padding_steps:
    masked = "masked" if inspection.mask_zero else "not masked"
    marker = f"{inspection.padding_steps} padding ({masked})"
    side = inspection.padding
  elif inspection.words_cut:
    marker = f"{inspection.words_cut} words cut"
    side = inspection.truncating
  else:
    return labels, None
  if side == "pre":
    return [marker, *labels], 0
  return [*labels, marker], len(labels)


def _on_columns(values: np.ndarray, marker: Optional[int]) -> np.ndarray:
  """<float>[n, ...] per token → [columns, ...], NaN in the marker column."""
  if marker is None:
    return values.astype(np.float64)
  blank = np.full((1, *values.shape[1:]), np.nan)
  return np.concatenate([values[:marker], blank, values[marker:]]).astype(np.float64)


def _value_range(values: np.ndarray, is_state: bool) -> tuple[float, float, str]:
  """vmin, vmax and colour map: gates in [0, 1] or [-1, 1] (a tanh-bounded candidate);
  states symmetric around 0 at the scale of their largest value."""
  if not is_state and values.min() >= 0 and values.max() <= 1:
    return 0.0, 1.0, "viridis"
  if not is_state and np.abs(values).max() <= 1:
    return -1.0, 1.0, "RdBu_r"
  top = float(np.abs(values).max()) or 1.0
  return -top, top, "RdBu_r"


def most_varying_units(values: np.ndarray, units: int = UNITS) -> np.ndarray:
  """The indices of the `units` units of <float>[n, H] whose values vary most over
  the n tokens (standard deviation), in index order."""
  spread = values.std(axis=0) if len(values) > 1 else np.abs(values[0])
  return np.sort(np.argsort(-spread, kind="stable")[:units])


def inspection_figure(inspection: inspection_lib.Inspection, *, layer: Optional[str] = None,
                      units: int = UNITS, heat_maps: Optional[Sequence[str]] = None) -> Figure:
  """Draws `inspection` (see the module docstring) for `layer` (default: the first),
  with a heat map for each of `heat_maps` (gate and state names; default all)."""
  shown = inspection.layer(layer)
  values = inspection.values[shown.name]
  labels, marker = _columns(inspection)
  x = np.arange(len(labels))
  heat_names = list(shown.value_names if heat_maps is None else heat_maps)
  unknown = [name for name in heat_names if name not in shown.value_names]
  if unknown:
    raise errors.BadValueError(
        f"{shown.name} ({shown.cell.name}) has no gate or state {', '.join(unknown)}; it "
        f"has {', '.join(shown.value_names)}")
  mean_names = list(shown.cell.gate_names) or list(shown.cell.state_names)
  heights = [1.9, 1.6, *[1.25] * len(heat_names), 1.6]
  width = max(8.0, min(28.0, 3.6 + 0.17 * len(labels)))
  # In inches: the titles above, the rotated token labels below, the legends at the right.
  notes = _notes(inspection)
  top = 0.75 + 0.2 * len(notes)
  bottom = 0.7 + 0.065 * max(len(label) for label in labels)
  height = 1.3 * sum(heights) + top + bottom
  figure = Figure(figsize=(width, height))
  FigureCanvasAgg(figure)
  grid = figure.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[1, 0.012],
                             hspace=0.5, wspace=0.01, left=0.9 / width,
                             right=1 - 1.7 / width, top=1 - top / height,
                             bottom=bottom / height)
  axes = [figure.add_subplot(grid[0, 0])]
  axes += [figure.add_subplot(grid[i, 0], sharex=axes[0]) for i in range(1, len(heights))]
  _draw_prediction(axes[0], inspection, x, marker)
  _draw_means(axes[1], shown, values, mean_names, x, marker)
  for row, name in enumerate(heat_names, start=2):
    _draw_heat_map(figure, axes[row], figure.add_subplot(grid[row, 1]), shown, values[name],
                   name, units, marker)
  _draw_attributions(axes[-1], inspection.attribution, x, marker)
  _label_tokens(axes, labels, marker)
  figure.suptitle("\n".join(notes), fontsize=10)
  return figure


_LEGEND = dict(fontsize=7, loc="center left", bbox_to_anchor=(1.005, 0.5), frameon=False)


def _shade_marker(ax, marker: Optional[int]) -> None:
  """Hatches the column that stands for the padding or the truncated words."""
  if marker is not None:
    ax.axvspan(marker - 0.5, marker + 0.5, facecolor="0.9", hatch="//", edgecolor="0.6",
               linewidth=0)


def _draw_prediction(ax, inspection: inspection_lib.Inspection, x: np.ndarray,
                     marker: Optional[int]) -> None:
  """The class probabilities after each token, the final top classes."""
  final = inspection.probabilities[-1]
  for rank, c in enumerate(np.argsort(-final, kind="stable")[:CLASSES]):
    ax.plot(x, _on_columns(inspection.probabilities[:, c], marker), marker="o", markersize=3,
            linewidth=1.5 if rank == 0 else 1.0,
            label=f"{inspection.label_names[c][:18]} ({final[c]:.3f})")
  ax.set_ylim(-0.02, 1.02)
  ax.set_ylabel("probability")
  ax.set_title("prediction as it forms: the model on the text's first k tokens", fontsize=9,
               loc="left")
  ax.legend(**_LEGEND)
  _shade_marker(ax, marker)


def _draw_means(ax, shown, values: dict[str, np.ndarray], mean_names: Sequence[str],
                x: np.ndarray, marker: Optional[int]) -> None:
  """Each gate's mean over the units (the hidden state's for a cell without gates)."""
  for colour, name in zip(GATE_COLOURS, mean_names):
    ax.plot(x, _on_columns(values[name].mean(axis=1), marker), marker=".", markersize=3,
            color=colour, label=name)
  ax.set_ylabel("mean over units")
  ax.set_title(f"{shown.name} ({shown.cell.keras_class}): "
               f"{'gates' if shown.cell.gate_names else 'hidden state'} after each token, "
               f"mean over its {values[mean_names[0]].shape[1]} units", fontsize=9, loc="left")
  ax.legend(**_LEGEND)
  ax.axhline(0, color="0.8", linewidth=0.5)
  _shade_marker(ax, marker)


def _draw_heat_map(figure: Figure, ax, colour_ax, shown, value: np.ndarray, name: str,
                   units: int, marker: Optional[int]) -> None:
  """<float32>[tokens, units] `value` of gate or state `name`: its most varying units."""
  chosen = most_varying_units(value, units)
  shown_values = _on_columns(value[:, chosen], marker).T  # [units, columns]
  columns = shown_values.shape[1]
  vmin, vmax, cmap = _value_range(value, name in shown.cell.state_names)
  image = ax.imshow(np.ma.masked_invalid(shown_values), aspect="auto", cmap=cmap, vmin=vmin,
                    vmax=vmax, interpolation="nearest",
                    extent=(-0.5, columns - 0.5, len(chosen) - 0.5, -0.5))
  ax.set_yticks(range(len(chosen)))
  ax.set_yticklabels([str(u) for u in chosen], fontsize=5)
  ax.set_ylabel("unit", fontsize=8)
  ax.set_title(f"{name}: the {len(chosen)} units that vary most over the text", fontsize=9,
               loc="left")
  _shade_marker(ax, marker)
  colour_bar = figure.colorbar(image, cax=colour_ax)
  colour_bar.set_label(name, fontsize=7)
  colour_bar.ax.tick_params(labelsize=6)


def _draw_attributions(ax, a, x: np.ndarray, marker: Optional[int]) -> None:
  """Each token's integrated-gradients contribution `a` as a bar."""
  contributions = np.nan_to_num(_on_columns(a.values, marker))
  ax.bar(x, contributions, color=["tab:green" if v >= 0 else "tab:red" for v in contributions])
  ax.axhline(0, color="0.5", linewidth=0.5)
  ax.set_ylabel(f"Δ p({a.target})")
  ax.set_title(
      f"each token's contribution to p({a.target}): integrated gradients on the embeddings\n"
      f"sum {np.sum(a.values):+.3f} = p({a.target}) {a.probability:.3f} − "
      f"{a.baseline_probability:.3f} with every token's vector zero "
      f"(quadrature gap {a.gap:+.1e})", fontsize=9, loc="left")
  _shade_marker(ax, marker)


def _label_tokens(axes, labels: Sequence[str], marker: Optional[int]) -> None:
  """The tokens under the last panel; at most MAX_LABELLED_COLUMNS of them labelled."""
  step = max(1, -(-len(labels) // MAX_LABELLED_COLUMNS))
  ticks = [i for i in range(len(labels)) if i % step == 0 or i == marker]
  for ax in axes[:-1]:
    ax.tick_params(labelbottom=False)
  axes[-1].set_xticks(ticks)
  axes[-1].set_xticklabels([labels[i] for i in ticks], rotation=90, fontsize=7)
  axes[-1].set_xlim(-0.5, len(labels) - 0.5)
  axes[-1].set_xlabel("token (the text as the model reads it)" +
                      (f", every {step}th labelled" if step > 1 else ""))


def _notes(inspection: inspection_lib.Inspection) -> list[str]:
  """The title's lines: the text and its label, the unknown words dropped."""
  snippet = inspection.text if inspection.text is not None else " ".join(inspection.tokens)
  snippet = snippet if len(snippet) <= 110 else snippet[:107] + "..."
  notes = [f"“{snippet}” → {inspection.label} ({inspection.probabilities[-1].max():.3f})"]
  if inspection.unknown_words:
    unknown = ", ".join(inspection.unknown_words[:8])
    more = len(inspection.unknown_words) - 8
    notes.append(f"unknown words dropped: {unknown}" + (f" and {more} more" if more > 0 else ""))
  return notes
