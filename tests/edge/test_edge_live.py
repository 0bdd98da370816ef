"""The edge against a live ``modelmon serve`` over real HTTP: what a keyless multi-MiB body
costs the server's memory, and a catalogue of hostile bodies on every JSON route."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.auth import AUTH_HEADERS
from tests.factories import CATEGORICAL_FEATURES, prediction, registration
from tests.live import free_port, process, wait_ready

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
JSON = {"content-type": "application/json"}


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A server's base URL and its process id (``serve`` runs uvicorn in its own process)."""
    port = free_port()
    env = {
        **os.environ,
        "MODELMON_DATABASE_URL": database_url,
        "MODELMON_PORT": str(port),
        "MODELMON_LOG_LEVEL": "warning",
        "MODELMON_RUN_JOBS": "false",
        "MODELMON_MAX_BATCH_SIZE": "100000",
    }
    log = tmp_path / "serve.log"
    with process([sys.executable, "-m", "service", "serve"], env, log, tmp_path) as child:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", child, log)
        yield base, child.pid


def peak_resident_bytes(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def test_keyless_multi_mib_bodies_cost_the_server_no_memory(live: tuple[str, int]) -> None:
    base, pid = live
    body = b"[" + b"{}," * (2 * MIB) + b"{}]"  # 6 MiB; parsed, ~150 MiB of Python objects
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(20):  # warm up the paths a refusal takes
            assert http.post("/v1/keys", content=b"{", headers=JSON).status_code == 401
            assert http.get("/v1/keys", headers=AUTH_HEADERS).status_code == 200
        before = peak_resident_bytes(pid)
        for _ in range(3):
            assert http.post("/v1/keys", content=body, headers=JSON).status_code == 401
            assert http.post("/v1/models", content=body, headers=JSON).status_code == 401
            assert http.post("/v1/keys", content=body, headers={**JSON, **AUTH_HEADERS}).status_code == 413
        assert http.get("/healthz").status_code == 200
        after = peak_resident_bytes(pid)
    assert after - before < 5 * MIB, f"peak RSS grew by {(after - before) / MIB:.1f} MiB"


def _hostile_bodies() -> list[tuple[str, bytes]]:
    return [
        ("empty", b""),
        ("open brace", b"{"),
        ("3,000 deep", b"[" * 3000 + b"]" * 3000),
        ("1,000 deep", b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}"),
        ("600 deep objects", b'{"a":' * 600 + b"1" + b"}" * 600),
        ("5,000 digits", b'{"name": ' + b"9" * 5000 + b"}"),
        ("5,000-digit fraction", b'{"name": 0.' + b"1" * 5000 + b"}"),
        ("huge exponent", b'{"name": 1e999999}'),
        ("NaN", b'{"name": NaN, "version": Infinity, "predictions": [NaN]}'),
        ("NUL", b'{"name": "a\\u0000b", "predictions": [{"id": "\\u0000"}]}'),
        ("lone surrogate", b'{"name": "\\ud800", "rows": [{"features": {"\\udfff": 1}}]}'),
        ("not UTF-8", b'{"name": "\xff\xfe"}'),
        ("byte order mark", b'\xef\xbb\xbf{"name": "m"}'),
        ("duplicate keys", b'{"name": "a", "name": 1}'),
        ("top-level list", b"[1, 2, 3]"),
        ("top-level string", b'"predictions"'),
        ("null", b"null"),
        ("deep records", b'{"predictions": [' + b"[" * 1000 + b"]" * 1000 + b"]}"),
        (
            "deep version",
            b'{"version": ' + b"[" * 1000 + b"]" * 1000 + b', "rows": [{"version": [[[[1]]]]}]}',
        ),
        (
            "deep version in a record",
            b'{"predictions": [{"id": 1, "timestamp": "2026-11-01T00:00:00Z", "features": {}, '
            b'"prediction": 1, '
            b'"version": ' + b"[" * 1000 + b"]" * 1000 + b"}]}",
        ),
        ("nested NUL", b'{"predictions": [' + b"[" * 900 + b'"\\u0000"' + b"]" * 900 + b"]}"),
        ("bidi and controls", '{"name": "a\u202eb\u0007", "role": "read"}'.encode()),
    ]


def _json_routes(base: str) -> list[tuple[str, str]]:
    document: dict[str, Any] = httpx.get(f"{base}/openapi.json").json()
    routes = []
    for path, operations in document["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch"):
                concrete = path.replace("{name}", "credit").replace("{prefix}", "mmk_Ab3dEf9h")
                for parameter in ("{endpoint_id}", "{alert_id}", "{silence_id}", "{id}"):
                    concrete = concrete.replace(parameter, "1")
                routes.append((method.upper(), concrete))
    return routes


def test_hostile_bodies_on_every_json_route_are_never_a_5xx(live: tuple[str, int]) -> None:
    base, _ = live
    routes = _json_routes(base)
    assert len(routes) >= 12
    failures = []
    with httpx.Client(base_url=base, timeout=60, headers=AUTH_HEADERS) as http:
        assert http.post("/v1/models", json=registration()).status_code == 201
        for method, path in routes:
            for kind in ("application/json", "application/x-ndjson"):
                for name, body in _hostile_bodies():
                    try:
                        response = http.request(method, path, content=body, headers={"content-type": kind})
                    except httpx.TransportError as error:
                        failures.append((method, path, kind, name, 0, repr(error)))
                        continue
                    if response.status_code >= 500 or (
                        response.status_code >= 400 and not response.json().get("detail")
                    ):
                        failures.append((method, path, kind, name, response.status_code, response.text[:200]))
        assert http.get("/healthz").status_code == 200
    assert not failures, "\n".join(" ".join(str(part) for part in failure) for failure in failures)


def _thirty_mib_batch(content_type: str, prefix: str) -> bytes:
    """~22,000 predictions of ~1.4 KiB (200-character categories), dated in the last day, as
    one JSON document or as NDJSON."""
    start = datetime.now(UTC) - timedelta(days=1)
    records = []
    for i in range(22_000):
        record = prediction(i, prefix=prefix, timestamp=(start + timedelta(seconds=i)).isoformat())
        record["features"].update({name: f"c{i % 4}".ljust(200, "x") for name in CATEGORICAL_FEATURES})
        records.append(record)
    if content_type == "application/x-ndjson":
        body = b"\n".join(orjson.dumps(record) for record in records)
    else:
        body = orjson.dumps({"predictions": records})
    assert 28 * MIB < len(body) < 32 * MIB
    return body


def _probe_while_posting(base: str, body: bytes, content_type: str) -> list[float]:
    """Seconds each /healthz took, probed every 20 ms while ``body`` is posted and handled."""
    answers: list[httpx.Response] = []
    latencies = []
    with httpx.Client(base_url=base, timeout=120, headers=AUTH_HEADERS) as http:
        url = "/v1/models/credit/predictions"
        headers = {"content-type": content_type}
        sender = threading.Thread(
            target=lambda: answers.append(http.post(url, content=body, headers=headers))
        )
        with httpx.Client(base_url=base, timeout=10) as probe:
            assert probe.get("/healthz").status_code == 200
            sender.start()
            while sender.is_alive():
                started = time.perf_counter()
                assert probe.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)
        sender.join()
    assert answers[0].status_code == 200, answers[0].text[:500]
    assert answers[0].json()["accepted"] == 22_000
    assert len(latencies) >= 20, "the batch was handled too fast to measure anything"
    return latencies


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_healthz_answers_within_100_ms_while_a_30_mib_batch_is_handled(
    live: tuple[str, int], content_type: str
) -> None:
    """The slowest probe of a round is under 100 ms in at least one of two rounds. A stall of
    the server (a parse or a collection holding the GIL: 250 to 400 ms before) comes back in
    every round; a probe slowed once by a busy machine (seen up to 170 ms on 2 shared cores,
    in validation code that holds the GIL for microseconds) does not."""
    base, _ = live
    assert httpx.post(f"{base}/v1/models", json=registration(), headers=AUTH_HEADERS).status_code == 201
    rounds = [
        _probe_while_posting(base, _thirty_mib_batch(content_type, prefix), content_type) for prefix in "ab"
    ]
    slowest = [max(latencies) for latencies in rounds]
    shown = [[round(seconds * 1000) for seconds in latencies] for latencies in rounds]
    assert min(slowest) < 0.1, f"/healthz took {shown} ms"
