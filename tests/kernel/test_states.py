"""The state enums keep the strings already stored and served, and service code compares
statuses and states with their members, not with string literals."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import get_args

from service.kernel.states import COMPUTED, FigureStatus
from service.stats import intervals, quality, verdict
from service.webhooks.states import DeliveryState, Outcome, state_after
from service.windows.schemas import ITEM_EXAMPLE, EvaluationItem

SERVICE = Path(__file__).resolve().parents[2] / "service"
# The per-statistic statuses of ``service/stats``: typed ``Literal``s there (mypy's strict
# equality checks every comparison with them), a vocabulary of its own.
STATS_STATUSES = {*get_args(intervals.Status), *get_args(verdict.Status), *get_args(quality.QualityStatus)}
STATE_ATTRIBUTES = {"status", "state", "from_state", "to_state"}


def test_figure_statuses_are_the_stored_strings() -> None:
    assert [s.value for s in FigureStatus] == ["ok", "alert", "watch", "insufficient_data", "provisional"]
    assert json.dumps([FigureStatus.ALERT, f"{FigureStatus.PROVISIONAL}"]) == '["alert", "provisional"]'
    assert {"ok", "alert", "watch"} == COMPUTED


def test_the_api_serves_a_figure_status_as_its_string() -> None:
    schema = EvaluationItem.model_json_schema()
    assert schema["$defs"]["FigureStatus"]["enum"] == [s.value for s in FigureStatus]
    item = EvaluationItem.model_validate(ITEM_EXAMPLE)
    assert item.model_dump(mode="json")["status"] == "alert"


def test_delivery_states_and_outcomes_are_the_stored_strings() -> None:
    assert [s.value for s in DeliveryState] == ["pending", "delivered", "dead", "disabled"]
    assert [o.value for o in Outcome] == ["delivered", "retry", "dead", "disabled"]
    assert [state_after(o) for o in Outcome] == ["delivered", "pending", "dead", "disabled"]


def _is_state(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in STATE_ATTRIBUTES


def _sides(node: ast.AST) -> list[ast.expr]:
    """The operands of ``x.status == …`` / ``x.state in (…)``, and of SQL's ``X.state.in_(…)``."""
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        return sides if any(_is_state(s) for s in sides) else []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "in_":
        return list(node.args) if _is_state(node.func.value) else []
    return []


def _compared_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, literal) of every string literal compared with a ``.status`` or ``.state``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        for side in _sides(node):
            elements = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
            strings = [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            found += [(getattr(node, "lineno", 0), value) for value in strings]
    return found


def test_service_code_compares_statuses_with_enum_members() -> None:
    """Outside ``stats`` a literal is compared with a status only where ``windows`` turns a
    statistic's result into a figure, and then only with a stats status."""
    offending = []
    for path in sorted(SERVICE.rglob("*.py")):
        package = path.relative_to(SERVICE).parts[0]
        if package == "stats":
            continue
        for line, literal in _compared_literals(ast.parse(path.read_text(encoding="utf-8"))):
            if package != "windows" or literal not in STATS_STATUSES:
                offending.append(f"{path.relative_to(SERVICE.parent)}:{line} compares with {literal!r}")
    assert offending == []
