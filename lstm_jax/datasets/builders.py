"""TFDS builders for the study's corpora, prepared as `array_record`.

Each builder yields features `text`, `label` (both text) and `id` (where the
row came from), keeps the source order (`disable_shuffling`), and stores the
rows it dropped, by split and reason, in `info.metadata["dropped"]` (the first
of each reason by id in `info.metadata["first_dropped"]`). None of
them needs TensorFlow: archives are read with `tarfile`, files with
`formats.py`.

- `Imdb`: aclImdb v1 (train / test, 25,000 reviews each, labels pos / neg),
  downloaded with a registered checksum or taken from the manual directory.
- `HuffpostNews`: Kaggle News Category Dataset (v2 or v3), manual download;
  one config per version and text choice.
- `TextFiles` / `Letters`: local CSV / TSV / JSON-lines / one-file-per-label
  files; the config name is a fingerprint of the files and reading options,
  so a changed file or option is prepared again.
"""

import dataclasses
import hashlib
import inspect
import itertools
import json
import logging
import os
import re
import sys
import tarfile
from typing import Iterator, Sequence

from etils import epath
import tensorflow_datasets as tfds

from lstm_jax.datasets import dataset_report
from lstm_jax.datasets import formats
from lstm_jax.datasets import readers
from lstm_jax.datasets.errors import DataError

DROPPED = "dropped"  # `info.metadata` key: {split: {reason: count}}.
FIRST_DROPPED = "first_dropped"  # {split: {reason: [id, ...]}}.
SOURCE_FILES = "source_files"  # {absolute path: [size, mtime_ns]} of local files.

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_ARCHIVE = tfds.download.checksums.UrlInfo(
    size=84125825,
    checksum="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    filename="aclImdb_v1.tar.gz")
_IMDB_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt")

Generated = Iterator[tuple[int, dict[str, str]]]


class _TextClassification(tfds.core.GeneratorBasedBuilder):
  """Shared info and generation; subclasses define the splits."""

  DESCRIPTION: str
  HOMEPAGE: str
  CITATION: str

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # TFDS 4.9.x finds a packaged builder's file through `importlib_resources`,
    # which it only requires on Python < 3.9; the module file is the answer.
    return epath.Path(inspect.getfile(cls))

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.DESCRIPTION,
        features=tfds.features.FeaturesDict({
            "text": tfds.features.Text(),
            "label": tfds.features.Text(),
            "id": tfds.features.Text(),
        }),
        homepage=self.HOMEPAGE,
        citation=self.CITATION,
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict({DROPPED: {}, FIRST_DROPPED: {}}),
    )

  # TFDS announces every preparation as "Downloading and preparing dataset
  # Unknown size ...", local files included; these say what happens instead.
  def _log_download_bytes(self) -> None:
    what = self.builder_config.description if self.builder_config else self.name
    download = (f", downloading {self.info.download_size}"
                if self.info.download_size else "")
    # On stderr: the stdout of `evaluate` and `predict` is their result.
    print(f"Preparing {what} into {self.data_dir}{download}; later runs reuse it.",
          file=sys.stderr, flush=True)

  def _log_download_done(self) -> None:
    pass

  def _generate_examples(self, split: str,
                         examples: Iterator[readers.Example],
                         tally: readers.Tally, *, files: tuple[str, ...] = (),
                         without_rows: Sequence[str] = ()) -> Generated:
    """Yields `examples` in order, then records `tally`'s drops for `split`.

    `files`: where the examples come from, if files; `without_rows`: those of
    them that held no row (filled in while `examples` are read).

    Raises:
      DataError: no usable row (TFDS cannot store an empty split).
    """
    key = -1
    for key, example in enumerate(examples):
      yield key, dataclasses.asdict(example)
    if key < 0:
      where = f" ({', '.join(files)})" if files else f" of {self.name}"
      if tally.read:
        (dropped,) = dataset_report.dropped_lines({
            "splits": {split: {"read": tally.read, "dropped": dict(tally.dropped)}},
            "first_dropped": {split: tally.first_dropped}})
        why = f"every row was dropped ({dropped})"
        if without_rows:
          why += f"; {_no_rows(without_rows)}"
      else:
        why = _no_rows(without_rows)
      raise DataError(f"no usable rows in the {split} split{where}: {why}. Check the "
                      "files, data.text_fields and data.label_field")
    for path in without_rows:
      logging.warning("data: %s: %s", split, _no_rows([path]))
    self.info.metadata[DROPPED][split] = dict(tally.dropped)
    self.info.metadata[FIRST_DROPPED][split] = tally.first_dropped

  def _from_files(self, split: str, paths: tuple[str, ...],
                  options: readers.ReadOptions) -> Generated:
    tally = readers.Tally()
    without_rows = []

    def rows_of(path: str) -> Iterator[readers.Example]:
      read = tally.read
      yield from formats.read_file(path, options, tally)
      if tally.read == read:
        without_rows.append(path)

    examples = itertools.chain.from_iterable(rows_of(p) for p in paths)
    return self._generate_examples(split, examples, tally, files=paths,
                                   without_rows=without_rows)


def _no_rows(paths: Sequence[str]) -> str:
  """What files that held no row hold."""
  described = [f"{p} is empty" if os.path.getsize(p) == 0 else
               f"{p} holds no rows (a header line only, or blank lines)" for p in paths]
  return "; ".join(described) or "no rows were read"


class Imdb(_TextClassification):
  """Large Movie Review Dataset v1.0: 25,000 train and 25,000 test reviews."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Read from the official archive with tarfile."}
  DESCRIPTION = ("Movie reviews from IMDB labelled pos (rating >= 7) or neg "
                 "(rating <= 4); the unlabelled reviews are not used.")
  HOMEPAGE = "https://ai.stanford.edu/~amaas/data/sentiment/"
  CITATION = """@InProceedings{maas-EtAl:2011:ACL-HLT2011,
  author    = {Maas, Andrew L. and Daly, Raymond E. and Pham, Peter T. and
               Huang, Dan and Ng, Andrew Y. and Potts, Christopher},
  title     = {Learning Word Vectors for Sentiment Analysis},
  booktitle = {Proceedings of the 49th Annual Meeting of the Association for
               Computational Linguistics: Human Language Technologies},
  year      = {2011},
  pages     = {142--150},
  url       = {http://www.aclweb.org/anthology/P11-1015}
}"""
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Optional (offline use): download {IMDB_URL} and put "
      f"{IMDB_ARCHIVE.filename} unchanged in the manual directory "
      "(data.manual_dir); its checksum is verified.")

  @tfds.core.utils.classproperty
  @classmethod
  def url_infos(cls) -> dict[str, tfds.download.checksums.UrlInfo]:
    return {IMDB_URL: IMDB_ARCHIVE}

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    archive = dl_manager.download(IMDB_URL)  # Uses the manual dir copy first.
    return {split: self._from_archive(split, os.fspath(archive))
            for split in ("train", "test")}

  def _from_archive(self, split: str, archive: str) -> Generated:
    tally = readers.Tally()
    parse = readers.RowParser(readers.ReadOptions(), tally)

    def examples() -> Iterator[readers.Example]:
      with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
          match = _IMDB_MEMBER.fullmatch(member.name)
          if not (member.isfile() and match and match[1] == split):
            continue
          raw = tar.extractfile(member).read()
          try:
            text = raw.decode("utf-8")
          except UnicodeDecodeError as e:
            raise DataError(f"{archive}: {member.name} is not UTF-8 ({e}); "
                            "download the archive again") from None
          example = parse([text], match[2], member.name[len("aclImdb/"):])
          if example:
            yield example

    return self._generate_examples(split, examples(), tally)


@dataclasses.dataclass(eq=False)
class HuffpostConfig(tfds.core.BuilderConfig):
  """`file_version`: v2 or v3; `text_fields`: headline / short_description."""
  file_version: str = "v3"
  text_fields: tuple[str, ...] = ("headline",)


class HuffpostNews(_TextClassification):
  """HuffPost News Category Dataset (Kaggle JSON lines), labelled by category."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Kaggle JSON lines, v2 and v3."}
  DESCRIPTION = ("HuffPost news (2012-2022) labelled by category: v2 has 41 "
                 "categories (200,853 rows), v3 42 (209,527). The text is the "
                 "headline, the short description, or both joined.")
  HOMEPAGE = "https://www.kaggle.com/datasets/rmisra/news-category-dataset"
  CITATION = """@article{misra2022news,
  title   = {News Category Dataset},
  author  = {Misra, Rishabh},
  journal = {arXiv preprint arXiv:2209.11429},
  year    = {2022}
}"""
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Sign in to Kaggle, download the dataset from {HOMEPAGE}, unzip it and "
      "put News_Category_Dataset_v3.json (or News_Category_Dataset_v2.json "
      "with data.huffpost_version='v2') in the manual directory "
      "(data.manual_dir).")
  BUILDER_CONFIGS = [
      HuffpostConfig(name=f"{version}_{'_'.join(fields)}",
                     file_version=version, text_fields=fields,
                     description=f"{' + '.join(fields)}, {version}")
      for version in ("v3", "v2")
      for fields in (("headline",), ("short_description",),
                     ("headline", "short_description"))
  ]

  @staticmethod
  def file_name(version: str) -> str:
    return f"News_Category_Dataset_{version}.json"

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    path = dl_manager.manual_dir / self.file_name(config.file_version)
    options = readers.ReadOptions(format="jsonl",
                                  text_fields=config.text_fields,
                                  label_field="category")
    return {"train": self._from_files("train", (os.fspath(path),), options)}


@dataclasses.dataclass(eq=False)
class FilesConfig(tfds.core.BuilderConfig):
  """Training / test / validation files and how to read them."""
  train_files: tuple[str, ...] = ()
  test_files: tuple[str, ...] = ()
  validation_files: tuple[str, ...] = ()
  read_options: readers.ReadOptions = readers.ReadOptions()


def file_stat(path: str) -> list[int]:
  """[size, mtime_ns]: what tells a changed file apart."""
  info = os.stat(path)
  return [info.st_size, info.st_mtime_ns]


def stale_copies(data_dir: str) -> list[str]:
  """The prepared copies beside `data_dir` (one builder, other configs) made
  from a file that has changed or gone since: no config can reuse them."""
  version_dir = epath.Path(data_dir)
  stale = []
  for metadata in version_dir.parent.parent.glob(f"*/{version_dir.name}/metadata.json"):
    if os.fspath(metadata.parent) == os.fspath(version_dir):
      continue
    try:
      files = json.loads(metadata.read_text()).get(SOURCE_FILES)
    except (OSError, ValueError):
      continue
    if files and any(not os.path.isfile(p) or file_stat(p) != stat
                     for p, stat in files.items()):
      stale.append(os.fspath(metadata.parent.parent))
  return stale


def files_config(train_files: tuple[str, ...], test_files: tuple[str, ...],
                 options: readers.ReadOptions,
                 validation_files: tuple[str, ...] = ()) -> FilesConfig:
  """A config named by a fingerprint of the files and the reading options.

  The fingerprint covers each file's absolute path, size and modification
  time, and every reading option (label names included), so preparing again
  happens exactly when the prepared data could differ.
  """
  def stat(path: str) -> list:
    return [os.path.abspath(path), *file_stat(path)]

  key = json.dumps({
      "train": [stat(p) for p in train_files],
      "test": [stat(p) for p in test_files],
      "validation": [stat(p) for p in validation_files],
      "options": options.fingerprint(),
  }, sort_keys=True)
  return FilesConfig(
      name=hashlib.sha256(key.encode()).hexdigest()[:16],
      description=", ".join(train_files) + "".join(
          f" ({split}: {', '.join(files)})"
          for split, files in (("test", test_files), ("validation", validation_files))
          if files),
      train_files=tuple(os.path.abspath(p) for p in train_files),
      test_files=tuple(os.path.abspath(p) for p in test_files),
      validation_files=tuple(os.path.abspath(p) for p in validation_files),
      read_options=options)


class TextFiles(_TextClassification):
  """Any CSV / TSV / JSON-lines / one-file-per-label files (optionally .gz)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First version."}
  DESCRIPTION = "Labelled texts from local files."
  HOMEPAGE = ""
  CITATION = ""
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Name your files with data.train_files "
                                  "(and data.test_files).")

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # The files are named by the config.
    config = self.builder_config
    self.info.metadata[SOURCE_FILES] = {
        p: file_stat(p) for p in (*config.train_files, *config.test_files,
                                  *config.validation_files)}
    files = {"train": config.train_files, "test": config.test_files,
             "validation": config.validation_files}
    return {split: self._from_files(split, paths, config.read_options)
            for split, paths in files.items() if paths}


class Letters(TextFiles):
  """A letter collection labelled by author or language, from local files.

  A letter without a label, or with several (a list of two senders, or a
  `label_separator` inside the label), is dropped and counted.
  """

  DESCRIPTION = ("Letters labelled by author or by language; letters with no "
                 "or several labels are dropped.")
