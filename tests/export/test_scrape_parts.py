"""The two parts of ``/metrics`` stay apart: the stored-state gauges are never registered in
prometheus-client's registry, and no family is written by both parts."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from service.export.snapshot import STORED_FAMILIES
from tests import factories
from tests.asgi_client import AppClient


def _family_names(text: str) -> list[str]:
    return [family.name for family in text_string_to_metric_families(text)]


def test_stored_state_is_apart_from_the_process_registry(client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    scraped = _family_names(client.get("/metrics").text)
    registered = set(_family_names(generate_latest(REGISTRY).decode()))
    stored = {name for name, _, _ in STORED_FAMILIES}
    assert stored <= set(scraped)  # both parts are in the scrape ...
    assert stored.isdisjoint(registered)  # ... but the stored state is no registered collector
    assert len(scraped) == len(set(scraped)), "a family written by both parts"
