"""Sliding windows: scheduling, evaluation, figures, backtests and the evaluations API."""
