"""The settings of the study's experiments, shared by their config files (`configs/`),
and the strong recipe of `configs/strong/`.

The study trained Keras LSTMs with batch 64, dropout 0–0.2 and EarlyStopping on
val_loss with patience 3, comparing a trainable embedding with GloVe 6B 300d.
"""

import ml_collections

from lstm_jax.config import schema

GLOVE_300D = "glove/glove.6B.300d.txt"


def experiment(name: str, *, dropout: float, glove: bool) -> ml_collections.ConfigDict:
  """The defaults plus what every experiment of the study shares."""
  config = schema.default_config()
  config.name = name
  config.model.head_dropout = dropout
  config.train.batch_size = 64
  config.early_stopping.monitor = "val_loss"
  config.early_stopping.patience = 3
  if glove:
    config.embedding.kind = "glove"
    config.embedding.path = GLOVE_300D
    config.embedding.dim = 300
    config.embedding.trainable = False
  return config


def sentiment(name: str, *, glove: bool) -> ml_collections.ConfigDict:
  """IMDB reviews (25k train / 25k test), positive vs negative."""
  config = experiment(name, dropout=0.2, glove=glove)
  config.data.source = "imdb"
  config.data.max_length = 200
  return config


def huffpost(name: str, text_fields: tuple[str, ...], *, glove: bool,
             max_length: int) -> ml_collections.ConfigDict:
  """HuffPost News Category (Kaggle JSON lines, manual download), by category."""
  config = experiment(name, dropout=0.2, glove=glove)
  config.data.source = "huffpost"
  config.data.text_fields = text_fields
  config.data.label_field = "category"
  config.data.max_length = max_length
  return config


def letters(name: str, label_field: str, *, dropout: float, glove: bool,
            top_k_labels: int) -> ml_collections.ConfigDict:
  """A letter collection (JSON lines / CSV / TSV) by author or by language."""
  config = experiment(name, dropout=dropout, glove=glove)
  config.data.source = "letters"
  config.data.label_field = label_field
  config.data.top_k_labels = top_k_labels
  config.data.max_length = 300
  return config


def bucket_lengths(max_length: int) -> tuple[int, ...]:
  """Length buckets for texts of up to `max_length` tokens: halvings down to 16."""
  lengths = [max_length]
  while lengths[-1] // 2 >= 16:
    lengths.append(lengths[-1] // 2)
  return tuple(sorted(lengths))


def strong(name: str, *, max_length: int, max_epochs: int, **data) -> ml_collections.ConfigDict:
  """What a careful practitioner trains: GloVe fine-tuned under SpatialDropout1D, a
  bidirectional LSTM whose outputs are max-pooled, Dropout, the softmax; AdamW on a
  warmup + cosine schedule over `max_epochs`, batch 128, early stopping on val_loss
  (patience 2) with the best weights restored; length buckets up to `max_length`.
  `data` sets the task's `data.*` keys (source, fields, ...); they take precedence
  over the recipe's (its buckets, for one).
  """
  config = schema.default_config()
  config.name = name
  config.data.max_length = max_length
  config.data.bucket_lengths = bucket_lengths(max_length)
  config.data.update(data)
  config.embedding.kind = "glove"
  config.embedding.path = GLOVE_300D
  config.embedding.dim = 300
  config.embedding.trainable = True
  config.model.embedding_dropout = 0.25
  config.model.spatial_dropout = True
  config.model.recurrent_layers = ({"units": 64, "bidirectional": True},)
  config.model.pooling = "max"
  config.model.head_dropout = 0.3
  config.train.batch_size = 128
  config.train.optimizer = "adamw"
  config.train.weight_decay = 0.01
  config.train.learning_rate = 3e-3
  config.train.lr_schedule = "cosine"
  config.train.warmup_steps = 100
  config.train.max_epochs = max_epochs
  config.early_stopping.monitor = "val_loss"
  config.early_stopping.patience = 2
  return config


# The study's tasks the cells are compared on (configs/cells/): the study's
# setting with a trainable embedding, as in the tasks' `_keras` configs.
CELL_TASKS = {
    "letters_authors": lambda name: letters(name, "author", dropout=0.1, glove=False,
                                            top_k_labels=10),
    "huffpost_both": lambda name: huffpost(name, ("headline", "short_description"),
                                           glove=False, max_length=96),
    "imdb": lambda name: sentiment(name, glove=False),
}


def cells(task: str, cell: str, **options) -> ml_collections.ConfigDict:
  """A task of `CELL_TASKS` in the study's setting with its LSTM(128) replaced by another
  cell (`recurrent.CELLS`) of the same units; `options` are the cell's own (a SimpleRNN's
  `activation`). Named `<task>_<cell>`."""
  config = CELL_TASKS[task](f"{task}_{cell}")
  config.model.recurrent_layers = tuple(
      {**layer, "cell": cell, **options} for layer in config.model.recurrent_layers)
  return config
