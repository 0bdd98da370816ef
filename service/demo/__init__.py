"""``modelmon demo``: a simulated credit-scoring model drifts, degrades and turns unfair while
modelmon watches, in about two minutes and without Grafana (docs/demo.md)."""
