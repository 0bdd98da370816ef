"""Hostile values in every field of valid bodies, on every JSON route that stores something:
each answer is a 2xx or a 4xx with a detail, never a 5xx.

A value is written as raw JSON text, so that values no serialiser produces (a 5,000-digit
integer, NaN, a lone surrogate, a list 1,000 levels deep) reach the server as a client
could send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest

from tests import factories
from tests.asgi_client import AppClient
from tests.conftest import NOW

MARK = "__hostile__"
HOSTILE = [
    "[" * 1000 + "]" * 1000,
    '{"a":' * 600 + "1" + "}" * 600,
    "9" * 5000,
    "-" + "9" * 400,
    "1e400",
    "NaN",
    "-0.0",
    '"\\u0000"',
    '"\\ud800"',
    '"' + "x" * 10_000 + '"',
    '"a\u202eb\u0007"',
    "{}",
    "[]",
    "true",
    "null",
]


def _recent(minutes: int) -> str:
    return (NOW - timedelta(hours=1) + timedelta(minutes=minutes)).isoformat()


def _bodies() -> list[tuple[str, str, Any]]:
    prediction = factories.prediction(1, timestamp=_recent(1))
    prediction.update(
        version="v1", scores={"0": 0.4, "1": 0.6}, attributions={"num_00": 0.1}, subject_id="s1"
    )
    return [
        ("POST", "/v1/models/credit/predictions", {"predictions": [prediction]}),
        ("POST", "/v1/models/credit/outcomes", {"outcomes": [factories.outcome(1, timestamp=_recent(2))]}),
        (
            "POST",
            "/v1/models/credit/reference?replace=true",
            {"version": "v1", "rows": [{"features": factories.features(1), "prediction": 1, "label": 0}]},
        ),
        ("POST", "/v1/models", factories.registration("other")),
        (
            "PUT",
            "/v1/models/credit/monitor",
            {"window": "24h", "step": "6h", "fairness": {"min_group_size": 30}},
        ),
        ("POST", "/v1/keys", {"role": "ingest", "name": "k", "models": ["credit"]}),
        (
            "POST",
            "/v1/webhooks",
            {"url": "http://127.0.0.1:9/hook", "events": ["alert.firing"], "description": "d"},
        ),
        (
            "POST",
            "/v1/silences",
            {
                "matchers": [{"name": "model", "value": "credit"}],
                "created_by": "a",
                "comment": "c",
                "duration": "1h",
            },
        ),
    ]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    yield path


def _with_mark(body: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return MARK
    copy: Any = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = _with_mark(body[path[0]], path[1:])
    return copy


@pytest.mark.slow
def test_hostile_values_in_every_field_are_never_a_5xx(client: AppClient) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    failures = []
    for method, url, body in _bodies():
        valid = client.request(method, url, json=body)
        assert valid.status_code < 300, (url, valid.text)
        for path in _leaves(body):
            template = orjson.dumps(_with_mark(body, path)).decode()
            for value in HOSTILE:
                content = template.replace(f'"{MARK}"', value).encode("utf-8", "surrogatepass")
                response = client.request(
                    method, url, content=content, headers={"content-type": "application/json"}
                )
                if response.status_code >= 500 or (
                    response.status_code >= 400 and not response.json()["detail"]
                ):
                    failures.append(
                        f"{method} {url} {path} {value[:30]!r}: {response.status_code} {response.text[:120]}"
                    )
    assert not failures, "\n".join(failures)
