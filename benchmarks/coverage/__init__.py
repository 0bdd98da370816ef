"""Interval coverage by simulation: every interval the service reports, on seeded data.

Each area module (``performance``, ``fairness``, ...) exposes ``rows(reps, seed)`` that
draws ``reps`` samples per scenario from a known truth, computes the service's interval
with the service's own code, and returns one ``CoverageRow`` per (interval, scenario).
The tests under ``tests/stats`` call the same functions with fewer repetitions and assert
coverage; ``python -m benchmarks.coverage`` prints the full table for ``docs/``.
"""
