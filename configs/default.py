"""Defaults shared by every experiment: a complete run on any local file.

  python -m lstm_jax.main --config=configs/default.py --workdir=runs/my_run \
    --config.data.train_files=reviews.csv --config.data.text_fields=review \
    --config.data.label_field=sentiment

The meaning of every `data.*` key of the input files is in
`lstm_jax/datasets/config.py`. Experiment configs start from `get_config()` here and change what the study
changed (data, embedding, dropout). List-valued keys (`data.train_files`,
`data.test_files`, `data.text_fields`, `data.columns`, `data.file_labels`,
`data.bucket_lengths`)
are tuples; on the command line they accept a comma-separated string.
"""

import ml_collections
from ml_collections import config_dict


def list_key(*items) -> config_dict.FieldReference:
  """A list-valued key: a tuple in config files, a comma-separated string on
  the command line (normalised to a tuple before the run)."""
  return config_dict.FieldReference(tuple(items), field_type=object)


def get_config() -> ml_collections.ConfigDict:
  """Returns the default configuration."""
  config = ml_collections.ConfigDict()
  config.name = "default"
  config.seed = 0

  config.data = data = ml_collections.ConfigDict()
  data.source = "files"  # imdb | huffpost | letters | files
  data.train_files = list_key()
  data.test_files = list_key()
  data.text_fields = list_key("text")
  data.label_field = "label"
  data.encoding = "utf-8"
  data.format = "auto"  # auto | jsonl | csv | tsv | lines_per_label
  data.columns = list_key()  # column names of header-less CSV/TSV files
  data.file_labels = list_key()  # lines_per_label: name=label items (default: file suffix)
  data.label_names_file = ""  # JSON mapping label ids to names
  data.label_separator = ""  # splits a field holding several labels
  data.validation_split = 0.1
  data.validation_mode = "stratified"  # stratified | last (Keras validation_split)
  data.test_split = 0.1  # held out of train when there are no test files
  data.seed = 0  # seed of the held-out validation / test draws
  data.top_k_labels = 0  # 0 keeps every label
  data.min_examples_per_label = 0
  data.huffpost_version = "v3"  # v3 (42 categories) | v2 (41)
  data.tfds_data_dir = ""  # prepared datasets; "" → $LSTM_JAX_TFDS_DIR or ~/tensorflow_datasets
  data.manual_dir = ""
  data.download = True
  # Tokenizer and padding (Keras Tokenizer / pad_sequences semantics).
  data.vocab_size = 20000  # Keras num_words: ids < vocab_size are kept
  data.lowercase = True
  data.oov_token = ""  # "" drops unknown words, as Keras does by default
  data.max_length = 200
  data.padding = "pre"
  data.truncating = "pre"
  data.bucket_lengths = list_key()  # e.g. (32, 64, 128, 200): length bucketing

  config.embedding = embedding = ml_collections.ConfigDict()
  embedding.kind = "trainable"  # trainable | glove
  embedding.path = ""  # glove.6B.300d.txt, .txt.gz or glove.6B.zip
  embedding.dim = 300
  embedding.trainable = True
  embedding.oov = "zeros"  # zeros | random: rows of words missing from GloVe

  config.model = model = ml_collections.ConfigDict()
  model.units = 128
  model.num_layers = 1
  model.bidirectional = False
  model.dropout = 0.0  # Dropout layer between the LSTM stack and the classifier
  model.lstm_dropout = 0.0  # Keras LSTM(dropout=): on the inputs of each LSTM
  model.recurrent_dropout = 0.0
  model.mask_zero = True
  model.dtype = "float32"  # float32 | bfloat16 (matmuls; state stays float32)
  model.implementation = "fused"  # fused | scan (reference) | cudnn (CUDA GPUs)
  # Pieces the time axis runs in: on CPU a later piece's input projection
  # overlaps an earlier piece's loop. Results equal up to float rounding.
  model.time_chunks = 4
  # Batches carry their distinct tokens, each projected once by the first LSTM
  # layer (~5x fewer rows on IMDB). Results equal up to float rounding.
  model.distinct_tokens = True

  config.train = train = ml_collections.ConfigDict()
  train.batch_size = 64  # global, over all devices of all processes
  train.max_epochs = 20
  train.learning_rate = 1e-3
  train.optimizer = "adam"  # adam (optax) | keras_adam (Keras-faithful)
  train.clip_mode = "global_norm"  # global_norm | per_variable_norm | value | none
  train.clip_norm = 1.0
  train.num_devices = 0  # local devices to use; 0 = all
  # What is printed, as Keras fit(verbose=): 0 nothing, 1 a progress bar within each
  # epoch (a line every 30 s when stdout is not a terminal), 2 one line per epoch.
  # It may change when a run resumes.
  train.verbose = 1

  config.early_stopping = early_stopping = ml_collections.ConfigDict()
  early_stopping.monitor = "val_loss"
  early_stopping.mode = "auto"  # auto | min | max
  early_stopping.patience = 3
  early_stopping.min_delta = 0.0
  early_stopping.restore_best = True
  return config
