"""Pure statistics core of modelmon.

Only numpy, scipy and the standard library are imported here (``tests/stats/test_purity.py``
enforces it): no database, no HTTP, no clock. Modules:

- ``aggregates``: mergeable outcome aggregates (confusion counts, score histograms, ...).
- ``layout``: the columnar input ``Batch`` and the ``Layout`` fitted once on the reference;
  ``bins``: its numeric bins (quantile bins, or one cell per value for discrete columns)
  and ``MAX_MAGNITUDE``, beyond which a number is missing.
- ``profile`` / ``summaries`` / ``outcomes`` / ``serialize`` / ``repair``: mergeable
  per-bucket profiles (feature summaries, outcome aggregates per protected group), their
  compact storage form, and how profiles stored with null sums are read.
- ``drift`` / ``discrete`` / ``exact``: drift statistics from binned profiles (continuous
  and discrete numeric columns, categorical columns) and from raw arrays.
- ``multivariate``: the PCA of the standardised numeric features fitted on the reference
  and each row's reconstruction error (multivariate drift).
- ``fdr``: Benjamini-Hochberg false-discovery control.
- ``quality``: missing, out-of-range and unseen-category shares.
- ``verdict``: method choice, the drift decision and the ``evaluate_drift`` entry point.
"""
