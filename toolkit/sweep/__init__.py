"""Sweeps: the W&B agent backend and a local Optuna backend reading the same sweep YAML."""
