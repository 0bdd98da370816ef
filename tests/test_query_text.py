"""A query parameter that is not valid text is refused with a 422 naming it, on every route."""

from __future__ import annotations

import pytest

from tests import factories
from tests.asgi_client import AppClient


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/credit/evaluations?feature=%29%C2%BC%14%06%5C%00&version=v1",
        "/v1/models/credit/evaluations?metric=a%00b",
        "/v1/alerts?before=1&model=credit&severity=warning&family=drift&x=%00",
        "/v1/models?q=%00",
    ],
)
def test_a_nul_in_a_query_parameter_is_a_422_naming_it(client: AppClient, path: str) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    response = client.get(path)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] in {"feature", "metric", "x", "q"}
