"""The PromQL of the shipped dashboards and rules, and the metric names it uses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from tests.export.live import DASHBOARDS, RULES_FILE

# Words in PromQL that look like metric names but are functions, keywords or label names.
_NAME = re.compile(r"(?<![\w\"'$.])([a-zA-Z_:][\w:]*)(?=\s*(?:\{|\[|\)|$|\s|offset\b))")
_KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        "le",
    }
)
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL expression and where it comes from."""

    source: str
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # rows hold their collapsed panels
    return found


def panel_queries() -> list[Query]:
    return [
        Query(f"{name}: {panel['title']} ({target['refId']})", target["expr"])
        for name, board in dashboards().items()
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def variable_queries() -> list[Query]:
    found = []
    for name, board in dashboards().items():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                query = variable["query"]
                found.append(
                    Query(
                        f"{name}: ${variable['name']}", query["query"] if isinstance(query, dict) else query
                    )
                )
    return found


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES_FILE.read_text())["groups"] for rule in group["rules"]]


def rule_queries() -> list[Query]:
    return [Query(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules()]


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (including ``__name__=~`` alternatives)."""
    names = {m for m in _NAME.findall(_strip_strings(expr)) if m not in _KEYWORDS}
    names -= {f for f in names if re.search(rf"\b{re.escape(f)}\s*\(", expr)}  # functions
    for alternatives in re.findall(r'__name__=~"([^"]+)"', expr):
        names |= _expand(alternatives)
    return {n for n in names if n.startswith("modelmon_") or n == "up"}


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def _expand(pattern: str) -> set[str]:
    """``modelmon_(a|b)_total`` → {modelmon_a_total, modelmon_b_total} (one group only)."""
    match = re.fullmatch(r"([\w:]*)\(([\w|]+)\)([\w:]*)", pattern)
    if match is None:
        return {pattern}
    return {match.group(1) + part + match.group(3) for part in match.group(2).split("|")}


def label_values(query: str) -> tuple[str | None, str]:
    """``label_values(selector, label)`` → (selector or None, label)."""
    match = _LABEL_VALUES.match(query.strip())
    assert match is not None, f"not a label_values() query: {query}"
    return match.group(1), match.group(2)


def substitute(expr: str, variables: dict[str, str], rate_interval: str = "1m") -> str:
    """The expression as Grafana would send it, with test values for the variables."""
    text = expr.replace("$__rate_interval", rate_interval)
    for name, value in sorted(variables.items(), key=lambda item: -len(item[0])):
        text = text.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in text, f"unsubstituted variable in {expr}"
    return text


def histogram_base(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def only_instance(expr: str, instance: str) -> str:
    """``expr`` with every selector restricted to one scrape target (outside string literals)."""
    names = metric_names(expr)
    matcher = f'instance="{instance}"'
    pattern = re.compile(
        r"(?<![\w:])("
        + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
        + r")(?![\w:])(\s*\{)?"
    )

    def restrict(segment: str) -> str:
        segment = re.sub(r"\{(?=\s*__name__)", "{" + matcher + ",", segment)
        if not names:
            return segment
        return pattern.sub(
            lambda m: f"{m.group(1)}{{{matcher}," if m.group(2) else f"{m.group(1)}{{{matcher}}}", segment
        )

    parts = re.split(r'("(?:[^"\\]|\\.)*")', expr)
    return "".join(part if i % 2 else restrict(part) for i, part in enumerate(parts))
