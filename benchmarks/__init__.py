"""Side-by-side benchmarks of the toolkit against Hugging Face baselines (see README.md)."""
