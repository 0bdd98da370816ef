"""Shared by the deployment tests: where things are, the linters, and rendering the Helm chart.

The linters (hadolint, shellcheck, yamllint, kubernetes-validate) and the Helm SDK are Python
dev dependencies, so they sit next to this interpreter. A missing one fails the test that
needs it with the command that installs it; nothing is skipped.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "modelmon"
RULES_FILE = CHART / "files" / "prometheus-rules.yml"
DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
HEALTHCHECK = REPO / "docker" / "healthcheck.py"
COMPOSE_FILE = REPO / "docker-compose.yml"
YAMLLINT_CONFIG = REPO / ".yamllint"

# A URL that production mode accepts: Postgres, with a password not on its list of weak ones.
DATABASE_URL = "postgresql+psycopg://modelmon:Zq7-test-only-Vb2@db.example.com:5432/modelmon"
# The tables' owner, for the migration Job only.
OWNER_DATABASE_URL = "postgresql+psycopg://owner:Wd4-owner-only-Kp9@db.example.com:5432/modelmon"
PSEUDONYM_KEY = "test-only-pseudonym-key-0123456789abcdef"
SECRET_KEY = "test-only-secret-key-9876543210fedcba"
RELEASE = "mm"
# The chart renders no other kind of workload (tests/deploy/test_chart.py checks).
WORKLOAD_KINDS = frozenset({"Deployment", "Job"})
NAMESPACE = "monitoring"

# Value sets the chart is rendered with; every test over rendered manifests runs on each.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {
        "secret": {"databaseUrl": DATABASE_URL, "pseudonymKey": PSEUDONYM_KEY, "secretKey": SECRET_KEY}
    },
    "everything-on": {
        "secret": {
            "databaseUrl": DATABASE_URL,
            "pseudonymKey": PSEUDONYM_KEY,
            "secretKey": SECRET_KEY,
            "migrationDatabaseUrl": OWNER_DATABASE_URL,
            "extra": {"MODELMON_WEBHOOK_SECRET": "whsec-test"},
        },
        "config": {"logLevel": "warning", "extra": {"MODELMON_MAX_BATCH_SIZE": 5000}},
        "image": {"repository": "registry.example.com/ml/modelmon", "tag": "0.1.0"},
        "imagePullSecrets": [{"name": "registry"}],
        "podLabels": {"team": "ml-platform"},
        "podAnnotations": {"example.com/owner": "ml-platform"},
        "api": {
            "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 6},
            "extraEnv": [{"name": "MODELMON_MAX_ERRORS_LISTED", "value": "50"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "api"}},
                }
            ],
        },
        "worker": {"replicas": 3, "extraEnv": [{"name": "MODELMON_LOG_LEVEL", "value": "info"}]},
        "serviceAccount": {"annotations": {"example.com/role": "modelmon"}},
        "service": {"annotations": {"example.com/scrape": "true"}},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "32m"},
            "tls": [{"secretName": "modelmon-tls", "hosts": ["modelmon.example.com"]}],
        },
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        },
        "networkPolicy": {
            "enabled": True,
            "ingressFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
            ],
            "databaseTo": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
            "extraEgress": [{"ports": [{"port": 443, "protocol": "TCP"}]}],
        },
    },
    "existing-secret": {"secret": {"existingSecret": "modelmon-database"}},
    "hpa-off": {
        "secret": {"databaseUrl": DATABASE_URL, "pseudonymKey": PSEUDONYM_KEY, "secretKey": SECRET_KEY},
        "api": {"autoscaling": {"enabled": False}, "replicas": 4},
        "worker": {"metricsPort": 9500},
        "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
    },
    "minimal": {
        "secret": {"databaseUrl": DATABASE_URL, "pseudonymKey": PSEUDONYM_KEY, "secretKey": SECRET_KEY},
        "image": {"digest": "sha256:" + "ab" * 32},
        "migrations": {"enabled": False},
        "serviceAccount": {"create": False},
        "api": {"podDisruptionBudget": {"enabled": False}, "replicas": 1},
        "worker": {"metricsPort": 0},
    },
}


def tool(name: str) -> str:
    """The path of a dev-dependency executable, or a failed test saying how to install it."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    on_path = shutil.which(name)
    if on_path is not None:
        return on_path
    pytest.fail(
        f"`{name}` is not installed (looked beside {sys.executable} and on PATH); it is a dev "
        "dependency of modelmon: `make .venv/.dev` installs it"
    )


@functools.cache
def _render(values_json: str, release: str) -> tuple[tuple[str, str], ...]:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(json.loads(values_json), name=release, namespace=NAMESPACE, is_install=True)
    return tuple(sorted(rendered.items()))


def render_files(values: dict[str, Any], release: str = RELEASE) -> dict[str, str]:
    """Every template's rendered text by path (empty for a template switched off)."""
    return dict(_render(json.dumps(values, sort_keys=True), release))


def render(values: dict[str, Any], release: str = RELEASE) -> list[dict[str, Any]]:
    """The Kubernetes objects the chart renders with ``values``."""
    objects: list[dict[str, Any]] = []
    for path, text in render_files(values, release).items():
        if path.endswith(".yaml"):
            objects.extend(document for document in yaml.safe_load_all(text) if document)
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in objects if item["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    """The single object of ``kind`` (and app.kubernetes.io/component) among ``objects``."""
    found = [
        item
        for item in by_kind(objects, kind)
        if component is None
        or item["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
    return found[0]


def pod_templates(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every workload: Deployments and Jobs."""
    return [
        (f"{item['kind']}/{item['metadata']['name']}", item["spec"]["template"]["spec"])
        for item in objects
        if item["kind"] in WORKLOAD_KINDS
    ]


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
