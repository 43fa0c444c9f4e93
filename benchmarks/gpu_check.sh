#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): cuDNN/fused/scan equivalence and
# cross-platform lowering tests, one epoch of the study's IMDB model with the
# fused and the cuDNN recurrence, the GPU benchmark, and a 2-GPU run when there
# are two GPUs; each step time-boxed, under 8 minutes on one H100; one summary
# table at the end (also in <workdir>/summary.txt).
#
#   bash benchmarks/gpu_check.sh            # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --smoke    # every step, tiny, on CPU
#
# JAX: a GPU build already installed is used as it is; otherwise the CUDA build
# of the JAX version constraints.txt pins is installed (needs network). The
# project's other dependencies that are missing are installed from the wheels
# of benchmarks/gpu_check_prepare.sh in .gpu_check/wheels (no network needed),
# or else from the package index. The IMDB data: LSTM_JAX_DATA_DIR, or the copy
# in .gpu_check/data. Settings: PYTHON (default python3). Other arguments go to
# gpu_check.py (--workdir, --budget, --steps).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
smoke=0
for arg in "$@"; do [[ "$arg" == --smoke ]] && smoke=1; done

if ((!smoke)) && ! "$PYTHON" -c 'import jax, sys; sys.exit(jax.default_backend() != "gpu")' \
    2>/dev/null; then
  version=$(sed -n 's/^jax==//p' constraints.txt)
  echo "no GPU build of JAX: installing jax[cuda12]==$version"
  "$PYTHON" -m pip install -q "jax[cuda12]==$version"
fi

# import name -> package name, of what lstm_jax and its tests import.
missing=$("$PYTHON" - <<'PY'
import importlib.util
needed = {"ml_collections": "ml_collections", "tensorflow_datasets": "tensorflow-datasets",
          "array_record": "array_record", "tensorboardX": "tensorboardX", "tree": "dm-tree",
          "flax": "flax", "optax": "optax", "orbax": "orbax-checkpoint", "absl": "absl-py",
          "pytest": "pytest", "hypothesis": "hypothesis"}
print(" ".join(p for m, p in needed.items() if importlib.util.find_spec(m) is None))
PY
)
if [[ -n "$missing" ]]; then
  echo "installing: $missing"
  if [[ -d .gpu_check/wheels ]]; then
    # Every prepared wheel (their own dependencies included), beside the
    # environment's packages, which stay as they are.
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target .gpu_check/site \
      --upgrade .gpu_check/wheels/*.whl
    export PYTHONPATH="$PWD/.gpu_check/site${PYTHONPATH:+:$PYTHONPATH}"
  else
    "$PYTHON" -m pip install -q $missing
  fi
fi
if [[ -z "${LSTM_JAX_DATA_DIR:-}" && -d .gpu_check/data ]]; then
  export LSTM_JAX_DATA_DIR="$PWD/.gpu_check/data"
fi
exec "$PYTHON" -m benchmarks.gpu_check "$@"
