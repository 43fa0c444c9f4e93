"""GloVe reading, caching, downloading and the embedding matrix."""

import doctest
import gzip
import hashlib
import http.server
import io
import logging
import os
import threading
import zipfile

import numpy as np
import pytest

from lstm_jax.text import glove

WORDS = ["the", ",", "cat", "don't", "ünï", "the"]  # A repeated word: the first wins.
VECTORS = np.array([[0.418, 0.24968, -0.41242, 0.1217],
                    [0.013441, 0.23682, -0.16899, 0.40951],
                    [-6.3681e-05, 3.746, 1e-3, -2.0],
                    [0.5, -0.5, 0.25, -0.25],
                    [1.0, 2.0, 3.0, 4.0],
                    [9.0, 9.0, 9.0, 9.0]], np.float32)


def glove_text(words=WORDS, vectors=VECTORS) -> bytes:
  return "".join(f"{w} {' '.join('%.5g' % x for x in v)}\n"
                 for w, v in zip(words, vectors)).encode()


def write(path, data: bytes):
  if path.suffix == ".gz":
    path.write_bytes(gzip.compress(data))
  elif path.suffix == ".zip":
    with zipfile.ZipFile(path, "w") as archive:
      archive.writestr("glove.6B.4d.txt", data)
      archive.writestr("glove.6B.3d.txt", b"a 1 2 3\n")
  else:
    path.write_bytes(data)
  return path


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
  directory = tmp_path / "cache"
  monkeypatch.setenv(glove.CACHE_ENV, str(directory))
  return directory


@pytest.mark.parametrize("name", ["glove.6B.4d.txt", "glove.6B.4d.txt.gz", "glove.6B.zip"])
def test_reads_text_gzip_and_zip_member_alike(tmp_path, cache_dir, name):
  vectors = glove.load_glove(write(tmp_path / name, glove_text()), dim=4)
  assert vectors.words == WORDS
  assert vectors.vectors.dtype == np.float32
  np.testing.assert_array_equal(vectors.vectors, VECTORS)
  assert vectors.index["the"] == 0


def test_zip_member_is_picked_by_dim_or_named(tmp_path, cache_dir):
  path = write(tmp_path / "glove.6B.zip", glove_text())
  assert glove.load_glove(path, dim=3).words == ["a"]
  assert glove.load_glove(path, member="glove.6B.3d.txt").words == ["a"]
  with pytest.raises(ValueError, match="set embedding.dim to pick one"):
    glove.load_glove(path)
  with pytest.raises(ValueError, match="no member 'x.txt'"):
    glove.load_glove(path, member="x.txt")


def test_keeps_only_requested_words(tmp_path, cache_dir):
  path = write(tmp_path / "g.txt", glove_text())
  vectors = glove.load_glove(path, words={"cat": 5, "the": 1, "absent": 2})
  assert vectors.words == ["the", "cat"]
  np.testing.assert_array_equal(vectors.vectors, VECTORS[[0, 2]])


def test_std_is_that_of_the_whole_file(tmp_path, cache_dir):
  path = write(tmp_path / "g.txt", glove_text())
  assert glove.load_glove(path, words=["cat"]).std == pytest.approx(
      VECTORS.astype(np.float64).std(), rel=1e-6)


def test_the_cache_goes_to_the_cache_dir_not_beside_the_file_and_says_so(
    tmp_path, cache_dir, monkeypatch, caplog):
  data = tmp_path / "shared_data"
  data.mkdir()
  path = write(data / "g.txt", glove_text())
  with caplog.at_level(logging.INFO):
    glove.load_glove(path)
  assert sorted(p.name for p in data.iterdir()) == ["g.txt"]
  assert sorted(p.name.split("-", 1)[1] for p in cache_dir.iterdir()) == [
      "g.txt.lstm_jax.json", "g.txt.lstm_jax.npy", "g.txt.lstm_jax.words.txt"]
  (said,) = [r.getMessage() for r in caplog.records if "cached in" in r.getMessage()]
  assert said == (f"GloVe: {path} parsed once and cached in {cache_dir} ($LSTM_JAX_CACHE_DIR "
                  "moves the cache); later runs read it from there")
  caplog.clear()
  monkeypatch.setattr(glove, "parse", lambda *a: pytest.fail("parsed again"))
  with caplog.at_level(logging.INFO):
    again = glove.load_glove(path)
  assert isinstance(again.vectors, np.memmap)
  np.testing.assert_array_equal(again.vectors, VECTORS)
  assert again.words == WORDS
  assert not caplog.records  # said once


def test_stale_cache_is_rebuilt(tmp_path, cache_dir):
  path = write(tmp_path / "g.txt", glove_text())
  glove.load_glove(path)
  write(path, glove_text(["dog"], VECTORS[:1] * 2))
  os.utime(path, ns=(1, 1))
  vectors = glove.load_glove(path)
  assert vectors.words == ["dog"]
  np.testing.assert_array_equal(vectors.vectors, VECTORS[:1] * 2)


def test_an_unwritable_cache_dir_is_a_warning_and_the_vectors_still_load(
    tmp_path, cache_dir, caplog):
  path = write(tmp_path / "g.txt", glove_text())
  cache_dir.write_text("a file where the cache folder should be")
  assert glove.load_glove(path).words == WORDS
  assert f"GloVe vectors not cached: cannot write {cache_dir}" in caplog.text
  assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "g.txt"]


def test_without_cache_nothing_is_written(tmp_path, cache_dir):
  path = write(tmp_path / "g.txt", glove_text())
  glove.load_glove(path, cache=False)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt"]


def test_dimension_mismatch_names_the_key(tmp_path, cache_dir):
  path = write(tmp_path / "g.txt", glove_text())
  with pytest.raises(glove.GloveFormatError,
                     match="4-dimensional vectors but embedding.dim is 300"):
    glove.load_glove(path, dim=300)


@pytest.mark.parametrize("bad_line, message", [
    (b"cat 1 2 3\n", "line 3: expected a word and 4 values, found 3"),
    (b"cat 1 2 3 4 5\n", "line 3: expected a word and 4 values, found 5"),
    (b"cat 1 2 x 4\n", "line 3: b'x' is not a number"),
    (b"\xff\xfe 1 2 3 4\n", "line 3: the word is not UTF-8"),
])
def test_malformed_line_is_named(tmp_path, cache_dir, bad_line, message):
  lines = glove_text().splitlines(keepends=True)
  path = write(tmp_path / "g.txt", b"".join(lines[:2] + [bad_line] + lines[2:]))
  with pytest.raises(glove.GloveFormatError, match=message):
    glove.load_glove(path)


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_empty_file_is_an_error(tmp_path, cache_dir, content):
  with pytest.raises(glove.GloveFormatError, match="is empty"):
    glove.load_glove(write(tmp_path / "g.txt", content))


def test_word2vec_header_is_explained(tmp_path, cache_dir):
  path = write(tmp_path / "g.txt", b"6 4\n" + glove_text())
  with pytest.raises(glove.GloveFormatError, match="word2vec header"):
    glove.load_glove(path)


def test_missing_file_says_every_way_to_get_it(tmp_path, cache_dir):
  with pytest.raises(FileNotFoundError) as info:
    glove.load_glove(tmp_path / "glove.6B.300d.txt")
  message = str(info.value)
  assert f"embedding.path: {tmp_path / 'glove.6B.300d.txt'} not found" in message
  assert f"copy glove.6B.zip (from that URL) to {glove.shared_archive()}" in message
  assert glove.GLOVE_6B_URL in message
  assert "--config.embedding.path" in message
  assert "GLOVE=FILE GLOVE_DIM=DIM" in message


def test_a_file_of_another_name_is_not_downloaded(tmp_path, cache_dir):
  with pytest.raises(FileNotFoundError) as info:
    glove.fetch(tmp_path / "vectors.txt")
  assert "shared cache" not in str(info.value)
  assert "GLOVE=FILE GLOVE_DIM=DIM" in str(info.value)


def small_vectors() -> glove.Vectors:
  return glove.Vectors(WORDS[:5], VECTORS[:5], std=2.0, source="test")


def test_embedding_matrix_rows_follow_word_index():
  word_index = {"cat": 1, "zzz": 2, "the": 3, "ünï": 4, "dropped": 5}
  matrix, _ = glove.embedding_matrix(word_index, small_vectors(), vocab_size=5)
  assert matrix.shape == (5, 4) and matrix.dtype == np.float32
  np.testing.assert_array_equal(matrix[0], 0)  # padding
  np.testing.assert_array_equal(matrix[1], VECTORS[2])
  np.testing.assert_array_equal(matrix[2], 0)  # not in GloVe
  np.testing.assert_array_equal(matrix[3], VECTORS[0])
  np.testing.assert_array_equal(matrix[4], VECTORS[4])


def test_doctests():
  assert doctest.testmod(glove).failed == 0


def test_embedding_matrix_coverage():
  word_index = {"cat": 1, "zzz": 2, "the": 3, "ünï": 4, "beyond": 5}
  counts = {"cat": 10, "zzz": 5, "the": 20, "ünï": 1, "beyond": 64}
  _, coverage = glove.embedding_matrix(word_index, small_vectors(), vocab_size=5,
                                       token_counts=counts)
  assert coverage == {"words": 4, "words_found": 3, "word_coverage": 0.75,
                      "tokens": 100, "tokens_found": 31, "token_coverage": 0.31}
  assert glove.coverage_line(coverage) == (
      "GloVe has vectors for 3 of the 4 words of the vocabulary (75.0%), 31.0% of the "
      "training tokens")


def test_random_oov_rows_have_the_glove_scale_and_are_seeded():
  word_index = {f"w{i}": i for i in range(1, 2001)}
  word_index["cat"] = 2001
  vectors = small_vectors()
  matrix, _ = glove.embedding_matrix(word_index, vectors, 2002, oov="random", seed=3)
  again, _ = glove.embedding_matrix(word_index, vectors, 2002, oov="random", seed=3)
  other, _ = glove.embedding_matrix(word_index, vectors, 2002, oov="random", seed=4)
  np.testing.assert_array_equal(matrix[0], 0)
  np.testing.assert_array_equal(matrix[2001], VECTORS[2])
  assert matrix[1:2001].std() == pytest.approx(2.0, rel=0.05)
  np.testing.assert_array_equal(matrix, again)
  assert not np.array_equal(matrix, other)


def test_unknown_oov_policy_is_an_error():
  with pytest.raises(ValueError, match="embedding.oov must be one of"):
    glove.embedding_matrix({}, small_vectors(), 1, oov="mean")


class _Server:
  """Serves one payload on 127.0.0.1, honouring Range unless told not to."""

  def __init__(self, payload: bytes, honour_range: bool = True):
    self.payload = payload
    self.ranges = []
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):

      def do_GET(self):
        start = 0
        header = self.headers.get("Range")
        server.ranges.append(header)
        if header and honour_range:
          start = int(header.removeprefix("bytes=").split("-")[0])
          if start >= len(payload):
            self.send_response(416)
            self.end_headers()
            return
          self.send_response(206)
          self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
          self.send_response(200)
        self.send_header("Content-Length", str(len(payload) - start))
        self.end_headers()
        self.wfile.write(payload[start:])

      def log_message(self, *args):
        pass

    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.url = f"http://127.0.0.1:{self.httpd.server_port}/glove.6B.zip"
    threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

  def close(self):
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def payload():
  return os.urandom(3 << 20)


@pytest.fixture
def server(payload):
  s = _Server(payload)
  yield s
  s.close()


def test_download_with_checksum_and_progress(tmp_path, server, payload):
  seen = []
  path = glove.download_glove(tmp_path, server.url, hashlib.sha256(payload).hexdigest(),
                              progress=lambda done, total: seen.append((done, total)))
  assert path == tmp_path / "glove.6B.zip"
  assert path.read_bytes() == payload
  assert seen[-1] == (len(payload), len(payload))
  assert not (tmp_path / "glove.6B.zip.part").exists()


def test_download_resumes_a_partial_file(tmp_path, server, payload):
  (tmp_path / "glove.6B.zip.part").write_bytes(payload[:1000])
  path = glove.download_glove(tmp_path, server.url, hashlib.sha256(payload).hexdigest())
  assert server.ranges == ["bytes=1000-"]
  assert path.read_bytes() == payload


def test_download_restarts_when_the_server_ignores_range(tmp_path, payload):
  server = _Server(payload, honour_range=False)
  try:
    (tmp_path / "glove.6B.zip.part").write_bytes(b"x" * 1000)
    path = glove.download_glove(tmp_path, server.url)
  finally:
    server.close()
  assert path.read_bytes() == payload


def test_download_of_an_already_complete_part_file(tmp_path, server, payload):
  (tmp_path / "glove.6B.zip.part").write_bytes(payload)
  path = glove.download_glove(tmp_path, server.url, hashlib.sha256(payload).hexdigest())
  assert path.read_bytes() == payload


def test_download_checksum_mismatch_deletes_the_download(tmp_path, server):
  with pytest.raises(ValueError, match="Checksum mismatch.*expected sha256 0000"):
    glove.download_glove(tmp_path, server.url, "0" * 64)
  assert list(tmp_path.iterdir()) == []


def test_download_unreachable_server_says_what_to_do(tmp_path, server):
  url = server.url
  server.close()
  with pytest.raises(ConnectionError, match="Download it elsewhere and copy it to"):
    glove.download_glove(tmp_path, url, timeout=5)


def test_download_command_line(tmp_path, server, payload, capsys):
  glove.main(["download", "--dest", str(tmp_path), "--url", server.url])
  assert (tmp_path / "glove.6B.zip").read_bytes() == payload
  assert "--config.embedding.path=" in capsys.readouterr().out


def test_real_glove_50d(shared_data, tmp_path):
  path = shared_data("glove_6b_50d/glove.6B.50d.top100k.txt.gz")
  vectors = glove.load_glove(path, dim=50, cache_dir=tmp_path)
  assert len(vectors.words) == 100_000
  assert vectors.words[:4] == ["the", ",", ".", "of"]
  assert vectors.words[-1] == "autocephalous"
  np.testing.assert_array_equal(vectors.vectors[0, :3],
                                np.array([0.418, 0.24968, -0.41242], np.float32))
  word_index = {"the": 1, "movie": 2, "qwxzzyq": 3}
  cached = glove.load_glove(path, dim=50, words=word_index, cache_dir=tmp_path)
  matrix, coverage = glove.embedding_matrix(word_index, cached, 4)
  np.testing.assert_array_equal(matrix[1], vectors.vectors[0])
  assert coverage["words_found"] == 2


def glove_6b_archive() -> bytes:
  """A small archive with the official member name of the 50-d vectors."""
  vectors = np.round(np.random.default_rng(0).normal(size=(3, 50)), 3)
  path_bytes = io.BytesIO()
  with zipfile.ZipFile(path_bytes, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("glove.6B.50d.txt", glove_text(["the", "cat", "sat"], vectors))
    archive.writestr("glove.6B.100d.txt", b"a " + b"1 " * 99 + b"1\n")
  return path_bytes.getvalue()


@pytest.fixture
def official(monkeypatch, cache_dir):
  """The official URL served by 127.0.0.1."""
  s = _Server(glove_6b_archive())
  monkeypatch.setattr(glove, "GLOVE_6B_URL", s.url)
  yield s
  s.close()


@pytest.fixture
def offline(monkeypatch, cache_dir):
  """The official URL refuses connections."""
  s = _Server(b"")
  s.close()
  monkeypatch.setattr(glove, "GLOVE_6B_URL", s.url)
  return s


def test_a_missing_glove_6b_file_is_fetched_into_the_shared_cache(tmp_path, official):
  wanted = tmp_path / "glove" / "glove.6B.50d.txt"
  seen = []
  path = glove.fetch(wanted, progress=lambda done, total: seen.append((done, total)))
  assert path == glove.shared_archive()
  assert seen[-1] == (len(official.payload),) * 2
  vectors = glove.load_glove(wanted, dim=50)
  assert vectors.words == ["the", "cat", "sat"]
  assert vectors.source == f"{glove.shared_archive()}:glove.6B.50d.txt"


def test_the_shared_archive_is_downloaded_once(tmp_path, official):
  glove.fetch(tmp_path / "a" / "glove.6B.50d.txt")
  assert glove.fetch(tmp_path / "b" / "glove.6B.100d.txt") == glove.shared_archive()
  assert len(official.ranges) == 1


def test_a_damaged_archive_is_deleted(tmp_path, monkeypatch, cache_dir):
  archive = glove_6b_archive()
  s = _Server(archive[:100] + bytes([archive[100] ^ 0xFF]) + archive[101:])
  monkeypatch.setattr(glove, "GLOVE_6B_URL", s.url)
  try:
    with pytest.raises(FileNotFoundError, match="is damaged"):
      glove.fetch(tmp_path / "glove.6B.50d.txt")
  finally:
    s.close()
  assert list(glove.shared_archive().parent.iterdir()) == []


def test_offline_fetch_is_one_message_with_every_route(tmp_path, offline):
  with pytest.raises(FileNotFoundError) as info:
    glove.fetch(tmp_path / "glove.6B.300d.txt", timeout=5)
  message = str(info.value)
  assert message.startswith(glove.missing_message(tmp_path / "glove.6B.300d.txt"))
  assert "Cannot reach" in message


def test_download_command_line_fills_the_shared_cache(official):
  glove.main(["download", "--url", official.url])
  assert glove.shared_archive().read_bytes() == official.payload
