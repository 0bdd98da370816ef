"""Exports for other systems: Prometheus metrics."""
