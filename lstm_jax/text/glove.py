"""GloVe vectors: reading, caching, downloading, and the embedding matrix.

Reads the official text format (`word v1 ... vE` per line, single spaces, no
header) from `glove.6B.{50,100,200,300}d.txt`, its `.gz`, or a member of
`glove.6B.zip` without extracting it. The text is parsed once by Arrow's
multithreaded CSV reader (no per-float Python work) and the whole table is
cached as a memory-mappable `.npy` plus a words file in `$LSTM_JAX_CACHE_DIR`
(default `~/.cache/lstm_jax`), never beside the source: a data folder is often
shared or under version control. Writing the cache says where, once. The cache
is keyed on the source's path, size and mtime, so a changed file is parsed
again; loading from it reads only the rows asked for.

A path naming a GloVe 6B file (`glove.6B.<dim>d.txt` or `glove.6B.zip`, in
any directory) that is not there is read from the official archive in the
cache directory shared by all runs, `$LSTM_JAX_CACHE_DIR/glove/glove.6B.zip`;
`fetch` downloads it there when it is missing (resumable, a progress bar on a
terminal, every member's CRC-32 checked before the archive is kept).

Command line: `python -m lstm_jax.text.glove download` fetches the official archive
into the shared cache ahead of a run, `--dest DIR` elsewhere.
"""

import argparse
import dataclasses
import functools
import gzip
import hashlib
import json
import logging
import os
import pathlib
import re
import sys
from collections.abc import Iterable, Mapping
from typing import BinaryIO, Callable, Optional
import urllib.error
import urllib.request
import zipfile
import zlib

import numpy as np
import pyarrow as pa
from pyarrow import csv as pa_csv

from lstm_jax import errors

GLOVE_6B_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
GLOVE_6B_ARCHIVE = "glove.6B.zip"  # 822 MiB; glove.6B.{50,100,200,300}d.txt inside
# The names `fetch` can get from the archive.
_GLOVE_6B_NAME = re.compile(r"glove\.6B\.(50|100|200|300)d\.txt|glove\.6B\.zip")
CACHE_ENV = "LSTM_JAX_CACHE_DIR"
CACHE_VERSION = 1
OOV_POLICIES = ("zeros", "random")

_WHERE_TO_GET = (
    "Get it with `python -m lstm_jax.text.glove download --dest DIR` (or download "
    f"{GLOVE_6B_URL} by hand), then point the config key embedding.path "
    "(--config.embedding.path=...) at glove.6B.<dim>d.txt, its .gz, or the .zip.")


class GloveFormatError(errors.UserError, ValueError):
  """A GloVe file that cannot be read as such; the message names file and line."""


class DownloadError(errors.UserError, ConnectionError):
  """The GloVe archive could not be downloaded; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Vectors:
  """Word vectors.

  Attributes:
    words: N words, in file order.
    vectors: <float32>[N, E] (memory-mapped when it is the whole cached table).
    std: standard deviation of all values of the whole file (the scale for
      random vectors of words GloVe lacks).
    source: where the vectors came from.
  """
  words: list[str]
  vectors: np.ndarray
  std: float
  source: str

  @property
  def dim(self) -> int:
    return self.vectors.shape[1]

  @functools.cached_property
  def index(self) -> dict[str, int]:
    """word -> row; the first row wins for a repeated word."""
    n = len(self.words)
    return dict(zip(reversed(self.words), range(n - 1, -1, -1)))


@dataclasses.dataclass(frozen=True)
class _Source:
  path: pathlib.Path
  member: Optional[str]  # inside a zip archive

  @property
  def name(self) -> str:
    return f"{self.path}:{self.member}" if self.member else str(self.path)

  def open(self) -> BinaryIO:
    if self.member:
      return zipfile.ZipFile(self.path).open(self.member)
    if self.path.suffix == ".gz":
      return gzip.open(self.path, "rb")
    return open(self.path, "rb")


def shared_archive() -> pathlib.Path:
  """Where `fetch` keeps the official archive, for every run."""
  return default_cache_dir() / "glove" / GLOVE_6B_ARCHIVE


def names_glove_6b(path: os.PathLike) -> bool:
  """Whether `path`'s file name is one the official archive provides."""
  return _GLOVE_6B_NAME.fullmatch(pathlib.Path(path).name) is not None


def find(path: os.PathLike) -> Optional[pathlib.Path]:
  """The file to read for `path` (embedding.path): the path itself, else for a
  GloVe 6B name the shared archive if it was downloaded; None when neither is."""
  path = pathlib.Path(path).expanduser()
  if path.is_file():
    return path
  if names_glove_6b(path) and shared_archive().is_file():
    return shared_archive()
  return None


def missing_message(path: os.PathLike) -> str:
  """What to do when no file is found for `path`: one message, every route."""
  local = ("point --config.embedding.path at a local glove.6B.<dim>d.txt, its .gz or "
           "glove.6B.zip and set --config.embedding.dim to its width (launch/study.sh: "
           "GLOVE=FILE GLOVE_DIM=DIM)")
  if not names_glove_6b(path):
    return f"embedding.path: GloVe file {path} not found; {local}."
  return (f"embedding.path: {path} not found, and the GloVe 6B archive is not in the "
          f"shared cache {shared_archive()} (${CACHE_ENV} moves it). A run downloads "
          f"it from {GLOVE_6B_URL} when online; offline, copy "
          f"{GLOVE_6B_ARCHIVE} (from that URL) to {shared_archive()}, or {local}.")


def fetch(path: os.PathLike, *, timeout: float = 60.0,
          progress: Optional[Callable[[int, Optional[int]], None]] = None
          ) -> pathlib.Path:
  """`find(path)`, downloading the official archive into the shared cache when
  `path` is a missing GloVe 6B file.

  Raises:
    MissingFileError: nothing to read and nothing downloaded; the message
      (`missing_message`) says where to put which file, and why the download
      failed.
  """
  found = find(path)
  if found is not None:
    return found
  if not names_glove_6b(path):
    raise errors.MissingFileError(missing_message(path))
  target = shared_archive()
  print(f"GloVe: {path} not found; downloading {GLOVE_6B_URL} (822 MiB) into "
        f"{target.parent}, shared by all runs.", file=sys.stderr)
  try:
    return download_glove(target.parent, GLOVE_6B_URL, timeout=timeout,
                          progress=progress, check_zip=True)
  except DownloadError as e:
    raise errors.MissingFileError(f"{missing_message(path)} ({e})") from None


def _resolve(path: os.PathLike, dim: Optional[int], member: Optional[str]) -> _Source:
  requested = pathlib.Path(path).expanduser()
  path = find(requested)
  if path is None:
    raise errors.MissingFileError(missing_message(requested))
  if path != requested and requested.suffix == ".txt":
    member = member or requested.name  # e.g. glove.6B.300d.txt of the archive
  if not zipfile.is_zipfile(path):
    return _Source(path, None)
  with zipfile.ZipFile(path) as archive:
    texts = [n for n in archive.namelist() if n.endswith(".txt")]
  if member is None:
    wanted = [n for n in texts if dim and n.endswith(f".{dim}d.txt")]
    wanted = wanted or (texts if len(texts) == 1 else [])
    if len(wanted) != 1:
      raise errors.BadValueError(f"{path} holds {texts}; set embedding.dim to pick one "
                       "(e.g. 300 for glove.6B.300d.txt).")
    member = wanted[0]
  elif member not in texts:
    raise errors.BadValueError(f"{path} has no member {member!r}; it holds {texts}.")
  return _Source(path, member)


def _first_line(source: _Source) -> tuple[str, int]:
  """The first line's word and number of values; errors for empty files."""
  with source.open() as f:
    line = f.readline()
  fields = line.rstrip(b"\r\n").split(b" ")
  if not line.strip():
    raise GloveFormatError(f"{source.name} is empty (line 1 has no vector). {_WHERE_TO_GET}")
  if len(fields) == 2 and all(f.isdigit() for f in fields):
    raise GloveFormatError(
        f"{source.name}, line 1: {line[:40]!r} looks like a word2vec header; GloVe "
        "text files have none. Remove the first line.")
  return fields[0].decode("utf-8", "replace"), len(fields) - 1


def _check_line(line: bytes, lineno: int, dim: int, name: str) -> None:
  """Raises GloveFormatError if `line` is not a word followed by `dim` numbers."""
  fields = line.rstrip(b"\r\n").split(b" ")
  where = f"{name}, line {lineno}"
  try:
    fields[0].decode("utf-8")
  except UnicodeDecodeError as e:
    raise GloveFormatError(f"{where}: the word is not UTF-8 ({e}).") from None
  if len(fields) - 1 != dim:
    raise GloveFormatError(
        f"{where}: expected a word and {dim} values, found {len(fields) - 1} values "
        f"(line starts {line[:60]!r}).")
  for field in fields[1:]:
    try:
      float(field)
    except ValueError:
      raise GloveFormatError(f"{where}: {field[:30]!r} is not a number.") from None


def parse(source: _Source, dim: int) -> tuple[list[str], np.ndarray]:
  """Parses a whole GloVe text file.

  Args:
    source: the file.
    dim: values per line (from the first line).

  Returns:
    (words, <float32>[N, dim]).

  Raises:
    GloveFormatError: naming the first bad line.
  """
  columns = ["word"] + [f"v{i}" for i in range(dim)]
  types = {name: pa.float32() for name in columns[1:]}
  types["word"] = pa.string()
  try:
    with source.open() as f:
      table = pa_csv.read_csv(
          f,
          read_options=pa_csv.ReadOptions(column_names=columns, block_size=1 << 24),
          parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False,
                                            double_quote=False, escape_char=False),
          convert_options=pa_csv.ConvertOptions(
              column_types=types, null_values=[], strings_can_be_null=False,
              quoted_strings_can_be_null=False))
  except pa.ArrowInvalid as arrow_error:
    # Arrow does not say which line; find it (slow, but only for a bad file).
    with source.open() as f:
      for lineno, line in enumerate(f, 1):
        if line.strip():
          _check_line(line, lineno, dim, source.name)
    raise GloveFormatError(f"{source.name}: unreadable: {arrow_error}") from None
  words = table.column("word").to_pylist()
  matrix = np.empty((len(words), dim), np.float32)
  for i, name in enumerate(columns[1:]):
    matrix[:, i] = table.column(name).to_numpy()
  return words, matrix


def default_cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get(CACHE_ENV, "~/.cache/lstm_jax")).expanduser()


class _Cache:
  """`<stem>.npy` (vectors), `<stem>.words.txt`, `<stem>.json` (key; written last)."""

  def __init__(self, directory: pathlib.Path, stem: str):
    self.vectors = directory / f"{stem}.npy"
    self.words = directory / f"{stem}.words.txt"
    self.meta = directory / f"{stem}.json"

  @staticmethod
  def of(source: _Source, cache_dir: Optional[os.PathLike]) -> "_Cache":
    """The cache of `source` in `cache_dir` (None: `default_cache_dir()`)."""
    stem = source.path.name + (f".{source.member.replace('/', '_')}" if source.member else "")
    path_hash = hashlib.sha1(str(source.path.resolve()).encode()).hexdigest()[:10]
    return _Cache(pathlib.Path(cache_dir or default_cache_dir()),
                  f"{path_hash}-{stem}.lstm_jax")

  def read(self, key: dict) -> Optional[tuple[list[str], np.ndarray, float]]:
    try:
      meta = json.loads(self.meta.read_text())
      if meta.get("key") != key:
        return None
      words = self.words.read_text("utf-8").split("\n")
      vectors = np.load(self.vectors, mmap_mode="r")
    except (OSError, ValueError):
      return None
    if vectors.shape != (len(words), key["dim"]):
      return None
    return words, vectors, meta["std"]

  def write(self, key: dict, words: list[str], vectors: np.ndarray, std: float) -> None:
    self.meta.parent.mkdir(parents=True, exist_ok=True)
    self.meta.unlink(missing_ok=True)  # Invalidate first: a crash leaves no stale key.
    for target, save in ((self.vectors, lambda f: np.save(f, vectors)),
                         (self.words, lambda f: f.write(
                             "\n".join(words).encode("utf-8")))):
      tmp = target.with_name(target.name + ".tmp")
      with open(tmp, "wb") as f:
        save(f)
      os.replace(tmp, target)
    tmp = self.meta.with_name(self.meta.name + ".tmp")
    tmp.write_text(json.dumps({"key": key, "std": std}))
    os.replace(tmp, self.meta)


def _cache_key(source: _Source, dim: int) -> dict:
  stat = source.path.stat()
  return {"version": CACHE_VERSION, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
          "member": source.member, "dim": dim}


def load_glove(path: os.PathLike, *, dim: Optional[int] = None,
               words: Optional[Iterable[str]] = None, member: Optional[str] = None,
               cache: bool = True, cache_dir: Optional[os.PathLike] = None) -> Vectors:
  """Reads GloVe vectors, from the cache when it is current.

  Args:
    path: a `.txt`, `.txt.gz` or `.zip` GloVe file (config key embedding.path).
    dim: the expected vector width (config key embedding.dim); None accepts the
      file's. In a zip it also picks the member `*.{dim}d.txt`.
    words: keep only these words (e.g. a tokenizer's word_index); None keeps all.
    member: the zip member to read, when `dim` does not pick it.
    cache: read and write the `.npy` cache.
    cache_dir: where the cache lives; None means `$LSTM_JAX_CACHE_DIR` (default
      ~/.cache/lstm_jax).

  Returns:
    The vectors of the requested words that the file has, in file order.

  Raises:
    FileNotFoundError: no file at `path` (the message says how to get it).
    GloveFormatError: an empty file, a bad line (named), or a width other than `dim`.
  """
  source = _resolve(path, dim, member)
  _, file_dim = _first_line(source)
  if dim is not None and file_dim != dim:
    raise GloveFormatError(
        f"{source.name} has {file_dim}-dimensional vectors but embedding.dim is {dim}: "
        f"set --config.embedding.dim={file_dim} or use the glove.6B.{dim}d.txt file.")
  key = _cache_key(source, file_dim)
  place = _Cache.of(source, cache_dir) if cache else None
  found = place.read(key) if place else None
  if found is None:
    all_words, table = parse(source, file_dim)
    std = float(table.std(dtype=np.float64)) if table.size else 0.0
    if place:
      try:
        place.write(key, all_words, table, std)
        logging.info("GloVe: %s parsed once and cached in %s ($%s moves the cache); later "
                     "runs read it from there", source.name, place.meta.parent, CACHE_ENV)
      except OSError as e:
        logging.warning("GloVe vectors not cached: cannot write %s (%s); set %s to a folder "
                        "you can write to", place.meta.parent, e.strerror or e, CACHE_ENV)
  else:
    all_words, table, std = found
  full = Vectors(all_words, table, std, source.name)
  if words is None:
    return full
  rows = sorted({full.index[w] for w in words if w in full.index})
  return Vectors([all_words[r] for r in rows], np.asarray(table[rows]), std, source.name)


def embedding_matrix(word_index: Mapping[str, int], vectors: Vectors, vocab_size: int, *,
                     oov: str = "zeros", seed: int = 0,
                     token_counts: Optional[Mapping[str, int]] = None
                     ) -> tuple[np.ndarray, dict[str, float]]:
  """The embedding matrix of a vocabulary, and how much of it GloVe covers.

  Args:
    word_index: word -> row (a tokenizer's `word_index`); rows >= vocab_size
      are not used.
    vectors: GloVe vectors (at least those of the vocabulary).
    vocab_size: V, the number of rows (row 0 is padding).
    oov: rows of words GloVe lacks: "zeros", or "random" (normal with the
      GloVe table's standard deviation; config key embedding.oov).
    seed: for "random".
    token_counts: word -> count in the training texts, for token coverage.

  Returns:
    (matrix <float32>[V, E], coverage) where coverage has `words`,
    `words_found`, `word_coverage` (share of vocabulary rows 1..V-1 with a
    vector) and, with token_counts, `tokens`, `tokens_found`, `token_coverage`
    (share of all training tokens whose word has a row and a vector).
  """
  if oov not in OOV_POLICIES:
    raise ValueError(f"embedding.oov must be one of {OOV_POLICIES}, got {oov!r}.")
  matrix = np.zeros((vocab_size, vectors.dim), np.float32)
  found = np.zeros(vocab_size, bool)
  rows, sources = [], []
  for word, i in word_index.items():
    r = vectors.index.get(word)
    if 0 < i < vocab_size and r is not None:
      rows.append(i)
      sources.append(r)
  matrix[rows] = vectors.vectors[sources]
  found[rows] = True
  missing = np.flatnonzero(~found[1:]) + 1
  if oov == "random" and len(missing):
    rng = np.random.default_rng(seed)
    matrix[missing] = rng.normal(0.0, vectors.std, (len(missing), vectors.dim))
  num_words = vocab_size - 1
  coverage = {"words": num_words, "words_found": int(found.sum()),
              "word_coverage": float(found.sum() / num_words) if num_words else 0.0}
  if token_counts is not None:
    total = sum(token_counts.values())
    hit = sum(c for w, c in token_counts.items()
              if (i := word_index.get(w)) is not None and i < vocab_size and found[i])
    coverage.update(tokens=total, tokens_found=hit,
                    token_coverage=hit / total if total else 0.0)
  return matrix, coverage


def coverage_line(coverage: Mapping[str, float]) -> str:
  """`embedding_matrix`'s coverage in words.

  >>> coverage_line({"words": 19999, "words_found": 18532, "word_coverage": 0.92665})
  'GloVe has vectors for 18,532 of the 19,999 words of the vocabulary (92.7%)'
  """
  line = (f"GloVe has vectors for {coverage['words_found']:,} of the {coverage['words']:,} "
          f"words of the vocabulary ({coverage['word_coverage']:.1%})")
  if "token_coverage" in coverage:
    line += f", {coverage['token_coverage']:.1%} of the training tokens"
  return line


def _progress_printer(stream) -> Callable[[int, Optional[int]], None]:
  def show(done: int, total: Optional[int]) -> None:
    mb = done / 2**20
    text = (f"{100 * done / total:5.1f}% {mb:8.1f} / {total / 2**20:.1f} MiB" if total
            else f"{mb:8.1f} MiB")
    stream.write(f"\r{text}")
    stream.flush()
  return show


def _sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 22), b""):
      digest.update(block)
  return digest.hexdigest()


def download_glove(dest_dir: os.PathLike, url: str = GLOVE_6B_URL,
                   sha256: Optional[str] = None, *, timeout: float = 60.0,
                   progress: Optional[Callable[[int, Optional[int]], None]] = None,
                   check_zip: bool = False) -> pathlib.Path:
  """Downloads a GloVe archive, resuming a partial download.

  The data goes to `<name>.part` and is renamed when complete (and verified,
  when `sha256` is given or `check_zip` is set); a later call continues a
  `.part` file with an HTTP Range request.

  Args:
    dest_dir: the directory to put the file in.
    url: where from (default: the official glove.6B.zip).
    sha256: the expected hex digest, or None to skip the check.
    timeout: seconds of network silence before giving up.
    progress: called with (bytes done, total or None); default: a progress
      line on stderr when it is a terminal.
    check_zip: the file must be a zip archive whose every member matches its
      CRC-32; otherwise it is deleted (DownloadError).

  Returns:
    The downloaded file.
  """
  dest_dir = pathlib.Path(dest_dir).expanduser()
  dest_dir.mkdir(parents=True, exist_ok=True)
  target = dest_dir / pathlib.PurePosixPath(urllib.request.urlparse(url).path).name
  if target.exists():
    _verify(target, sha256, partial=None)
    return target
  part = target.with_name(target.name + ".part")
  offset = part.stat().st_size if part.exists() else 0
  if progress is None and sys.stderr.isatty():
    progress = _progress_printer(sys.stderr)
  request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
  try:
    response = urllib.request.urlopen(request, timeout=timeout)
  except urllib.error.HTTPError as e:
    if e.code != 416 or not offset:  # 416: the partial file is already complete.
      raise DownloadError(f"Downloading {url} failed: HTTP {e.code} {e.reason}. "
                            f"Download it by hand into {dest_dir}.") from None
  except (urllib.error.URLError, OSError) as e:
    raise DownloadError(f"Cannot reach {url} ({e}). Offline? Download it elsewhere and "
                          f"copy it to {target}.") from None
  else:
    with response:
      if response.status != 206:
        offset = 0  # The server ignored the range: start over.
      length = response.headers.get("Content-Length")
      total = offset + int(length) if length else None
      with open(part, "ab" if offset else "wb") as f:
        done = offset
        for block in iter(lambda: response.read(1 << 20), b""):
          f.write(block)
          done += len(block)
          if progress:
            progress(done, total)
    if progress:
      progress(done, total)
    if total is not None and done != total:
      raise DownloadError(f"Download of {url} stopped at {done} of {total} bytes; "
                            f"run again to resume from {part}.")
  _verify(part, sha256, partial=part)
  if check_zip:
    _check_zip(part, url)
  os.replace(part, target)
  return target


def _check_zip(path: pathlib.Path, url: str) -> None:
  """Deletes `path` and raises DownloadError unless every member's CRC-32 matches."""
  try:
    with zipfile.ZipFile(path) as archive:
      bad = archive.testzip()
  except (zipfile.BadZipFile, zlib.error, EOFError) as e:
    bad = f"the archive ({e})"
  if bad is not None:
    path.unlink()
    raise DownloadError(f"The download of {url} is damaged ({bad} fails its checksum); "
                        "it was deleted: run again.")


def _verify(path: pathlib.Path, sha256: Optional[str], partial: Optional[pathlib.Path]) -> None:
  if sha256 is None:
    return
  got = _sha256(path)
  if got != sha256.lower():
    if partial is not None:
      partial.unlink()
    raise errors.BadValueError(f"Checksum mismatch for {path}: expected sha256 {sha256}, got {got}. "
                     + ("The download was deleted; run again." if partial else
                        "Delete the file and download it again."))


def main(argv: Optional[list[str]] = None) -> None:
  parser = argparse.ArgumentParser(prog="python -m lstm_jax.text.glove", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)
  download = commands.add_parser("download", help="download the GloVe archive")
  download.add_argument("--dest", default=None,
                        help="directory to save it in (default: the cache shared by "
                        "runs, where a config naming glove.6B.<dim>d.txt finds it)")
  download.add_argument("--url", default=GLOVE_6B_URL)
  download.add_argument("--sha256", default=None, help="expected hex digest")
  args = parser.parse_args(argv)
  shared = args.dest is None
  try:
    path = download_glove(shared_archive().parent if shared else args.dest, args.url,
                          args.sha256, check_zip=shared)
  except errors.UserError as e:
    errors.exit_with(e)
  print(f"\nSaved {path}. Use it with --config.embedding.path={path}")


if __name__ == "__main__":
  main()
