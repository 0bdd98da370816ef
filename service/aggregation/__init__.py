"""Incremental aggregation: events folded into per-bucket profiles, and the layouts they use."""
