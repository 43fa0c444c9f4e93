"""The LSTM: its definition, its fast and cuDNN recurrences, and the Flax layers.

  recurrence.py  the explicit gate equations and the reference `lax.scan` (the definition)
  fused.py       the fast recurrence: a `custom_vjp` tested equal to the reference
  cudnn.py       one layer on cuDNN, with a run-time fallback
  inputs.py      the three forms a layer's inputs come in, behind one interface
  layers.py      `LSTM` and `Bidirectional` with Keras's parameters, masking and dropout
"""

from lstm_jax.recurrent.inputs import Dense, DistinctRows, LayerInputs, Projected
from lstm_jax.recurrent.layers import (DEFAULT_TIME_CHUNKS, IMPLEMENTATIONS, LSTM, MERGE_MODES,
                                  RECURRENCES,
                                  Bidirectional, chunk_bounds, get_recurrence,
                                  unit_forget_bias_init)

__all__ = [
    "DEFAULT_TIME_CHUNKS", "IMPLEMENTATIONS", "LSTM", "MERGE_MODES", "RECURRENCES",
    "Bidirectional", "Dense", "DistinctRows", "LayerInputs", "Projected", "chunk_bounds", "get_recurrence",
    "unit_forget_bias_init",
]
