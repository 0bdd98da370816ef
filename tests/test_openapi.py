"""The API documents itself, with a worked example for every endpoint; the API process stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.asgi_client import AppClient


def test_docs_are_served(client: AppClient) -> None:
    assert client.get("/docs").status_code == 200


def _has_example(node: object) -> bool:
    if isinstance(node, dict):
        if "example" in node or "examples" in node:
            return True
        return any(_has_example(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_example(value) for value in node)
    return False


@pytest.mark.slow
def test_every_endpoint_has_a_worked_example(client: AppClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            success = operation["responses"].get("200") or operation["responses"].get("201")
            for part, documented in (("request", body), ("response", success)):
                if documented is None:
                    continue
                refs = _refs(documented)
                assert _has_example(documented) or any(_has_example(schemas[r]) for r in refs), (
                    f"{method.upper()} {path} has no example {part}"
                )


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


@pytest.mark.slow
def test_the_api_process_does_not_import_evidently_pandas_or_scipy_stats() -> None:
    # scipy.stats alone is ~0.6 s of every process's start; an evaluation imports it when needed.
    code = (
        "import sys, service.app, service.cli; "
        "print(sorted(m for m in ('evidently', 'pandas', 'scipy.stats') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert output.stdout.strip() == "[]"
