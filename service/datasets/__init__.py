"""Exporting a model's predictions joined with their outcomes, for retraining and audits."""
