"""The ground floor: leaf utilities every domain may use and that import no domain.

The time grid, durations, telemetry instruments and the calling principal live here so that
the domain packages above can share them without importing one another.
"""
