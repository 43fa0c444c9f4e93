#!/usr/bin/env bash
# What the study's theory predicts, measured (docs/RESULTS.md): trains the cells
# comparison (SimpleRNN, GRU and LSTM on letters by author, HuffPost v3 headline +
# description and IMDB, seeds 0-2: configs/cells/) and the clipping pair (a relu
# SimpleRNN on letters by author without and with clipping) through launch/study.sh,
# then draws the figures and the table into docs/. Resumable as study.sh is.
#
#   bash launch/cells.sh              # train what is missing, then the figures
#   bash launch/cells.sh --figures    # only the figures and the table, from finished runs
#   bash launch/cells.sh --dry_run    # prints the commands, runs nothing
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-runs}"
PYTHON="${PYTHON:-python}"
FIGURES=docs/figures
TASKS=(letters_authors huffpost_both imdb)
CELLS=(simple_rnn gru lstm)
SEEDS=(0 1 2)
UNCLIPPED=cells/letters_authors_simple_rnn_relu_unclipped
CLIPPED=cells/letters_authors_simple_rnn_relu_clipped
CLIPPING=("$UNCLIPPED" "$CLIPPED")

train=true
dry_run=()
case "${1:-}" in
  --figures) train=false ;;
  --dry_run) dry_run=(--dry_run) ;;
  "") ;;
  *) echo "unknown option $1 (accepted: --figures, --dry_run)" >&2; exit 2 ;;
esac
run() {
  if [ "${#dry_run[@]}" -gt 0 ]; then printf '%q ' "$@"; echo; else "$@"; fi
}

experiments=()
for task in "${TASKS[@]}"; do
  for cell in "${CELLS[@]}"; do experiments+=("cells/${task}_${cell}"); done
done
if "$train"; then
  SEEDS="${SEEDS[*]}" RUNS="$RUNS" PYTHON="$PYTHON" bash launch/study.sh "${dry_run[@]}" \
    "${experiments[@]}"
  # Without clipping a run may stop on a non-finite or diverging loss: its steps are kept.
  RUNS="$RUNS" PYTHON="$PYTHON" bash launch/study.sh "${dry_run[@]}" --keep_going "$UNCLIPPED" \
    || echo "$UNCLIPPED stopped early (possible without clipping); its steps.jsonl is drawn"
  RUNS="$RUNS" PYTHON="$PYTHON" bash launch/study.sh "${dry_run[@]}" "$CLIPPED"
fi

seed_dirs=()
for name in "${experiments[@]}"; do
  for seed in "${SEEDS[@]}"; do seed_dirs+=("$RUNS/$name/seed_$seed"); done
done
run "$PYTHON" -m lstm_jax.study.cells "${seed_dirs[@]}" \
  --figure="$FIGURES/cells_by_length.png" --table="$FIGURES/cells.md"
# Letters by author: the longest texts (up to 300 tokens).
run "$PYTHON" -m lstm_jax.study.gradients \
  "$RUNS"/cells/letters_authors_{simple_rnn,gru,lstm}/seed_0 --min_tokens=300 --texts=200 \
  --out="$FIGURES/gradients_over_distance.png" --json="$FIGURES/gradients_over_distance.json"
run "$PYTHON" -m lstm_jax.study.clipping "${CLIPPING[@]/#/$RUNS/}" --out="$FIGURES/clipping.png"
