"""The chart and the workers' metrics port: the container port and MODELMON_WORKER_METRICS_PORT
follow worker.metricsPort, a PodMonitor scrapes it beside the API's ServiceMonitor, the
NetworkPolicy admits it like the API's port; and every setting the chart does not set itself
can be given through config.extra."""

from __future__ import annotations

import re
from typing import Any

import helm_python as helm
import jsonschema
import pytest

from service.config import Environment, Settings
from tests.deploy.custom_resources import CUSTOM_RESOURCE_SCHEMAS
from tests.deploy.support import (
    CHART,
    DATABASE_URL,
    NAMESPACE,
    PSEUDONYM_KEY,
    REPO,
    VALUE_SETS,
    by_kind,
    load_yaml,
    one,
    render,
)

VALUE_SET_IDS = list(VALUE_SETS)
# The settings the ConfigMap does not carry: the database URL lives in the Secret.
SECRET_SETTINGS = {
    "MODELMON_DATABASE_URL",
    "MODELMON_MIGRATION_DATABASE_URL",
    "MODELMON_PSEUDONYM_KEY",
    "MODELMON_SECRET_KEY",
    "MODELMON_ADMIN_KEY",
}


def _worker(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(objects, "Deployment", "worker")["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _metrics_port(values: dict[str, Any]) -> int:
    port: int = values.get("worker", {}).get(
        "metricsPort", load_yaml(CHART / "values.yaml")["worker"]["metricsPort"]
    )
    return port


def _with(values: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    return {**values, **sections}


def test_the_charts_default_port_is_the_settings_default() -> None:
    default = load_yaml(CHART / "values.yaml")["worker"]["metricsPort"]
    assert default == Settings.model_fields["worker_metrics_port"].default != 0
    assert re.search(
        rf"^\| `worker\.metricsPort` \| {default} \|", (REPO / "docs" / "deploy.md").read_text(), re.M
    )


@pytest.mark.slow
@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_the_container_port_and_the_setting_follow_the_value(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    port = _metrics_port(VALUE_SETS[values_name])
    assert one(objects, "ConfigMap")["data"]["MODELMON_WORKER_METRICS_PORT"] == str(port)
    declared = _worker(objects).get("ports", [])
    if port == 0:
        assert declared == []
    else:
        assert declared == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_the_pod_monitor_scrapes_the_workers_metrics_port(values_name: str) -> None:
    values = VALUE_SETS[values_name]
    objects = render(values)
    monitors = by_kind(objects, "PodMonitor")
    wanted = values.get("metrics", {}).get("serviceMonitor", {}).get("enabled", False) and _metrics_port(
        values
    )
    if not wanted:
        assert monitors == []
        return
    (monitor,) = monitors
    worker_labels = one(objects, "Deployment", "worker")["spec"]["template"]["metadata"]["labels"]
    api_labels = one(objects, "Deployment", "api")["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= worker_labels.items() and not selector.items() <= api_labels.items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (api_endpoint,) = one(objects, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint == {**api_endpoint, "port": "metrics"}  # same path, interval and timeout
    assert endpoint["port"] in {port["name"] for port in _worker(objects)["ports"]}
    assert (
        monitor["metadata"]["labels"].items() >= values["metrics"]["serviceMonitor"].get("labels", {}).items()
    )
    # The Operator names a PodMonitor's job NAMESPACE/NAME; the rules select `.*modelmon.*`.
    assert re.fullmatch(".*modelmon.*", f"{NAMESPACE}/{monitor['metadata']['name']}")


def test_port_zero_leaves_out_the_pod_monitor_and_the_policys_metrics_port() -> None:
    values = _with(VALUE_SETS["everything-on"], worker={"metricsPort": 0})
    objects = render(values)
    assert by_kind(objects, "PodMonitor") == [] and by_kind(objects, "ServiceMonitor") != []
    (rule,) = one(objects, "NetworkPolicy")["spec"]["ingress"]
    assert [port["port"] for port in rule["ports"]] == ["http"]


def test_the_network_policy_admits_scrapes_of_the_metrics_port_like_the_apis() -> None:
    values = VALUE_SETS["everything-on"]
    objects = render(values)
    (rule,) = one(objects, "NetworkPolicy")["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}, {"port": "metrics", "protocol": "TCP"}]
    assert rule["from"] == values["networkPolicy"]["ingressFrom"]
    assert {port["name"] for port in _worker(objects)["ports"]} == {"metrics"}


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"worker": {"metricsPort": -1}}, "/worker/metricsPort"),
        ({"worker": {"metricsPort": 80}}, "/worker/metricsPort"),
        ({"worker": {"metricsPort": 70000}}, "/worker/metricsPort"),
        ({"worker": {"metricsPort": "9464"}}, "/worker/metricsPort"),
        ({"config": {"extra": {"MODELMON_WORKER_METRICS_PORT": 9100}}}, "'MODELMON_WORKER_METRICS_PORT'"),
    ],
)
def test_the_schema_rejects_bad_metrics_ports(values: dict[str, Any], complaint: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
        chart.validate_schema(
            {**values, "secret": {"databaseUrl": DATABASE_URL, "pseudonymKey": PSEUDONYM_KEY}}
        )


def _reserved_names() -> set[str]:
    schema = load_yaml(CHART / "values.schema.json")
    names: list[str] = schema["properties"]["config"]["properties"]["extra"]["propertyNames"]["not"]["enum"]
    return set(names)


def test_config_extra_is_refused_exactly_the_settings_the_chart_sets() -> None:
    chart_sets = set(one(render(VALUE_SETS["defaults"]), "ConfigMap")["data"]) | SECRET_SETTINGS
    assert _reserved_names() == chart_sets
    fields = {f"MODELMON_{name.upper()}" for name in Settings.model_fields}
    open_settings = dict.fromkeys(sorted(fields - chart_sets), "1")
    assert {"MODELMON_PUBLIC_URL", "MODELMON_ALERTMANAGER_URL", "MODELMON_WEBHOOK_ALLOWED_NETWORKS"} <= set(
        open_settings
    )
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(
            {
                "secret": {"databaseUrl": DATABASE_URL, "pseudonymKey": PSEUDONYM_KEY},
                "config": {"extra": open_settings},
            }
        )


def test_the_alerting_and_metrics_settings_reach_the_pods(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {
        "MODELMON_PUBLIC_URL": "https://modelmon.example.com",
        "MODELMON_ALERTMANAGER_URL": "http://alertmanager.monitoring:9093",
        "MODELMON_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8",
        "MODELMON_METRICS_CACHE_SECONDS": 30,
        "MODELMON_METRICS_TOP_K_FEATURES": 20,
        "MODELMON_METRICS_MAX_GROUPS": 5,
    }
    values = _with(VALUE_SETS["defaults"], config={"extra": extra}, worker={"metricsPort": 9500})
    config = one(render(values), "ConfigMap")["data"]
    for name in [name for name in config if name.startswith("MODELMON_")]:
        monkeypatch.setenv(name, config[name])
    monkeypatch.setenv("MODELMON_DATABASE_URL", DATABASE_URL)
    settings = Settings()
    assert settings.env is Environment.PRODUCTION and settings.worker_metrics_port == 9500
    assert settings.base_url == "https://modelmon.example.com"
    assert settings.alertmanager_url == "http://alertmanager.monitoring:9093"
    assert settings.webhook_networks == ["10.0.0.0/8"]
    assert (settings.metrics_cache_seconds, settings.metrics_top_k_features, settings.metrics_max_groups) == (
        30,
        20,
        5,
    )


def test_the_pod_monitor_schema_catches_a_misspelt_field() -> None:
    # The negative control of its strict validation in tests/deploy/test_chart.py.
    monitor = one(render(VALUE_SETS["everything-on"]), "PodMonitor")
    jsonschema.Draft7Validator(CUSTOM_RESOURCE_SCHEMAS["PodMonitor"]).validate(monitor)
    monitor["spec"]["podMetricsEndpoints"][0]["scrapeTimout"] = "10s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(CUSTOM_RESOURCE_SCHEMAS["PodMonitor"]).validate(monitor)
