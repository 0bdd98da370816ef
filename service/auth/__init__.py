"""API keys with roles: who may call what (docs/security.md)."""
