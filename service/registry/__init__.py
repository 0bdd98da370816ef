"""Model registry: models, their versions, and the schema each version is monitored against."""
