"""The SVG charts: axis ranges, gaps, provisional and alert marks, bands, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.ui.charts import figure, fmt, nice_step, svg, y_range
from service.ui.schemas import Chart, Point, Series
from tests.ui.dom import Node, parse

T0 = datetime(2026, 11, 1, tzinfo=UTC)
XS = tuple(T0 + timedelta(hours=h) for h in range(5))


def chart(*series: Series, thresholds: tuple[float, ...] = (), y_floor: float | None = None) -> Chart:
    return Chart("test", "Test", series, XS, thresholds=thresholds, y_floor=y_floor)


def line(
    ys: list[float | None], *, provisional: tuple[int, ...] = (), name: str = "s", band: bool = False
) -> Series:
    points = tuple(
        Point(x, y, None if y is None else y - 0.05, None if y is None else y + 0.05, 100, i in provisional)
        for i, (x, y) in enumerate(zip(XS, ys, strict=True))
    )
    return Series(name, points, band=band)


def drawn(c: Chart) -> Node:
    return parse(svg(c)).find("svg", "chart")


@pytest.mark.parametrize(
    ("span", "count", "step"), [(1.0, 4, 0.25), (0.37, 4, 0.1), (130.0, 4, 50.0), (0.004, 4, 0.001)]
)
def test_ticks_step_by_one_two_two_and_a_half_or_five(span: float, count: int, step: float) -> None:
    assert nice_step(span, count) == pytest.approx(step)


def test_y_range_covers_values_thresholds_bands_and_floor_on_ticks() -> None:
    bottom, top, step = y_range(chart(line([0.62, 0.7, 0.68, 0.66, 0.64], band=True), thresholds=(0.5,)))
    assert bottom <= 0.5 and top >= 0.75 and step > 0
    assert bottom / step == pytest.approx(round(bottom / step)) and top / step == pytest.approx(
        round(top / step)
    )
    bottom, _, _ = y_range(chart(line([0.3, 0.4, 0.3, 0.4, 0.3]), y_floor=0.0))
    assert bottom == 0.0  # a rate's axis starts at 0, never below it
    bottom, top, _ = y_range(chart(line([0.5] * 5)))  # a flat line still gets a range
    assert bottom < 0.5 < top


def test_a_window_without_value_breaks_the_line_and_has_no_point() -> None:
    g = drawn(chart(line([0.1, 0.2, None, 0.2, 0.1]))).find("g", "series")
    assert len(g.find_all("circle", "point")) == 4
    (path,) = g.find_all("path", "line")
    assert path.attrs["d"].count("M") == 2  # two segments: 0→1 and 3→4


def test_provisional_windows_are_hollow_on_dashed_segments() -> None:
    g = drawn(chart(line([0.7, 0.71, 0.72, 0.7, 0.69], provisional=(3, 4)))).find("g", "series")
    hollow = g.find_all("circle", "provisional")
    assert len(hollow) == 2 and all(c.attrs["fill"] == "#ffffff" for c in hollow)
    solid, dashed = g.find_all("path", "line")
    assert "provisional" not in solid.attrs["class"] and solid.attrs["d"].count("M") == 2
    assert "provisional" in dashed.attrs["class"] and dashed.attrs["d"].count("M") == 2
    assert "provisional" in hollow[0].find("title").text


def test_alerting_points_have_a_red_rim_and_the_legend_says_so() -> None:
    points = tuple(Point(x, 0.2, n=50, alert=i == 4) for i, x in enumerate(XS))
    html = parse(figure(chart(Series("income", points), thresholds=(0.1,))))
    (alerted,) = html.find_all("circle", "alert")
    assert alerted.attrs["stroke"] == "#c62828"
    legend = html.find("ul", "legend").text
    assert "alert" in legend and "threshold" in legend and "provisional" not in legend


def test_watch_points_have_an_amber_rim_distinct_from_alerts_and_the_legend_says_so() -> None:
    points = tuple(Point(x, 0.2, 0.05, 0.35, n=50, watch=i == 3, alert=i == 4) for i, x in enumerate(XS))
    html = parse(figure(chart(Series("income", points), thresholds=(0.1,))))
    (watched,) = html.find_all("circle", "watch")
    (alerted,) = html.find_all("circle", "alert")
    assert watched.attrs["stroke"] == "#b26a00" and alerted.attrs["stroke"] == "#c62828"
    assert "watch" in watched.find("title").text
    legend = html.find("ul", "legend").text
    assert "watch (past the threshold, not on evidence)" in legend and "alert" in legend


def test_band_is_one_polygon_per_run_of_intervals() -> None:
    g = drawn(chart(line([0.6, 0.62, None, 0.61, 0.6], band=True))).find("g", "series")
    assert len(g.find_all("polygon", "band")) == 2


def test_a_chart_without_any_value_says_so_instead_of_drawing() -> None:
    html = parse(figure(chart(line([None] * 5, name="65+"))))
    assert html.find_all("svg", "chart") == []
    assert html.find("p", "empty").text == "No value in the windows shown."


def test_names_are_escaped_in_attributes_tooltips_and_legend() -> None:
    name = '"><script>x</script>'
    out = figure(chart(line([0.1] * 5, name=name)))
    assert "<script>" not in out
    assert parse(out).find("g", "series").attrs["data-series"] == name


def test_figures_read_as_three_significant_digits() -> None:
    assert [fmt(v) for v in (None, 0.123456, 0.8, 1.0, 12345.6, -0.00123)] == [
        "—",
        "0.123",
        "0.8",
        "1",
        "12,346",
        "-0.00123",
    ]
