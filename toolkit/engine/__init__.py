"""The training loop, its state, checkpoints, optimizer and the trainer facade."""
