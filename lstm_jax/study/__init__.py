"""The study's own tools: the results report, the baselines and the Keras reference run."""
