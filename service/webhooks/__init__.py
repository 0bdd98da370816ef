"""Signed webhooks (Standard Webhooks): endpoints, the outbox written with each event, and
the worker that delivers it with retries. How receivers verify: docs/webhooks.md."""
