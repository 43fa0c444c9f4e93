"""Text to numbers: the Keras-compatible tokenizer (`tokenizer`) and pretrained GloVe
vectors (`glove`)."""
