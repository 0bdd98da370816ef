"""Every table of modelmon, the engine and the unit of work."""
