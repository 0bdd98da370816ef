"""The chart's two database URLs: the owner's reaches the migration Job only; the API and the
worker get the service role's URL and the key that encrypts webhook secrets."""

from __future__ import annotations

import base64
from typing import Any

from tests.deploy.support import DATABASE_URL, OWNER_DATABASE_URL, SECRET_KEY, VALUE_SETS, by_kind, render


def _secrets(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    decoded = {}
    for item in by_kind(objects, "Secret"):
        decoded[item["metadata"]["name"]] = {k: base64.b64decode(v).decode() for k, v in item["data"].items()}
    return decoded


def _secret_refs(workload: dict[str, Any]) -> set[str]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    sources = [source for container in containers for source in container.get("envFrom", [])]
    return {source["secretRef"]["name"] for source in sources if "secretRef" in source}


def test_only_the_migration_job_gets_the_owners_url() -> None:
    secrets = _secrets(render(VALUE_SETS["everything-on"]))
    hook, service = secrets["mm-modelmon-migrate"], secrets["mm-modelmon"]
    assert hook["MODELMON_MIGRATION_DATABASE_URL"] == OWNER_DATABASE_URL
    assert hook["MODELMON_DATABASE_URL"] == service["MODELMON_DATABASE_URL"] == DATABASE_URL
    assert "MODELMON_MIGRATION_DATABASE_URL" not in service
    assert service["MODELMON_SECRET_KEY"] == SECRET_KEY


def test_an_existing_migration_secret_is_read_by_the_job_only() -> None:
    values = {"secret": {"existingSecret": "modelmon-database", "existingMigrationSecret": "modelmon-owner"}}
    objects = render(values)
    (job,) = by_kind(objects, "Job")
    assert _secret_refs(job) == {"modelmon-database", "modelmon-owner"}
    for deployment in by_kind(objects, "Deployment"):
        assert _secret_refs(deployment) == {"modelmon-database"}, deployment["metadata"]["name"]
