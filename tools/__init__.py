"""Maintenance scripts that read the source tree; none imports `service`."""
