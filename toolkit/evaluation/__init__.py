"""Evaluation: ROUGE scoring for dialogue summaries."""
