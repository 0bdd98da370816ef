"""JSON schemas of the Prometheus Operator kinds the chart renders (monitoring.coreos.com/v1),
for which kubernetes-validate has none.

Only the fields the chart uses, strictly: a misspelt field fails here the way
kubernetes-validate --strict fails one in a built-in kind.
"""

from __future__ import annotations

from typing import Any

_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": _STRINGS,
        "annotations": _STRINGS,
    },
}
# Prometheus' duration format, as the Prometheus Operator's CRDs define it.
_DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


def _monitor(endpoints: str) -> dict[str, Any]:
    """The spec of a ServiceMonitor (``endpoints``) or a PodMonitor (``podMetricsEndpoints``)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["selector", endpoints],
        "properties": {
            "namespaceSelector": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "any": {"type": "boolean"},
                    "matchNames": {"type": "array", "items": {"type": "string"}},
                },
            },
            "selector": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"matchLabels": _STRINGS},
            },
            endpoints: {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["port"],
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string", "pattern": "^/"},
                        "interval": _DURATION,
                        "scrapeTimeout": _DURATION,
                    },
                },
            },
        },
    }


_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "record": {"type": "string"},
        "expr": {"type": "string", "minLength": 1},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": _STRINGS,
        "annotations": _STRINGS,
    },
}
_RULE_GROUPS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "rules"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": _DURATION,
                    "rules": {"type": "array", "minItems": 1, "items": _RULE},
                },
            },
        }
    },
}

CUSTOM_RESOURCE_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _resource("ServiceMonitor", _monitor("endpoints")),
    "PodMonitor": _resource("PodMonitor", _monitor("podMetricsEndpoints")),
    "PrometheusRule": _resource("PrometheusRule", _RULE_GROUPS),
}
