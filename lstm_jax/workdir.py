"""The names of a run's workdir: a contract with scripts outside the project.

Every module spells a workdir file through these constants (a test greps the
package for the literal names); docs/ARCHITECTURE.md lists what each holds.
"""

CONFIG_FILE = "config.json"  # the resolved config
TOKENIZER_FILE = "tokenizer.json"  # the fitted tokenizer
LABELS_FILE = "labels.json"  # class names, index = class id
DATASET_REPORT_FILE = "dataset_report.json"  # rows read / used / dropped per split
CHECKPOINT_DIR = "checkpoints"  # orbax, one directory per epoch
METRICS_FILE = "metrics.jsonl"  # one line per epoch
RESULTS_FILE = "results.json"  # written when the run is finished
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = ".lock"  # held by the running process
COMMAND_FILE = "command.txt"  # the command line of the last invocation
BASELINES_FILE = "baselines.json"  # written by `python -m lstm_jax.baselines`

# The items of one checkpoint directory.
STATE_ITEM = "state"  # the train state (orbax StandardSave)
META_ITEM = "meta"  # epoch bookkeeping (JSON)
LAYOUT_ITEM = "tree"  # key path -> shape and dtype of every array of the state (JSON)
