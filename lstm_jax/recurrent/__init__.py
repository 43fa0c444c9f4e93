"""Recurrent layers: Keras's LSTM, GRU and SimpleRNN (the cells of `CELLS`) in JAX/Flax.

  cell.py        the cell interface and the `CELLS` registry
  lstm.py        the LSTM cell: gate equations, weight layout, fast paths
  gru.py         the GRU cell (Keras `reset_after` both ways)
  simple_rnn.py  the plain recurrent cell (tanh or relu)
  scan.py        the reference `lax.scan` over any cell's step (the definition)
  lstm_fused.py  the LSTM's fast recurrence: a `custom_vjp` tested equal to `scan`
  gru_fused.py   the GRU's fast recurrence (both `reset_after` forms), likewise
  cudnn.py       one LSTM layer on cuDNN, with a run-time fallback
  inputs.py      the three forms a layer's inputs come in, behind one interface
  layers.py      `RNN` and `Bidirectional` over any cell, with Keras's parameters,
                 masking and dropout
"""

from lstm_jax.recurrent.cell import CELLS, Cell
from lstm_jax.recurrent.gru import GRUCell
from lstm_jax.recurrent.inputs import Dense, DistinctRows, LayerInputs, Projected
from lstm_jax.recurrent.layers import (DEFAULT_TIME_CHUNKS, IMPLEMENTATIONS, MERGE_MODES, RNN,
                                       Bidirectional, chunk_bounds, get_recurrence)
from lstm_jax.recurrent.lstm import LSTMCell
from lstm_jax.recurrent.simple_rnn import SimpleRNNCell

CELLS.register(LSTMCell.name, LSTMCell)
CELLS.register(GRUCell.name, GRUCell)
CELLS.register(SimpleRNNCell.name, SimpleRNNCell)

__all__ = [
    "CELLS", "DEFAULT_TIME_CHUNKS", "IMPLEMENTATIONS", "MERGE_MODES", "RNN", "Bidirectional",
    "Cell", "Dense", "DistinctRows", "GRUCell", "LSTMCell", "LayerInputs", "Projected",
    "SimpleRNNCell", "chunk_bounds", "get_recurrence",
]
