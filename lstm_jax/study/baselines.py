"""Reference points on a run's own split: majority class, TF-IDF + logistic regression.

  python -m lstm_jax.study.baselines --workdir=DIR

rebuilds the splits of DIR/config.json with `datasets.load_splits`, as training
does, and writes DIR/baselines.json:

  {"majority": {"test_accuracy", "test_macro_f1", ...},
   "tfidf_logreg": {"test_accuracy", "test_macro_f1", "train_seconds", ...}}

Other entries already in the file (such as "keras", written by the script that
trains the Keras model) are kept. Test examples whose label never occurs in
training are dropped and counted, as the input pipeline drops them.
Needs scikit-learn (requirements-test.txt).
"""

import argparse
import collections
import pathlib
import sys
import time
from typing import Any, Sequence

from lstm_jax import errors
from lstm_jax import workdir as workdir_lib
from lstm_jax.datasets import splits as splits_lib

# Fixed, untuned settings: a reference point, not a competitor tuned on test.
TFIDF_SETTINGS = {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True}
LOGREG_SETTINGS = {"C": 1.0, "max_iter": 1000}


def _require_sklearn() -> None:
  """Raises an ImportError saying how to install scikit-learn if missing."""
  try:
    import sklearn  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise errors.MissingDependencyError(
        "lstm_jax.study.baselines needs scikit-learn: pip install -r "
        "requirements-test.txt") from e


def scores(true_labels: Sequence[str], predicted: Sequence[str]) -> dict:
  """Accuracy and macro-F1 (over the labels in either sequence)."""
  _require_sklearn()
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  return {
      "test_accuracy": float(metrics.accuracy_score(true_labels, predicted)),
      "test_macro_f1": float(metrics.f1_score(
          true_labels, predicted, average="macro", zero_division=0)),
  }


def majority_baseline(train_labels: Sequence[str],
                      test_labels: Sequence[str]) -> dict:
  """Predicts the most frequent training label for every test example.

  Ties go to the label that sorts first, so the result does not depend on
  the order of the data.

  Returns:
    {"test_accuracy", "test_macro_f1", "label"}.
  """
  if not train_labels:
    raise ValueError("majority_baseline: no training labels")
  counts = collections.Counter(train_labels)
  label = min(counts, key=lambda name: (-counts[name], name))
  return {**scores(test_labels, [label] * len(test_labels)), "label": label}


def tfidf_logreg_baseline(train_texts: Sequence[str],
                          train_labels: Sequence[str],
                          test_texts: Sequence[str],
                          test_labels: Sequence[str], seed: int) -> dict:
  """TF-IDF word uni+bigrams and a logistic regression, fit on train only.

  Args:
    train_texts, train_labels: the training split.
    test_texts, test_labels: the test split.
    seed: the solver's random state (the default lbfgs solver does not draw
      random numbers; the seed keeps any other solver reproducible).

  Returns:
    {"test_accuracy", "test_macro_f1", "train_seconds", "num_features",
     "converged", "settings"}.
  """
  _require_sklearn()
  from sklearn import feature_extraction  # pylint: disable=g-import-not-at-top
  from sklearn import linear_model  # pylint: disable=g-import-not-at-top
  vectorizer = feature_extraction.text.TfidfVectorizer(**TFIDF_SETTINGS)
  classifier = linear_model.LogisticRegression(
      random_state=seed, **LOGREG_SETTINGS)
  start = time.perf_counter()
  classifier.fit(vectorizer.fit_transform(train_texts), list(train_labels))
  train_seconds = time.perf_counter() - start
  predicted = classifier.predict(vectorizer.transform(test_texts))
  return {
      **scores(test_labels, list(predicted)),
      "train_seconds": train_seconds,
      "num_features": len(vectorizer.vocabulary_),
      "converged": bool((classifier.n_iter_ < LOGREG_SETTINGS["max_iter"])
                        .all()),
      "settings": {"tfidf": TFIDF_SETTINGS, "logistic_regression":
                   LOGREG_SETTINGS},
  }


def compute_baselines(splits: Any, seed: int) -> dict:
  """Both baselines on `splits` (train and test, each `.texts`, `.labels`)."""
  train, test = splits.train, splits.test
  texts, labels, dropped = splits_lib.with_known_labels(test.texts, test.labels,
                                                        train.labels)
  if not labels:
    raise errors.BadValueError("no test example has a label seen in training")
  counts = {"num_train": len(train.labels), "num_test": len(labels),
            "num_test_dropped_unknown_label": dropped}
  return {
      "majority": {**majority_baseline(train.labels, labels), **counts},
      "tfidf_logreg": {**tfidf_logreg_baseline(train.texts, train.labels,
                                               texts, labels, seed), **counts},
  }


def write_baselines(workdir: pathlib.Path, baselines: dict) -> pathlib.Path:
  """Merges `baselines` into workdir/baselines.json, keeping other entries."""
  path = pathlib.Path(workdir) / workdir_lib.BASELINES_FILE
  merged = workdir_lib.read_json(path) if path.is_file() else {}
  merged.update(baselines)
  workdir_lib.write_json_atomic(path, merged)
  return path


def load_run_splits(workdir: pathlib.Path) -> tuple[Any, int]:
  """The splits and seed of the run in `workdir`, rebuilt from config.json."""
  config_path = pathlib.Path(workdir) / workdir_lib.CONFIG_FILE
  if not config_path.is_file():
    raise errors.MissingFileError(f"{config_path}: missing; is {workdir} a workdir "
                            "of a started run?")
  config = workdir_lib.read_json(config_path)
  if "data" not in config:
    raise errors.BadValueError(f"{config_path}: no 'data' section")
  # Imported here: the datasets package pulls in tensorflow_datasets, which
  # the baseline functions themselves do not need.
  import ml_collections  # pylint: disable=g-import-not-at-top
  from lstm_jax import datasets  # pylint: disable=g-import-not-at-top
  splits = datasets.load_splits(ml_collections.ConfigDict(config["data"]))
  return splits, int(config.get("seed", 0))


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m lstm_jax.study.baselines",
      description="Majority-class and TF-IDF + logistic regression baselines "
      "on a run's split, written to WORKDIR/baselines.json.")
  parser.add_argument("--workdir", type=pathlib.Path, required=True)
  args = parser.parse_args(argv)
  try:
    splits, seed = load_run_splits(args.workdir)
    baselines = compute_baselines(splits, seed)
    path = write_baselines(args.workdir, baselines)
  except errors.UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return errors.EXIT_CODE
  for name, result in baselines.items():
    print(f"{name}: test accuracy {result['test_accuracy']:.4f}, "
          f"macro-F1 {result['test_macro_f1']:.4f}")
  print(f"wrote {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
