"""The classifier family: the model (`classifier`), its output heads (`heads`) and
poolings, built on the recurrent layers of `lstm_jax.recurrent`."""
