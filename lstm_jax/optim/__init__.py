"""The optimizer: clipping and Adam variants (`optimizers`), and the learning rate
over time: schedules and ReduceLROnPlateau (`plateau`)."""
