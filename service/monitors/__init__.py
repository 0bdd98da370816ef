"""Monitor configuration per model."""
