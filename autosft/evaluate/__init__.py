"""Evaluation: data checks before a search, scoring with registered metrics, seed-robust selection,
and the held-out test of the selected configuration."""
