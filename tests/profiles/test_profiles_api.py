"""``GET …/layout`` and ``POST …/profiles`` on a real database: what is accepted, what is refused
with which status, and that an upload counts once per (bucket, source)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from service.stats.layout import Layout
from tests.profiles.world import CONFIG, DAY, World, bucket_bodies, rows, world


@pytest.fixture
def one(database_url: str) -> Iterator[World]:
    with world(database_url, "credit") as opened:
        yield opened


def _bodies(w: World, n: int = 200, seed: int = 3) -> dict[Any, str]:
    sample = rows(n, DAY + timedelta(hours=2), 2, seed)
    labels = dict(zip(sample.ids, sample.labels, strict=True))
    return bucket_bodies(Layout.from_dict(w.layout("credit")["layout"]), sample.records, labels)


def test_the_layout_names_its_id_hash_and_bucket(one: World) -> None:
    view = one.layout("credit")
    layout = Layout.from_dict(view["layout"])
    assert view["layout_hash"] == layout.content_hash
    assert view["bucket_seconds"] == 900
    assert (view["uploaded_buckets"], view["stale_uploaded_buckets"]) == (0, 0)


def test_no_layout_yet_is_a_conflict_and_an_unknown_version_not_found(database_url: str) -> None:
    with world(database_url) as w:
        registration = {"name": "bare", "version": "v1", "task": "regression", "features": []}
        assert (
            w.client.post(
                "/v1/models", json=registration | {"features": [{"name": "x", "type": "numeric"}]}
            ).status_code
            == 201
        )
        response = w.client.get("/v1/models/bare/layout")
        assert response.status_code == 409
        assert "no layout yet" in response.json()["detail"]
        assert w.client.get("/v1/models/bare/layout", params={"version": "v9"}).status_code == 404


def test_an_upload_is_merged_once_per_bucket_and_source(one: World) -> None:
    bodies = _bodies(one)
    first = one.upload("credit", bodies)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == len(bodies) and first.json()["rows"] == 200
    assert first.json()["windows_scheduled"] > 0
    again = one.upload("credit", bodies)
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, len(bodies))
    assert one.layout("credit")["uploaded_buckets"] == len(bodies)


def test_a_different_profile_for_a_stored_bucket_and_source_is_a_conflict(one: World) -> None:
    bodies = _bodies(one)
    assert one.upload("credit", bodies).status_code == 200
    other = _bodies(one, seed=4)
    shared = sorted(set(bodies) & set(other))[0]
    response = one.upload("credit", {shared: other[shared]})
    assert response.status_code == 409
    assert shared.isoformat() in response.json()["detail"]
    # Another source may send it: a second producer's rows of the same bucket.
    assert one.upload("credit", {shared: other[shared]}, source="test:2").json()["accepted"] == 1


def test_profiles_of_another_layout_are_refused_as_layout_changed(one: World) -> None:
    bodies = _bodies(one)
    view = one.layout("credit")
    body = {
        "layout_id": view["layout_id"] + 1,
        "layout_hash": view["layout_hash"],
        "source": "test:1",
        "profiles": [{"start": s.isoformat(), "body": b} for s, b in bodies.items()],
    }
    response = one.client.post("/v1/models/credit/profiles", json=body)
    assert response.status_code == 409
    assert "layout changed" in response.json()["detail"]


def test_a_refit_leaves_old_uploads_stale_and_refuses_them(one: World) -> None:
    bodies = _bodies(one)
    old = one.layout("credit")
    assert one.upload("credit", bodies).status_code == 200
    # A change of what fixes the bins refits the layout (and re-aggregates the events).
    refit = CONFIG | {"bootstrap_rows": 4321}
    assert one.client.put("/v1/models/credit/monitor", json=refit).status_code == 200
    # A model's layout is refitted in its next aggregation pass, which new events start.
    events = rows(10, DAY + timedelta(hours=12), 1, seed=9).records
    assert one.client.post("/v1/models/credit/predictions", json={"predictions": events}).status_code == 200
    one.jobs.catch_up()
    new = one.layout("credit")
    assert new["layout_id"] != old["layout_id"]
    assert (new["uploaded_buckets"], new["stale_uploaded_buckets"]) == (0, len(bodies))
    response = one.upload("credit", bodies, layout_id=old["layout_id"], layout_hash=old["layout_hash"])
    assert response.status_code == 409 and "layout changed" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body": "not base64!"}, "body"),
        ({"body": "aGVsbG8="}, "body"),  # base64 of "hello": not zlib
        ({"start_shift": 60}, "start"),  # off the 15-minute grid
        ({"start_shift": -200 * 86400}, "start"),  # beyond the 90-day event horizon
    ],
)
def test_bad_bodies_are_refused_with_the_index_and_field(
    one: World, change: dict[str, Any], field: str
) -> None:
    bodies = _bodies(one)
    start, body = sorted(bodies.items())[0]
    start = start + timedelta(seconds=change.get("start_shift", 0))
    response = one.upload("credit", {start: change.get("body", body)})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert one.layout("credit")["uploaded_buckets"] == 0


def test_a_profile_of_another_shape_is_refused(one: World) -> None:
    import base64
    import zlib

    import orjson

    bodies = _bodies(one)
    start, body = sorted(bodies.items())[0]
    data = orjson.loads(zlib.decompress(base64.b64decode(body)))
    first = next(iter(data["numeric"]))
    data["numeric"][first]["bins"] = data["numeric"][first]["bins"][:-1]
    bad = base64.b64encode(zlib.compress(orjson.dumps(data))).decode()
    response = one.upload("credit", {start: bad})
    assert response.status_code == 422
    assert "bins" in response.json()["errors"][0]["message"]
    data["numeric"][first]["count"] = -1
    negative = base64.b64encode(zlib.compress(orjson.dumps(data))).decode()
    assert "negative count" in one.upload("credit", {start: negative}).json()["errors"][0]["message"]


def test_uploading_needs_an_ingest_key_and_reading_the_layout_a_read_key(one: World) -> None:
    keys = {}
    for role, scope in (("read", {}), ("ingest", {"models": ["credit"]})):
        response = one.client.post("/v1/keys", json={"role": role, "name": role} | scope)
        assert response.status_code == 201, response.text
        keys[role] = {"Authorization": f"Bearer {response.json()['key']}"}
    view = one.client.get("/v1/models/credit/layout", headers=keys["read"])
    assert view.status_code == 200
    body = {"layout_id": view.json()["layout_id"], "layout_hash": view.json()["layout_hash"], "source": "t"}
    profiles = [{"start": s.isoformat(), "body": b} for s, b in _bodies(one).items()]
    refused = one.client.post(
        "/v1/models/credit/profiles", json=body | {"profiles": profiles}, headers=keys["read"]
    )
    assert refused.status_code == 403
    allowed = one.client.post(
        "/v1/models/credit/profiles", json=body | {"profiles": profiles}, headers=keys["ingest"]
    )
    assert allowed.status_code == 200, allowed.text


def test_a_body_over_the_ingestion_limit_is_413(client_with: Any) -> None:
    small = client_with(max_body_bytes=4096)
    response = small.post(
        "/v1/models/credit/profiles",
        content=b'{"profiles": [' + b'{"start": "x", "body": "' + b"A" * 8000 + b'"}]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
