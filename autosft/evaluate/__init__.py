"""Evaluation: scoring predictions with registered metrics, and the held-out test of the winner."""
