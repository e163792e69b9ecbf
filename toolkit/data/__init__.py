"""Readers, preprocessing, tokenization, collators and samplers (the embedded corpus is
toolkit.corpus)."""
