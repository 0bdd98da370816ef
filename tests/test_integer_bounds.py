"""Integer query parameters beyond 64 bits are a 422 naming the parameter, never a 500
(schemathesis found GET …/evaluations?offset=4372368483724817691224047616 answering 500)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.asgi_client import AppClient

HUGE = str(2**91)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/models/credit/evaluations", "offset"),
        ("/v1/alerts", "before"),
        ("/v1/models/credit/export?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z", "limit"),
    ],
)
def test_integers_past_64_bits_are_refused_by_name(client: AppClient, path: str, parameter: str) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}{parameter}={HUGE}")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == parameter
