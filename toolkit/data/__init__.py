"""Readers, preprocessing, the embedded corpus, tokenization, collators and samplers."""
