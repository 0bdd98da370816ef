"""Reports for people: Evidently's HTML data-drift report of a time range, and the model card."""
