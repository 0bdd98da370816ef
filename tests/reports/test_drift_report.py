"""``GET /v1/models/{name}/reports/drift``: a real Evidently report of stored traffic, its
verdicts against scipy, the sampling banner, offline-ness, and every refusal."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from tests.asgi_client import AppClient
from tests.reports import data
from tests.reports.data import MODEL, WINDOW_END, WINDOW_START

pytestmark = pytest.mark.slow
URL = f"/v1/models/{MODEL}/reports/drift"
RANGE = {"from": WINDOW_START.isoformat(), "to": WINDOW_END.isoformat()}


def _report(client: AppClient, **params: Any) -> str:
    response = client.get(URL, params={**RANGE, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _verdicts(page: str) -> dict[str, tuple[str, bool]]:
    return {
        column: (row["stattest_name"], row["data_drift"] == "Detected")
        for column, row in data.drift_table(page).items()
    }


def test_report_marks_the_shifted_features_as_scipy_does(reports_client: AppClient) -> None:
    # 2,000 reference rows: Evidently uses normed Wasserstein and Jensen-Shannon distances.
    traffic = data.seed(reports_client, reference_rows=2_000, window_rows=1_500)
    page = _report(reports_client)
    for name in data.NUMERIC + data.CATEGORICAL:
        assert name in page
    verdicts = _verdicts(page)
    assert verdicts == data.oracle_verdicts(traffic)
    assert {name for name, (_, drifted) in verdicts.items() if drifted} == set(data.SHIFTED)
    assert "modelmon-banner" in page
    assert "current: all 1,500 rows; reference: all 2,000 rows" in page


def test_small_reference_uses_p_values_and_agrees_with_scipy(reports_client: AppClient) -> None:
    traffic = data.seed(reports_client, reference_rows=600, window_rows=500, seed=9)
    verdicts = _verdicts(_report(reports_client))
    assert verdicts == data.oracle_verdicts(traffic)
    assert verdicts["income"] == ("K-S p_value", True)
    assert verdicts["purpose"] == ("chi-square p_value", True)


def test_sides_over_the_sample_size_are_sampled_and_say_so(reports_client: AppClient) -> None:
    data.seed(reports_client, reference_rows=2_500, window_rows=1_800)
    response = reports_client.get(URL, params={**RANGE, "sample": 1_000, "seed": 42})
    assert response.status_code == 200, response.text
    banner = (
        "current: 1,000 of 1,800 rows sampled uniformly (seed 42); "
        "reference: 1,000 of 2,500 rows sampled uniformly (seed 42)"
    )
    assert banner in response.text
    assert response.headers["x-modelmon-sampling"] == banner
    assert response.headers["x-modelmon-current-rows"] == "1000"
    assert response.headers["x-modelmon-current-total"] == "1800"
    assert response.headers["x-modelmon-reference-rows"] == "1000"
    assert response.headers["x-modelmon-reference-total"] == "2500"
    scores = {c: row["drift_score"] for c, row in data.drift_table(response.text).items()}
    again = reports_client.get(URL, params={**RANGE, "sample": 1_000, "seed": 42})
    assert {c: row["drift_score"] for c, row in data.drift_table(again.text).items()} == scores
    other = reports_client.get(URL, params={**RANGE, "sample": 1_000, "seed": 43})
    assert {c: row["drift_score"] for c, row in data.drift_table(other.text).items()} != scores
    assert _verdicts(response.text)["income"][1] is True  # a +1 std shift survives sampling


def test_page_needs_no_network_and_escapes_report_data(reports_client: AppClient) -> None:
    data.seed(reports_client, reference_rows=300, window_rows=300)
    hostile = "</script><script>window.pwned=1</script>"
    rows = data.features(np.random.default_rng(3), 50, shifted=False)
    for row in rows:
        row["purpose"] = hostile
    data.send(reports_client, rows, WINDOW_START, WINDOW_END - WINDOW_START, prefix="x")
    response = reports_client.get(URL, params=RANGE)
    assert response.status_code == 200, response.text
    page = response.text
    assert hostile not in page
    assert "\\u003c/script>\\u003cscript>window.pwned=1" in page  # still there, as data
    assert hostile in str(data.report_data(page))  # and the same text once parsed
    assert data.fetched_resources(page) == []
    assert re.findall(r"url\(\s*['\"]?([a-z]+):", page) == ["data"]  # the inlined icon font
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_features_empty_on_one_side_are_left_out_and_named(reports_client: AppClient) -> None:
    data.seed(reports_client, reference_rows=300, window_rows=0, seed=2)
    rows = data.features(np.random.default_rng(4), 200, shifted=False)
    for row in rows:
        row["age"] = None
    data.send(reports_client, rows, WINDOW_START, WINDOW_END - WINDOW_START, prefix="n")
    response = reports_client.get(URL, params=RANGE)
    assert response.status_code == 200, response.text
    assert "age (no values in current)" in response.text
    assert response.headers["x-modelmon-features-left-out"] == "1"
    assert "age" not in data.drift_table(response.text)


def _error(client: AppClient, status: int, params: dict[str, Any], url: str = URL) -> list[str]:
    response = client.get(url, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_count"] == len(body["errors"]) and body["detail"]
    return [e["field"] for e in body["errors"]]


def test_refusals_name_the_parameter(reports_client: AppClient) -> None:
    data.seed(reports_client, reference_rows=200, window_rows=100)
    c = reports_client
    assert _error(c, 422, {"to": RANGE["to"]}) == ["from"]
    assert _error(c, 422, {"from": RANGE["from"]}) == ["to"]
    assert _error(c, 422, {**RANGE, "from": "2026-11-21T00:00:00"}) == ["from"]
    assert _error(c, 422, {**RANGE, "to": "yesterday"}) == ["to"]
    assert _error(c, 422, {"from": RANGE["to"], "to": RANGE["from"]}) == ["to"]
    assert _error(c, 422, {"from": "2026-01-01T00:00:00Z", "to": RANGE["to"]}) == ["to"]
    assert _error(c, 422, {**RANGE, "sample": 0}) == ["sample"]
    assert _error(c, 422, {**RANGE, "sample": 10**9}) == ["sample"]
    assert _error(c, 422, {**RANGE, "seed": -1}) == ["seed"]
    assert _error(c, 422, {"from": "2026-11-20T00:00:00Z", "to": "2026-11-20T06:00:00Z"}) == ["from", "to"]
    assert _error(c, 404, RANGE, url="/v1/models/nobody/reports/drift") == []
    assert _error(c, 404, {**RANGE, "version": "v9"}) == ["version"]
    assert _error(c, 422, {**RANGE, "version": "bad version!"}) == ["version"]


def test_a_version_without_reference_uses_its_first_predictions(reports_client: AppClient) -> None:
    assert reports_client.post("/v1/models", json=data.registration()).status_code == 201
    rows = data.features(np.random.default_rng(8), 400, shifted=False)
    data.send(reports_client, rows, WINDOW_START, WINDOW_END - WINDOW_START, prefix="b")
    page = _report(reports_client)
    assert "bootstrap reference: the version&#x27;s first 400 predictions" in page


def test_importing_the_app_and_router_does_not_import_evidently() -> None:
    code = (
        "import sys; import service.app, service.reports.endpoints; "
        "sys.exit(1 if any(m.split('.')[0] in ('evidently', 'pandas') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_trailing_and_range_references_are_the_engines(reports_client: AppClient) -> None:
    assert reports_client.post("/v1/models", json=data.registration()).status_code == 201
    rng = np.random.default_rng(12)
    span = WINDOW_END - WINDOW_START
    data.send(reports_client, data.features(rng, 240, shifted=False), WINDOW_START - span, span, prefix="p")
    data.send(reports_client, data.features(rng, 360, shifted=True), WINDOW_START, span, prefix="w")
    monitor = f"/v1/models/{MODEL}/monitor"
    assert reports_client.put(monitor, json={"reference": {"kind": "trailing"}}).status_code == 200
    trailing = reports_client.get(URL, params=RANGE)
    assert trailing.status_code == 200, trailing.text
    assert "trailing reference: traffic in [2026-11-20 18:00 UTC, 2026-11-21 00:00 UTC)" in trailing.text
    assert trailing.headers["x-modelmon-reference-total"] == "240"
    assert trailing.headers["x-modelmon-current-total"] == "360"
    ranged = {"kind": "range", "start": "2026-11-20T21:00:00Z", "end": "2026-11-21T00:00:00Z"}
    assert reports_client.put(monitor, json={"reference": ranged}).status_code == 200
    in_range = reports_client.get(URL, params=RANGE)
    assert in_range.status_code == 200, in_range.text
    assert "range reference: traffic in [2026-11-20 21:00 UTC, 2026-11-21 00:00 UTC)" in in_range.text
    assert in_range.headers["x-modelmon-reference-total"] == "120"
    assert reports_client.put(monitor, json={"reference": {"kind": "trailing"}}).status_code == 200
    early = {"from": (WINDOW_START - span).isoformat(), "to": WINDOW_START.isoformat()}
    assert _error(reports_client, 422, early) == ["from"]  # nothing before the first traffic


def test_a_report_waits_for_the_render_slot_and_answers_503_after_the_wait(
    reports_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.reports import evidently_report

    data.seed(reports_client, reference_rows=300, window_rows=300)
    monkeypatch.setattr(evidently_report, "RENDER_WAIT_SECONDS", 0.5)
    assert evidently_report._RENDER_SLOT.acquire(blocking=False)  # another report renders
    try:
        busy = reports_client.get(URL, params=RANGE)
    finally:
        evidently_report._RENDER_SLOT.release()
    assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
    assert reports_client.get(URL, params=RANGE).status_code == 200
