"""Alerts: window verdicts become alerts with a lifecycle, silences, and retraining requests."""
