"""Model and tokenizer factory."""
