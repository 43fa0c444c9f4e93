"""The tokenizer against Keras's own legacy Tokenizer and pad_sequences."""

import json

from hypothesis import given, settings, strategies as st
import keras
from keras.src.legacy.preprocessing import text as keras_text
import numpy as np
import pytest

from lstm_jax import errors
from lstm_jax.text import tokenizer as tokenizer_lib
from lstm_jax.text.tokenizer import Tokenizer, pad_sequences

CORPUS = [
    "The cat sat on the mat.",
    "The dog didn't sit; the DOG ran!",
    "Cats & dogs: (friends?) -- maybe...",
    "",
    "   \t\n  ",
    "ΣΑΣ ΟΔΟΣ σας, Straße İstanbul",
    "tab\tseparated\nnew\rline\x0bvertical\xa0nbsp",
    "under_score hy-phen e-mail@example.com 3.14 don't 'quoted'",
]

BEHAVIOURS = {
    "defaults": {},
    "num_words": {"num_words": 5},
    "num_words_one": {"num_words": 1},
    "oov": {"oov_token": "<OOV>"},
    "oov_and_num_words": {"oov_token": "<OOV>", "num_words": 4},
    "oov_token_is_a_word": {"oov_token": "the"},
    "no_lower": {"lower": False},
    "custom_filters": {"filters": "."},
    "no_filters": {"filters": ""},
    "custom_split": {"split": "a"},
    "multichar_split": {"split": "at"},
    "non_ascii_filters": {"filters": "ßσ."},
}


def keras_tokenizer(texts, **kwargs):
  tok = keras_text.Tokenizer(**kwargs)
  tok.fit_on_texts(texts)
  return tok


def assert_same_as_keras(texts, queries, **kwargs):
  ours = Tokenizer(**kwargs)
  ours.fit_on_texts(texts)
  theirs = keras_tokenizer(texts, **kwargs)
  assert ours.word_index == theirs.word_index
  assert list(ours.word_counts.items()) == list(theirs.word_counts.items())
  assert ours.document_count == theirs.document_count
  assert ours.texts_to_sequences(queries) == theirs.texts_to_sequences(queries)


@pytest.mark.parametrize("kwargs", BEHAVIOURS.values(), ids=BEHAVIOURS.keys())
def test_matches_keras_tokenizer(kwargs):
  assert_same_as_keras(CORPUS, CORPUS + ["unseen words THE cat", "mat mat mat"], **kwargs)


def test_ranks_ties_by_first_occurrence():
  tok = Tokenizer()
  tok.fit_on_texts(["b a", "c a b", "d"])
  assert tok.word_index == {"b": 1, "a": 2, "c": 3, "d": 4}


def test_fit_twice_equals_keras_fit_twice():
  ours, theirs = Tokenizer(), keras_text.Tokenizer()
  for batch in (CORPUS[:3], CORPUS[3:]):
    ours.fit_on_texts(batch)
    theirs.fit_on_texts(batch)
  assert ours.word_index == theirs.word_index
  assert ours.document_count == theirs.document_count == len(CORPUS)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 3, 8])
def test_pad_sequences_matches_keras(padding, truncating, maxlen):
  sequences = [[1, 2, 3, 4, 5], [], [6], [7, 8, 9]]
  expected = keras.utils.pad_sequences(sequences, maxlen=maxlen, padding=padding,
                                       truncating=truncating, value=0)
  got = pad_sequences(sequences, maxlen, padding, truncating)
  assert got.dtype == np.int32
  np.testing.assert_array_equal(got, expected)


def test_pad_sequences_value():
  np.testing.assert_array_equal(pad_sequences([[3]], 3, value=-1), [[-1, -1, 3]])


def test_pad_sequences_of_nothing():
  assert pad_sequences([]).shape == (0, 0)
  assert pad_sequences([], maxlen=4).shape == (0, 4)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_encode_is_padded_texts_to_sequences(padding, truncating):
  tok = Tokenizer(num_words=6, oov_token="<unk>")
  tok.fit_on_texts(CORPUS)
  expected = keras.utils.pad_sequences(
      keras_tokenizer(CORPUS, num_words=6, oov_token="<unk>").texts_to_sequences(CORPUS),
      maxlen=4, padding=padding, truncating=truncating)
  got = tok.encode(CORPUS, 4, padding=padding, truncating=truncating)
  assert got.dtype == np.int32
  np.testing.assert_array_equal(got, expected)


def test_encode_without_max_length_uses_longest_text():
  tok = Tokenizer()
  tok.fit_on_texts(["a b c", "a"])
  np.testing.assert_array_equal(tok.encode(["a b c", "a", ""], None),
                                [[1, 2, 3], [0, 0, 1], [0, 0, 0]])
  assert tok.encode(["", "!!"], None).shape == (2, 1)


def test_encode_of_no_texts():
  tok = Tokenizer()
  tok.fit_on_texts(["a"])
  assert tok.encode([], 5).shape == (0, 5)
  assert tok.texts_to_sequences([]) == []


def test_bad_padding_side_is_an_error():
  with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
    Tokenizer().encode(["a"], 3, padding="left")
  with pytest.raises(ValueError, match="truncating must be 'pre' or 'post'"):
    pad_sequences([[1]], 3, truncating="middle")


@pytest.mark.parametrize("texts", ["one string", [b"bytes"], [None]])
def test_non_text_input_is_an_error(texts):
  with pytest.raises(TypeError, match="wrap it in a list|decode bytes|not a str"):
    Tokenizer().fit_on_texts(texts)


@pytest.mark.parametrize("num_words", [0, -3, 2.5, True])
def test_bad_num_words_is_an_error(num_words):
  with pytest.raises(ValueError, match="num_words"):
    Tokenizer(num_words=num_words)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, 9),  # 8 words + padding row
    ({"num_words": 5}, 5),
    ({"num_words": 100}, 9),
    ({"oov_token": "<unk>"}, 10),
    ({"oov_token": "<unk>", "num_words": 5}, 5),
])
def test_vocab_size_bounds_every_encoded_id(kwargs, expected):
  texts = ["a a a b b c d e f g h"]
  tok = Tokenizer(**kwargs)
  tok.fit_on_texts(texts)
  assert tok.vocab_size == expected
  assert tok.encode(texts + ["zzz unseen"], 20).max() == expected - 1


def test_vocab_size_before_fitting_is_the_padding_row():
  assert Tokenizer().vocab_size == 1


def test_unknown_fraction():
  tok = Tokenizer(num_words=3, oov_token="<unk>")
  tok.fit_on_texts(["a a b c"])  # <unk>=1, a=2, b=3 (dropped by num_words), c=4
  assert tok.unknown_fraction("a a") == 0.0
  assert tok.unknown_fraction("a b zzz <unk>") == 0.75
  assert tok.unknown_fraction("...") == 1.0


def test_separator_fallback_when_texts_contain_every_candidate():
  texts = ["".join(map(chr, range(12))) + " a Σ", "b\x0e\x0f\x10ΟΣ a", "ΣΣ\x00"]
  assert_same_as_keras(texts, texts)


def test_save_load_round_trip(tmp_path):
  tok = Tokenizer(num_words=7, oov_token="<OOV>", lower=False, filters="!", split="-")
  tok.fit_on_texts(["Ünïcødé-words!-and-more-words", "\ud800 lone-surrogate"])
  path = tmp_path / "tokenizer.json"
  tok.save(path)
  loaded = Tokenizer.load(path)
  assert loaded.to_json() == tok.to_json()
  np.testing.assert_array_equal(loaded.encode(["words-and-x"], 5),
                                tok.encode(["words-and-x"], 5))
  assert path.read_bytes().isascii()


def test_saved_json_is_readable_by_other_programs(tmp_path):
  tok = Tokenizer(oov_token="<OOV>")
  tok.fit_on_texts(["b a b"])
  tok.save(tmp_path / "t.json")
  data = json.loads((tmp_path / "t.json").read_text())
  assert data["format"] == "lstm_jax.text.tokenizer" and data["version"] == 1
  assert data["word_index"] == {"<OOV>": 1, "b": 2, "a": 3}
  assert data["word_counts"] == [["b", 2], ["a", 1]]
  assert data["vocab_size"] == 4
  assert data["config"]["oov_token"] == "<OOV>"


def test_load_missing_file_names_it(tmp_path):
  with pytest.raises(FileNotFoundError, match="nope.json.*workdir"):
    Tokenizer.load(tmp_path / "nope.json")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"format": "other"}', "'format'"),
    ('{"format": "lstm_jax.text.tokenizer", "version": 99}', "version 99 is not supported"),
    ('{"format": "lstm_jax.text.tokenizer", "version": 1, "config": {"bogus": 1}}',
     "invalid 'config'"),
    ('{"format": "lstm_jax.text.tokenizer", "version": 1, "config": {}, "word_counts": 3}',
     "'word_counts'"),
    ('{"format": "lstm_jax.text.tokenizer", "version": 1, "config": {}, "word_counts": [],'
     ' "word_index": {"a": 0}}', "'word_index'"),
])
def test_load_bad_file_names_file_and_key(tmp_path, content, message):
  path = tmp_path / "tokenizer.json"
  path.write_text(content)
  with pytest.raises(ValueError, match=message) as info:
    Tokenizer.load(path)
  assert str(path) in str(info.value)


# Arbitrary Unicode, with the characters the splitting rules care about made likely.
TRICKY = st.sampled_from(list(" \t\n\r\x00\x0b\x0c\x1c\xa0\u2028'.,!-_Σσς") +
                         ["İ", "ẞ", "\ud800", "\U0001f600"])
TEXT = st.text(st.one_of(st.characters(), TRICKY), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, max_size=8), st.lists(TEXT, max_size=4),
       st.sampled_from(list(BEHAVIOURS.values())))
def test_arbitrary_texts_match_keras(texts, queries, kwargs):
  assert_same_as_keras(texts, queries + texts, **kwargs)


@settings(max_examples=50, deadline=None)
@given(st.lists(TEXT, max_size=6), st.integers(1, 6),
       st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]))
def test_arbitrary_texts_encode_like_keras(texts, maxlen, padding, truncating):
  ours = Tokenizer(num_words=6)
  ours.fit_on_texts(texts)
  expected = keras.utils.pad_sequences(
      keras_tokenizer(texts, num_words=6).texts_to_sequences(texts), maxlen=maxlen,
      padding=padding, truncating=truncating)
  got = ours.encode(texts, maxlen, padding=padding, truncating=truncating)
  np.testing.assert_array_equal(got, expected.reshape(len(texts), maxlen))


def test_very_long_line_matches_keras():
  text = ("word " * 50_000) + "tail."
  assert_same_as_keras([text, "word"], [text])


@settings(max_examples=30, deadline=None)
@given(st.lists(TEXT, max_size=5))
def test_save_load_round_trips_arbitrary_vocabularies(tmp_path_factory, texts):
  tok = Tokenizer(oov_token="<OOV>")
  tok.fit_on_texts(texts)
  path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
  tok.save(path)
  loaded = Tokenizer.load(path)
  assert loaded.word_index == tok.word_index
  assert loaded.word_counts == tok.word_counts


def test_module_defaults_are_keras_defaults():
  keras_tok = keras_text.Tokenizer()
  assert tokenizer_lib.KERAS_FILTERS == keras_tok.filters
  tok = Tokenizer()
  assert (tok.lower, tok.split, tok.num_words, tok.oov_token) == (
      keras_tok.lower, keras_tok.split, keras_tok.num_words, keras_tok.oov_token)


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 6, "oov_token": "<unk>"}])
def test_a_keras_tokenizers_json_reads_as_the_keras_tokenizer(kwargs):
  theirs = keras_tokenizer(CORPUS, **kwargs)
  ours = Tokenizer.from_keras_json(theirs.to_json())
  queries = CORPUS + ["unseen words THE cat"]
  assert ours.word_index == theirs.word_index
  assert ours.texts_to_sequences(queries) == theirs.texts_to_sequences(queries)
  fitted = Tokenizer(**kwargs)
  fitted.fit_on_texts(CORPUS)
  assert Tokenizer.from_keras_json(fitted.to_keras_json()).to_json() == fitted.to_json()


def test_json_that_is_no_keras_tokenizer_is_refused_by_name():
  with pytest.raises(errors.BadValueError, match="tok.json is not a Keras Tokenizer's JSON"):
    Tokenizer.from_keras_json('{"class_name": "Dense", "config": {}}', source="tok.json")


@pytest.mark.parametrize("key, value", [("word_index", '{"the": 0}'),
                                        ("word_counts", '{"the": "many"}'),
                                        ("document_count", "3.5")])
def test_a_keras_tokenizers_json_with_a_bad_value_is_refused_naming_the_key(key, value):
  fitted = Tokenizer()
  fitted.fit_on_texts(CORPUS)
  data = json.loads(fitted.to_keras_json())
  data["config"][key] = json.loads(value) if key == "document_count" else value
  with pytest.raises(errors.BadValueError, match=rf"tok.json: key '{key}' must be"):
    Tokenizer.from_keras_json(json.dumps(data), source="tok.json")
