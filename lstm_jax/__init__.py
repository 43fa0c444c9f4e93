"""lstm_jax: LSTM text classifiers in JAX/Flax, faithful to Keras."""
