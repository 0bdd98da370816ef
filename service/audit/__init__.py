"""The append-only audit log of configuration changes and human actions."""
