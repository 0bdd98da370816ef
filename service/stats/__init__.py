"""Pure statistics core of modelmon.

Only numpy, scipy and the standard library are imported here (``tests/stats/test_purity.py``
enforces it): no database, no HTTP, no clock. Modules:

- ``aggregates``: mergeable outcome aggregates (confusion counts, score histograms, ...).
- ``layout``: the columnar input ``Batch`` and the ``Layout`` fitted once on the reference.
- ``profile`` / ``outcomes`` / ``serialize``: mergeable per-bucket profiles (feature summaries,
  outcome aggregates per protected group) and their compact storage form.
- ``drift`` / ``exact``: drift statistics from binned profiles and from raw arrays.
- ``fdr``: Benjamini-Hochberg false-discovery control.
- ``quality``: missing, out-of-range and unseen-category shares.
- ``verdict``: method choice, the drift decision and the ``evaluate_drift`` entry point.
"""
