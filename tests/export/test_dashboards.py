"""The dashboards are JSON of the shape Grafana provisions (no Grafana can run here): a
schemaVersion, panels on the 24-column grid without overlaps, every panel and target on
the templated Prometheus datasource, and the variables the issue asks for."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.export.live import DASHBOARDS, REPO
from tests.export.promql import dashboards, panels

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"stat", "bargauge", "table", "timeseries", "heatmap", "row"}


def test_there_are_the_three_dashboards_with_unique_uids() -> None:
    boards = dashboards()
    assert set(boards) == {"fleet-overview", "model-detail", "service-health"}
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    assert all(len(uid) <= 40 for uid in uids)  # Grafana's uid limit


@pytest.mark.parametrize("name", ["fleet-overview", "model-detail", "service-health"])
def test_a_dashboard_has_the_shape_grafana_loads(name: str) -> None:
    board = dashboards()[name]
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["title"].startswith("modelmon / ")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in panels(board)]
    assert len(set(ids)) == len(ids)
    for panel in panels(board):
        _check_panel(panel)
    _check_no_overlap(panels(board))


def _check_panel(panel: dict[str, Any]) -> None:
    assert panel["type"] in PANEL_TYPES, panel["title"]
    grid = panel["gridPos"]
    assert set(grid) == {"x", "y", "w", "h"}, panel["title"]
    assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
    assert panel["datasource"] == DATASOURCE, panel["title"]
    assert panel["targets"], panel["title"]
    for target in panel["targets"]:
        assert target["datasource"] == DATASOURCE and target["expr"].strip() and target["refId"]


def _check_no_overlap(all_panels: list[dict[str, Any]]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in all_panels:
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_the_model_dashboard_has_model_and_version_variables() -> None:
    variables = {v["name"]: v for v in dashboards()["model-detail"]["templating"]["list"]}
    assert variables["model"]["query"]["query"].startswith("label_values(")
    assert "$model" in variables["version"]["query"]["query"]
    for panel in panels(dashboards()["model-detail"]):
        for target in panel["targets"]:
            assert 'model=~"$model"' in target["expr"], panel["title"]


def test_the_model_dashboard_draws_the_interval_band_and_provisional_figures() -> None:
    (performance,) = [p for p in panels(dashboards()["model-detail"]) if p["title"].startswith("Performance")]
    legends = {t["legendFormat"] for t in performance["targets"]}
    assert {"lower", "upper", "provisional"} <= legends
    overrides = {o["matcher"]["options"]: o["properties"] for o in performance["fieldConfig"]["overrides"]}
    assert {"id": "custom.fillBelowTo", "value": "lower"} in overrides["upper"]


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "modelmon.yml").read_text())["providers"]
    assert source["type"] == "prometheus" and source["uid"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    assert sorted(DASHBOARDS.glob("*.json"))
