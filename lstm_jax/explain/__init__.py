"""What a trained classifier does with a text (`python -m lstm_jax.inspect`, docs/INSPECT.md).

  recording.py   runs a model with every recurrent layer's gates and states recorded
                 (recomputed with the reference recurrence from the layer's own inputs)
  inspection.py  one text inspected: the prediction as it forms, the gates after each
                 token, each token's contribution (integrated gradients)
  figure.py      the figure of one inspection
"""
