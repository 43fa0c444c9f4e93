"""Training: from a config to batches (`input_pipeline`, `batching`), the
data-parallel steps (`steps`), the epoch loop (`train`) and what a run keeps in
its workdir (`checkpoints`, `run_records`, `preemption`, `workdir_lock`)."""
