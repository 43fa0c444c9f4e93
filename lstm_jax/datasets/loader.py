"""`load_splits`: the `data.*` config → prepared TFDS data → three splits."""

import contextlib
import logging
import pathlib
import shutil
import socket
import urllib.parse
from typing import Any, Mapping

import ml_collections
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import download_manager

from lstm_jax.datasets import builders
from lstm_jax.datasets import dataset_report
from lstm_jax.datasets import formats
from lstm_jax.datasets import splits as splits_lib
from lstm_jax.datasets.config import DataOptions
from lstm_jax.datasets.errors import DataError


@contextlib.contextmanager
def _tfds_warnings_silenced():
  """TFDS logs a warning for every custom builder config; the dataset report
  says what was read, so the warning is only noise here."""
  logger = logging.getLogger("absl")
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


@contextlib.contextmanager
def _progress_bars(enable: bool):
  """TFDS's progress bars on or off for a while (they are global)."""
  # TFDS exposes setting the switch, not reading it.
  before = getattr(tfds.core.utils.tqdm_utils, "_active", True)
  tfds.display_progress_bar(enable and before)
  try:
    yield
  finally:
    tfds.display_progress_bar(before)


def make_builder(options: DataOptions) -> tfds.core.DatasetBuilder:
  """The TFDS builder for `options.source`, rooted at `options.tfds_data_dir`."""
  with _tfds_warnings_silenced():
    return _make_builder(options)


def _make_builder(options: DataOptions) -> tfds.core.DatasetBuilder:
  data_dir = options.tfds_data_dir
  if options.source == "imdb":
    return builders.Imdb(data_dir=data_dir)
  if options.source == "huffpost":
    return builders.HuffpostNews(
        data_dir=data_dir,
        config=f"{options.huffpost_version}_{'_'.join(options.read.text_fields)}")
  builder_cls = builders.Letters if options.source == "letters" else (
      builders.TextFiles)
  return builder_cls(data_dir=data_dir, config=builders.files_config(
      options.train_files, options.test_files, options.read,
      validation_files=options.validation_files))


def _source_splits(options: DataOptions) -> tuple[str, ...]:
  has_test = options.source == "imdb" or bool(options.test_files)
  return ("train",) + (("test",) if has_test else ()) + (
      ("validation",) if options.validation_files else ())


def missing_source(options: DataOptions) -> str:
  """What is missing to prepare the source, with where to put it; "" if nothing.

  Names the missing manual download before TFDS fails on it, and checks that
  a download can reach its server (TFDS would retry for minutes offline).
  """
  if options.source == "huffpost":
    needed = builders.HuffpostNews.file_name(options.huffpost_version)
  elif options.source == "imdb":
    needed = builders.IMDB_ARCHIVE.filename
  else:
    return ""
  builder = make_builder(options)
  if (pathlib.Path(builder.data_dir).is_dir() or
      pathlib.Path(options.manual_dir, needed).is_file()):
    return ""
  if options.source == "imdb":
    if not options.download:
      why = (f"{needed} not found in {options.manual_dir} (data.manual_dir) and "
             f"data.download is False. Offline, put {needed} from {builders.IMDB_URL}")
    elif unreachable := _unreachable(builders.IMDB_URL):
      why = (f"cannot download {builders.IMDB_URL} ({unreachable}). Offline, put "
             f"{needed} from that address")
    else:
      return ""
    return (f"{why} (unchanged: its checksum is verified) in {options.manual_dir} "
            "(data.manual_dir), or give the reviews as local files: data.source=files, "
            "data.train_files=TRAIN and data.test_files=TEST (files of a data.format: "
            f"{', '.join(formats.FORMATS.names())}; docs/USAGE.md, \"Offline\")")
  return (f"{needed} not found in {options.manual_dir} "
          f"(data.manual_dir). {builder.MANUAL_DOWNLOAD_INSTRUCTIONS}")


def _unreachable(url: str, timeout: float = 5.0) -> str:
  """Why `url`'s server cannot be reached, or "" when it can."""
  parts = urllib.parse.urlsplit(url)
  port = parts.port or (443 if parts.scheme == "https" else 80)
  try:
    socket.create_connection((parts.hostname, port), timeout=timeout).close()
  except OSError as e:
    return f"{parts.hostname}: {e}"
  return ""


def prepare(options: DataOptions) -> tfds.core.DatasetBuilder:
  """Prepares the source as `array_record` once; later calls reuse it."""
  if missing := missing_source(options):
    raise DataError(missing)
  builder = make_builder(options)
  # Local files are read in seconds: the bars of TFDS's stages would only be noise.
  try:
    with _progress_bars(options.source == "imdb"):
      builder.download_and_prepare(
          file_format="array_record",
          download_config=tfds.download.DownloadConfig(
              manual_dir=options.manual_dir))
  except download_manager.NonMatchingChecksumError as e:
    raise DataError(f"a downloaded or manual file does not match its "
                    f"registered checksum; delete it and download it again "
                    f"({e})") from None
  if options.source in ("files", "letters"):
    for stale in builders.stale_copies(builder.data_dir):
      # Copies of an edited file would pile up, one per version of it.
      logging.info("deleting %s, prepared from a file that has changed since", stale)
      shutil.rmtree(stale, ignore_errors=True)
  return builder


def _as_str(value: bytes | str) -> str:
  """Prepared Text features come back as bytes; mocked ones as str."""
  return value.decode("utf-8") if isinstance(value, bytes) else value


def read_split(builder: tfds.core.DatasetBuilder, split: str
               ) -> list[tuple[str, str]]:
  """The `(text, label)` rows of a prepared split, in source order."""
  source = builder.as_data_source(split=split)
  # One batched read: several times faster than reading record by record.
  records = source.__getitems__(range(len(source)))
  return [(_as_str(r["text"]), _as_str(r["label"])) for r in records]


def load_splits(data: ml_collections.ConfigDict | Mapping[str, Any]
                ) -> splits_lib.Splits:
  """Reads the configured source into train / validation / test splits.

  Args:
    data: the `data` config; keys and defaults in `config.py`.

  Returns:
    The splits (labels as strings) and the dataset report (`dataset_report.py`),
    in which every row of the source is used or dropped with a reason.

  Raises:
    DataError: a bad key, a missing file or bad rows (named with the fix), or
      no training rows left.
  """
  options = DataOptions.from_config(data)
  builder = prepare(options)
  source = {s: read_split(builder, s) for s in _source_splits(options)}
  rows, accounts = splits_lib.make_splits(
      source["train"], source.get("test"), source.get("validation"),
      validation_split=options.validation_split,
      validation_mode=options.validation_mode,
      test_split=options.test_split,
      seed=options.seed,
      top_k_labels=options.top_k_labels,
      min_examples_per_label=options.min_examples_per_label)
  source_rows = {}
  metadata = builder.info.metadata
  for split, kept in source.items():
    dropped = metadata.get(builders.DROPPED, {}).get(split, {})
    accounts[split].read += sum(dropped.values())
    accounts[split].dropped.update(dropped)
    source_rows[split] = len(kept) + sum(dropped.values())
  split_data = {
      name: splits_lib.SplitData(texts=[t for t, _ in rows[name]],
                                 labels=[l for _, l in rows[name]])
      for name in splits_lib.SPLIT_NAMES}
  report = {
      "source": options.source,
      "labels": sorted(set(split_data["train"].labels)),
      "splits": {name: dataset_report.split_report(
          accounts[name].read, accounts[name].dropped, data.texts, data.labels)
                 for name, data in split_data.items()},
      "source_rows": source_rows,
      # Data prepared before the ids were kept has none.
      "first_dropped": {split: metadata.get(builders.FIRST_DROPPED, {}).get(split, {})
                        for split in source},
  }
  if errors := dataset_report.accounting_errors(report):
    raise AssertionError(f"rows lost between reading and splitting: {errors}")
  if not split_data["train"].texts:
    raise DataError(
        f"no training rows left from {source_rows['train']} read; dropped: "
        f"{report['splits']['train']['dropped']}. Check data.text_fields, "
        "data.label_field and the label filters")
  return splits_lib.Splits(report=report, **split_data)
