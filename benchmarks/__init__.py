"""Benchmarks: scripts that print tables of measured speed and memory (docs/benchmarks.md)."""
