"""The Helm chart: lint, schema, rendering with several value sets, and what the manifests say.

Rendering uses the Helm 4 SDK in-process (helm-python-sdk), offline: no cluster, no network.
Every rendered object is validated by kubernetes-validate --strict (unknown fields are errors)
for the oldest Kubernetes the chart declares, 1.30, and the newest the validator knows; the
Prometheus Operator kinds, which it has no schema for, are checked against the subset of their
CRDs the chart uses (tests/deploy/custom_resources.py).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate.utils import (  # type: ignore[import-untyped]
    SchemaNotFoundError,
    ValidationError,
    latest_version,
)

from service.app import create_app
from service.config import Settings, check_production_safety
from service.storage.migrations import upgrade
from tests.asgi_client import app_client
from tests.deploy.custom_resources import CUSTOM_RESOURCE_SCHEMAS
from tests.deploy.support import (
    CHART,
    DATABASE_URL,
    DOCKERFILE,
    NAMESPACE,
    PSEUDONYM_KEY,
    RELEASE,
    REPO,
    RULES_FILE,
    VALUE_SETS,
    WORKLOAD_KINDS,
    by_kind,
    containers,
    load_yaml,
    one,
    pod_templates,
    render,
)

KUBERNETES_VERSIONS = ("1.25", "1.30", latest_version())
VALUE_SET_IDS = list(VALUE_SETS)


def _api(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objects, "Deployment", "api")


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _hook_annotations(item: dict[str, Any]) -> dict[str, str]:
    annotations: dict[str, str] = item["metadata"].get("annotations", {})
    return {key: value for key, value in annotations.items() if key.startswith("helm.sh/hook")}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(amount) * units[unit] for amount, unit in re.findall(r"(\d+)([hms])", duration))


# ---- lint and schema ---------------------------------------------------------------------------


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_chart_lints_clean_in_strict_mode(values_name: str) -> None:
    report = helm.lint(CHART, VALUE_SETS[values_name], strict=True, kube_version="v1.30.0")
    assert report["errors"] == []
    # Severity 1 is "info"; the only one Helm gives here is that Chart.yaml has no icon URL.
    assert [message for message in report["messages"] if message["severity"] > 1] == []


def test_lint_reports_a_broken_chart(tmp_path: Path) -> None:
    # The negative control: the same call must see an error when there is one.
    broken = tmp_path / "modelmon"
    with helm.Chart.load(CHART) as chart:
        chart.save_dir(tmp_path)
    (broken / "templates" / "service.yaml").write_text("apiVersion: v1\nkind: Service\n  bad: indent\n")
    report = helm.lint(broken, VALUE_SETS["defaults"], strict=True)
    assert report["errors"] != []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"api": {"replica": 3}}, "replica"),
        ({"imagee": {"tag": "0.1.0"}}, "imagee"),
        ({"image": {"tag": "latest"}}, "/image/tag"),
        ({"config": {"env": "prod"}}, "/config/env"),
        ({"config": {"extra": {"LOG_LEVEL": "debug"}}}, "'LOG_LEVEL'"),
        ({"config": {"extra": {"MODELMON_DATABASE_URL": DATABASE_URL}}}, "'MODELMON_DATABASE_URL'"),
        ({"secret": {"databaseUrl": "sqlite:///./modelmon.db"}}, "/secret/databaseUrl"),
        ({"secret": {"databaseUrl": "postgresql://u:p@db/modelmon"}}, "/secret/databaseUrl"),
        ({"metrics": {"serviceMonitor": {"enable": True}}}, "enable"),
        ({"worker": {"replicas": -1}}, "/worker/replicas"),
    ],
)
def test_values_schema_rejects_typos_and_unsafe_values(values: dict[str, Any], complaint: str) -> None:
    secret = {"databaseUrl": DATABASE_URL, "pseudonymKey": PSEUDONYM_KEY, **values.get("secret", {})}
    merged = {**values, "secret": secret}
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(VALUE_SETS["defaults"])  # the control: valid values pass
        with pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
            chart.validate_schema(merged)
        with pytest.raises(helm.HelmValuesError):
            chart.render(merged, name=RELEASE, namespace=NAMESPACE)


def test_a_missing_database_url_fails_with_the_setting_to_change() -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmRenderError) as failure:
        chart.render({}, name=RELEASE, namespace=NAMESPACE)
    assert "secret.databaseUrl is required" in str(failure.value)
    assert "secret.existingSecret" in str(failure.value)


# ---- every manifest is valid Kubernetes ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_every_manifest_validates_strictly(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    assert objects
    for item in objects:
        name = f"{item['kind']}/{item['metadata']['name']}"
        if item["kind"] in CUSTOM_RESOURCE_SCHEMAS:
            jsonschema.Draft7Validator(CUSTOM_RESOURCE_SCHEMAS[item["kind"]]).validate(item)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(item, version, strict=True)
            except SchemaNotFoundError as error:
                pytest.fail(f"{name}: {error.message}")
            except ValidationError as error:
                pytest.fail(
                    f"{name} is invalid for Kubernetes {version} at {list(error.path)}: {error.message}"
                )


def test_strict_validation_catches_a_misspelt_field() -> None:
    # The negative controls: a typo in a built-in kind and in a Prometheus Operator kind.
    objects = render(VALUE_SETS["everything-on"])
    deployment = _api(objects)
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)
    rule = one(objects, "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["fro"] = "5m"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(CUSTOM_RESOURCE_SCHEMAS["PrometheusRule"]).validate(rule)


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_only_known_kinds_and_no_duplicate_names(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    kinds = {item["kind"] for item in objects}
    assert kinds <= {
        *WORKLOAD_KINDS,
        *CUSTOM_RESOURCE_SCHEMAS,
        "ConfigMap",
        "Secret",
        "Service",
        "ServiceAccount",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
    }
    keys = [(item["kind"], item["metadata"]["name"]) for item in objects]
    assert len(keys) == len(set(keys))
    # Nothing stores data on a pod's disk: no claims, no stateful sets, no host paths.
    for name, pod in pod_templates(objects):
        for volume in pod.get("volumes", []):
            assert set(volume) == {"name", "emptyDir"}, f"{name} mounts {volume}"


# ---- what the manifests say ------------------------------------------------------------------------


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_every_pod_and_container_is_locked_down(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    (user,) = re.findall(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    workloads = pod_templates(objects)
    assert {name.split("/")[0] for name, _ in workloads} >= {"Deployment"}
    for name, pod in workloads:
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        tmp_volumes = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        for container in containers(pod):
            where = f"{name} container {container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["privileged"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            # The root filesystem is read-only: /tmp must be a writable emptyDir.
            (tmp,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
            assert tmp["name"] in tmp_volumes, where
            assert not tmp.get("readOnly", False), where


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_every_image_is_pinned(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    app_version = load_yaml(CHART / "Chart.yaml")["appVersion"]
    for name, pod in pod_templates(objects):
        for container in containers(pod):
            image = container["image"]
            if "@" in image:
                assert re.fullmatch(r"[^@:]+(:[^@/]+)?@sha256:[0-9a-f]{64}", image), f"{name}: {image}"
                continue
            repository, _, tag = image.rpartition(":")
            assert repository and "/" not in tag, f"{name}: {image} has no tag"
            assert tag != "latest", f"{name}: {image}"
    defaults = {_container(item)["image"] for item in by_kind(render(VALUE_SETS["defaults"]), "Deployment")}
    assert defaults == {f"modelmon:{app_version}"}


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_each_workload_runs_its_role(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    assert _container(_api(objects))["args"] == ["serve"]
    worker = one(objects, "Deployment", "worker")
    assert _container(worker)["args"] == ["worker"]
    assert "command" not in _container(worker), "the image's entrypoint must stay in charge"
    assert worker["spec"]["replicas"] == VALUE_SETS[values_name].get("worker", {}).get("replicas", 1)
    # Its only port is the metrics one (tests/deploy/test_chart_worker_metrics.py).
    assert {port["name"] for port in _container(worker).get("ports", [])} <= {"metrics"}


def test_the_migration_job_is_a_pre_install_and_pre_upgrade_hook() -> None:
    objects = render(VALUE_SETS["defaults"])
    job = one(objects, "Job")
    assert _hook_annotations(job) == {
        "helm.sh/hook": "pre-install,pre-upgrade",
        "helm.sh/hook-weight": "0",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }
    container = _container(job)
    assert container["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # A pre-install hook runs before the release's own objects exist: it may only use hook
    # objects created before it (lower weight) and the namespace's default service account.
    pod = job["spec"]["template"]["spec"]
    assert pod.get("serviceAccountName", "default") == "default"
    (secret_ref,) = [source["secretRef"]["name"] for source in container["envFrom"]]
    assert not any("configMapRef" in source for source in container["envFrom"])
    hook_secret = next(item for item in by_kind(objects, "Secret") if item["metadata"]["name"] == secret_ref)
    hooks = _hook_annotations(hook_secret)
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hooks["helm.sh/hook-weight"]) < 0
    # The copy of the database URL is removed once the migration has succeeded.
    assert "hook-succeeded" in hooks["helm.sh/hook-delete-policy"].split(",")
    assert base64.b64decode(hook_secret["data"]["MODELMON_DATABASE_URL"]).decode() == DATABASE_URL
    # Same settings as the API and the workers, inlined since the ConfigMap does not exist yet.
    inlined = {variable["name"]: variable["value"] for variable in container["env"]}
    assert inlined == one(objects, "ConfigMap")["data"]
    # Every other object is an ordinary release object.
    for item in objects:
        if item is not job and item is not hook_secret:
            assert _hook_annotations(item) == {}, f"{item['kind']}/{item['metadata']['name']}"


def test_with_an_existing_secret_the_chart_creates_none_and_every_pod_uses_it() -> None:
    objects = render(VALUE_SETS["existing-secret"])
    assert by_kind(objects, "Secret") == []
    for name, pod in pod_templates(objects):
        for container in containers(pod):
            secrets = [
                source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source
            ]
            assert secrets == ["modelmon-database"], name


def test_migrations_can_be_left_to_the_operator() -> None:
    objects = render(VALUE_SETS["minimal"])
    assert by_kind(objects, "Job") == []
    assert [item["metadata"]["name"] for item in by_kind(objects, "Secret")] == [f"{RELEASE}-modelmon"]


@pytest.mark.slow
@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_probes_are_healthz_and_readyz_on_the_http_port(values_name: str) -> None:
    container = _container(_api(render(VALUE_SETS[values_name])))
    probes = {
        kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": {"path": "/healthz", "port": "http"},
        "livenessProbe": {"path": "/healthz", "port": "http"},
        "readinessProbe": {"path": "/readyz", "port": "http"},
    }
    (port,) = container["ports"]
    assert port["name"] == "http"
    config = one(render(VALUE_SETS[values_name]), "ConfigMap")["data"]
    assert config["MODELMON_PORT"] == str(port["containerPort"])
    assert config["MODELMON_HOST"] == "0.0.0.0"


@pytest.mark.slow
def test_the_probe_paths_answer_in_the_app(tmp_path: Path) -> None:
    container = _container(_api(render(VALUE_SETS["defaults"])))
    paths = {
        container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    database = f"sqlite:///{tmp_path / 'probe.db'}"
    upgrade(database)
    app = create_app(Settings(database_url=database))
    try:
        # The OpenAPI document lists every route, however the routers are nested.
        assert paths <= set(app.openapi()["paths"])
        with app_client(app) as client:
            for path in sorted(paths):
                assert client.get(path).status_code == 200, path
    finally:
        app.state.context.engine.dispose()


def test_shutdown_grace_covers_the_drain() -> None:
    api = _api(render(VALUE_SETS["defaults"]))
    pod = api["spec"]["template"]["spec"]
    sleep = _container(api)["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    (drain,) = re.findall(r"timeout_graceful_shutdown=(\d+)", (REPO / "service" / "cli.py").read_text())
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + int(drain)


def test_the_settings_rendered_are_real_and_production_accepts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = render(VALUE_SETS["everything-on"])
    config = one(objects, "ConfigMap")["data"]
    secret = next(item for item in by_kind(objects, "Secret") if not _hook_annotations(item))
    secret_values = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    fields = {f"MODELMON_{name.upper()}" for name in Settings.model_fields}
    # The webhook secret is a setting of a later issue; every other name must be a real setting.
    names = (set(config) | set(secret_values)) - {"MODELMON_WEBHOOK_SECRET"}
    assert names - fields == set()
    assert config["MODELMON_ENV"] == "production"
    assert one(render(VALUE_SETS["defaults"]), "ConfigMap")["data"]["MODELMON_ENV"] == "production"
    for name in [name for name in os.environ if name.startswith("MODELMON_")]:
        monkeypatch.delenv(name)
    for name in [*config, "MODELMON_DATABASE_URL", "MODELMON_PSEUDONYM_KEY", "MODELMON_SECRET_KEY"]:
        monkeypatch.setenv(name, {**config, **secret_values}[name])
    settings = Settings()
    check_production_safety(settings)
    assert settings.database_url == DATABASE_URL
    assert settings.migrate_on_start is False, "only the hook Job may migrate"


def test_a_changed_setting_rolls_the_pods() -> None:
    before = _api(render(VALUE_SETS["defaults"]))["spec"]["template"]["metadata"]["annotations"]
    changed = {**VALUE_SETS["defaults"], "config": {"logLevel": "debug"}}
    after = _api(render(changed))["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] != after["checksum/config"]
    assert before["checksum/secret"] == after["checksum/secret"]


def test_replicas_follow_the_autoscaler_when_it_is_on() -> None:
    with_hpa = render(VALUE_SETS["everything-on"])
    hpa = one(with_hpa, "HorizontalPodAutoscaler")
    api = _api(with_hpa)
    assert "replicas" not in api["spec"], "a fixed replica count would fight the autoscaler"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": api["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 6)
    without = render(VALUE_SETS["hpa-off"])
    assert by_kind(without, "HorizontalPodAutoscaler") == []
    assert _api(without)["spec"]["replicas"] == 4


@pytest.mark.parametrize("values_name", VALUE_SET_IDS)
def test_selectors_pick_the_right_pods(values_name: str) -> None:
    objects = render(VALUE_SETS[values_name])
    api_labels = _api(objects)["spec"]["template"]["metadata"]["labels"]
    worker_labels = one(objects, "Deployment", "worker")["spec"]["template"]["metadata"]["labels"]
    service = one(objects, "Service")
    assert _selects(service["spec"]["selector"], api_labels)
    assert not _selects(service["spec"]["selector"], worker_labels)
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for pdb in by_kind(objects, "PodDisruptionBudget"):
        assert _selects(pdb["spec"]["selector"]["matchLabels"], api_labels)
        assert not _selects(pdb["spec"]["selector"]["matchLabels"], worker_labels)
    for monitor in by_kind(objects, "ServiceMonitor"):
        assert _selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"
        assert _seconds(endpoint["scrapeTimeout"]) <= _seconds(endpoint["interval"])
    for policy in by_kind(objects, "NetworkPolicy"):
        for workload in [item for item in objects if item["kind"] in WORKLOAD_KINDS]:
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert _selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    for ingress in by_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"] == {
                    "name": service["metadata"]["name"],
                    "port": {"name": "http"},
                }


def test_a_release_named_modelmon_does_not_get_service_link_variables() -> None:
    # Kubernetes would set MODELMON_PORT=tcp://... in pods next to a Service named "modelmon",
    # which the settings refuse as a port; enableServiceLinks: false prevents it.
    objects = render(VALUE_SETS["defaults"], release="modelmon")
    assert one(objects, "Service")["metadata"]["name"] == "modelmon"
    for name, pod in pod_templates(objects):
        assert pod["enableServiceLinks"] is False, name


# ---- Prometheus rules ---------------------------------------------------------------------------


def test_the_prometheus_rule_carries_exactly_the_rules_file() -> None:
    rules = load_yaml(RULES_FILE)
    for values_name in ("everything-on", "hpa-off"):
        rule = one(render(VALUE_SETS[values_name]), "PrometheusRule")
        assert rule["spec"]["groups"] == rules["groups"]
        # Prometheus' own templating must reach Prometheus untouched, not be eaten by Helm.
        assert "{{ $labels.instance }}" in yaml.safe_dump(rule["spec"])
    assert by_kind(render(VALUE_SETS["defaults"]), "PrometheusRule") == []
    assert by_kind(render(VALUE_SETS["defaults"]), "ServiceMonitor") == []
    assert by_kind(render(VALUE_SETS["defaults"]), "PodMonitor") == []


def test_every_alert_has_a_severity_and_a_runbook_section() -> None:
    runbooks = (REPO / "docs" / "runbooks.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{2,3} (.+)$", runbooks, flags=re.MULTILINE)
    }
    alerts = [rule for group in load_yaml(RULES_FILE)["groups"] for rule in group["rules"] if "alert" in rule]
    assert alerts
    for rule in alerts:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        document, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (REPO / document).is_file(), rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"docs/runbooks.md has no section for {rule['alert']}"
