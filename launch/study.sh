#!/usr/bin/env bash
# Runs every experiment of the study, in sequence, on the public corpora of
# $LSTM_JAX_DATA_DIR (see README "Results"), then the reference points
# (majority class, TF-IDF + logistic regression, the same model in Keras) and
# the report of the experiments it ran, in $RUNS/report/. Resumable: a finished
# run prints its results and is skipped, an interrupted one resumes from its
# last checkpoint.
#
#   bash launch/study.sh                 # all experiments into runs/
#   RUNS=/scratch/runs bash launch/study.sh sentiment_keras huffpost_headline_glove
#   bash launch/study.sh --publish       # no training: the whole study's report
#                                        # into docs/ (the only way it changes)
#   bash launch/study.sh --dry_run ...   # prints the commands, runs nothing
#   SEEDS="0 1 2" bash launch/study.sh strong/imdb   # 3 seeds in runs/strong/imdb/seed_N
#   bash launch/study.sh --keep_going A B  # a failed run is reported, the next one runs
#                                          # (exit status 1 at the end)
#   bash launch/cells.sh                 # the cells comparison (configs/cells/) over seeds
#                                        # 0-2 and the clipping pair, then their figures
#
# GloVe: only the 50d vectors are available here, so the _glove runs override
# embedding.path / embedding.dim; with glove.6B.300d.txt set GLOVE and GLOVE_DIM.
set -euo pipefail
# glibc maps XLA's large per-step scratch afresh every step (page faults);
# huge pages remove most of that cost (docs/PERFORMANCE.md). Opt out by
# setting GLIBC_TUNABLES yourself.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
cd "$(dirname "$0")/.."
DATA="${LSTM_JAX_DATA_DIR:-../shared/data}"
RUNS="${RUNS:-runs}"
PYTHON="${PYTHON:-python}"
GLOVE="${GLOVE:-$DATA/glove_6b_50d/glove.6B.50d.top100k.txt.gz}"
GLOVE_DIM="${GLOVE_DIM:-50}"
PUBLISHED=docs  # the tracked report of the whole study
# The experiments also trained by Keras 3 `fit` (lstm_jax.study.keras_reference); "" for none.
KERAS_REFERENCE="${KERAS_REFERENCE-strong/imdb sentiment_keras sentiment_glove huffpost_headline_keras huffpost_headline_glove huffpost_description_keras huffpost_description_glove huffpost_both_keras huffpost_both_glove huffpost_headline41_keras huffpost_headline41_glove huffpost_both27_keras huffpost_both27_glove}"

imdb=(--config.data.source=files
      --config.data.train_files="$DATA/sentiment_imdb/imdb_train.jsonl.gz"
      --config.data.test_files="$DATA/sentiment_imdb/imdb_test.jsonl.gz")
# The study's three HuffPost views (headline, description, both: the configs'
# text_fields) on one corpus: 9,999 articles of News Category v3, 29 skewed
# categories; no test split: 10% held out, stratified by label and seeded, so
# the six runs share their train / validation / test rows.
huffpost_v3=(--config.data.source=files
             --config.data.train_files="$DATA/news_huffpost_v3/news_category_v3_first10k.jsonl")
# Earlier corpora, kept as additional evidence (huffpost_headline41_*,
# huffpost_both27_*):
# 36,900 headlines, 41 balanced categories (News Category v2); no test split:
# 10% of the rows are held out, stratified.
headlines=(--config.data.source=files
           --config.data.train_files="$DATA/news_huffpost_headlines/huffpost.json"
           --config.data.text_fields=raw --config.data.label_field=label
           --config.data.label_names_file="$DATA/news_huffpost_headlines/huffpost_label_names.json")
# 19,999 rows of headline and description joined (27 categories).
both=(--config.data.source=files --config.data.format=tsv
      --config.data.train_files="$DATA/news_huffpost_headlines/news_category_v2_first20k_concat.tsv"
      --config.data.columns=text,category --config.data.text_fields=text
      --config.data.label_field=category)
letters=(--config.data.train_files="$DATA/letters_bullinger/bullinger_letters.jsonl.gz"
         --config.data.text_fields=text)

# MR sentence polarity (configs/strong/mr.py): 10% held out as test, stratified.
mr=(--config.data.train_files="$DATA/sentiment_mr_polarity/rt-polarity.neg,$DATA/sentiment_mr_polarity/rt-polarity.pos")

overrides() {
  case "$1" in
    sentiment_* | strong/imdb | cells/imdb_*) echo "${imdb[@]}" ;;
    strong/mr) echo "${mr[@]}" ;;
    huffpost_headline41_* | strong/huffpost_headline41) echo "${headlines[@]}" ;;
    huffpost_both27_*) echo "${both[@]}" ;;
    huffpost_* | strong/huffpost_* | cells/huffpost_*) echo "${huffpost_v3[@]}" ;;
    letters_authors_* | strong/letters_authors | cells/letters_authors_*) echo "${letters[@]}" --config.data.label_field=sender_names ;;
    letters_languages_* | strong/letters_languages)
      echo "${letters[@]}" --config.data.label_field=text_lang --config.data.min_examples_per_label=20 ;;
  esac
  case "$1" in
    *_glove | strong/*) echo --config.embedding.path="$GLOVE" --config.embedding.dim="$GLOVE_DIM" ;;
  esac
}

EXPERIMENTS=(letters_authors_keras letters_authors_glove
             letters_languages_keras letters_languages_glove
             huffpost_headline_keras huffpost_headline_glove
             huffpost_description_keras huffpost_description_glove
             huffpost_both_keras huffpost_both_glove
             huffpost_headline41_keras huffpost_headline41_glove
             huffpost_both27_keras huffpost_both27_glove
             sentiment_keras sentiment_glove)
publish=false
dry_run=false
keep_going=false
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --publish) publish=true ;;
    --dry_run) dry_run=true ;;
    --keep_going) keep_going=true ;;
    *) echo "unknown option $1 (accepted: --publish, --dry_run, --keep_going)" >&2; exit 2 ;;
  esac
  shift
done
if "$publish" && [ "$#" -gt 0 ]; then
  echo "--publish reports the whole study; without it, $* are reported into $RUNS/report" >&2
  exit 2
fi
[ "$#" -gt 0 ] && EXPERIMENTS=("$@")

run() {
  if "$dry_run"; then printf '%q ' "$@"; echo; else "$@"; fi
}

# SEEDS="0 1 2": each experiment once per seed (--config.seed), in $RUNS/NAME/seed_N;
# the reference points are computed in the first seed's workdir (they do not
# depend on the seed), and the report adds the mean and spread over the seeds.
read -r -a seeds <<< "${SEEDS:-}"
workdirs=()
for name in "${EXPERIMENTS[@]}"; do
  if [ "${#seeds[@]}" -eq 0 ]; then
    workdirs+=("$RUNS/$name")
  else
    for seed in "${seeds[@]}"; do workdirs+=("$RUNS/$name/seed_$seed"); done
  fi
done
if "$publish"; then
  run "$PYTHON" -m lstm_jax.study.report "${workdirs[@]}" --out "$PUBLISHED"
  exit
fi

# The command a run is credited with in the report (lstm_jax/main.py).
launcher="bash launch/study.sh"
[ "$RUNS" = runs ] || launcher="RUNS=$RUNS $launcher"
[ "${#seeds[@]}" -eq 0 ] || launcher="SEEDS=\"${seeds[*]}\" $launcher"
failed=()
for name in "${EXPERIMENTS[@]}"; do
  first=true
  for workdir in "${workdirs[@]}"; do
    [[ "$workdir" == "$RUNS/$name" || "$workdir" == "$RUNS/$name/seed_"* ]] || continue
    seed_option=()
    [[ "$workdir" == */seed_* ]] && seed_option=(--config.seed="${workdir##*/seed_}")
    echo "=== $name ${seed_option[*]}"
    # Word splitting of the overrides is intended: paths under $DATA have no spaces.
    # shellcheck disable=SC2046
    status=0
    run env LSTM_JAX_LAUNCHER="$launcher $name" \
      "$PYTHON" -m lstm_jax.main --config="configs/$name.py" --workdir="$workdir" \
      $(overrides "$name") "${seed_option[@]}" || status=$?
    if [ "$status" -ne 0 ]; then
      "$keep_going" || exit "$status"
      echo "=== $name ${seed_option[*]} failed (exit status $status); going on" >&2
      failed+=("$workdir")
      continue
    fi
    if "$first"; then
      [ -f "$workdir/baselines.json" ] || run "$PYTHON" -m lstm_jax.study.baselines --workdir="$workdir"
      if [[ " $KERAS_REFERENCE " == *" $name "* ]]; then
        run "$PYTHON" -m lstm_jax.study.keras_reference --workdir="$workdir"
      fi
    fi
    first=false
  done
done
# Only these experiments, into $RUNS/report/ (the report's default).
run "$PYTHON" -m lstm_jax.study.report "${workdirs[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
