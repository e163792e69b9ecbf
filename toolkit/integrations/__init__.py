"""Integrations with outside services (Weights & Biases)."""
