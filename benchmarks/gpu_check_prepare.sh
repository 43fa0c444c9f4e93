#!/usr/bin/env bash
# Prepares what benchmarks/gpu_check.sh needs on a GPU machine without network:
# wheels of the project's dependencies that such a machine lacks (Python 3.12,
# manylinux x86-64; the versions of constraints.txt) and the IMDB data, both in
# .gpu_check/ (git-ignored, ~40 MB), to be copied along with the repository.
#
#   LSTM_JAX_DATA_DIR=../shared/data bash benchmarks/gpu_check_prepare.sh
#
# Settings: PYTHON (default python3; any Python with pip), PYTHON_VERSION (of the
# GPU machine, default 3.12), PACKAGES (the names to fetch, default below: what
# an image with JAX, flax, optax, orbax and PyTorch but not this project lacks).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PYTHON_VERSION="${PYTHON_VERSION:-3.12}"
PACKAGES="${PACKAGES:-ml_collections tensorflow-datasets array_record tensorboardX dm-tree
  immutabledict promise simple-parsing docstring_parser tensorflow-metadata
  googleapis-common-protos termcolor toml}"
DATA_DIR="${LSTM_JAX_DATA_DIR:-../shared/data}"
out=.gpu_check
mkdir -p "$out/wheels" "$out/data/sentiment_imdb"

# The version constraints.txt pins, or the newest when it pins none.
pinned() {
  local v
  v=$(grep -i -E "^$(echo "$1" | sed 's/[-_]/[-_]/g')==" constraints.txt | head -1 | cut -d= -f3)
  if [[ -n "$v" ]]; then echo "$1==$v"; else echo "$1"; fi
}

for package in $PACKAGES; do
  spec=$(pinned "$package")
  # Binary wheels for the GPU machine's Python; a pure-Python package that has
  # only a source archive (promise) is built into a wheel here.
  if ! "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux1_x86_64 -d "$out/wheels" "$spec" 2>/dev/null; then
    "$PYTHON" -m pip wheel -q --no-deps -w "$out/wheels" "$spec"
  fi
done
cp "$DATA_DIR"/sentiment_imdb/imdb_{train,test}.jsonl.gz "$out/data/sentiment_imdb/"
du -sh "$out"
