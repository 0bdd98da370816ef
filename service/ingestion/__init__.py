"""Ingestion: predictions, outcomes and reference rows in, validated and stored atomically."""
