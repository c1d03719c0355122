"""Graphs from synthetic series: a real PNG, fault window shaded, events marked (no pixel compares)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.image import imread

from infralab.plots import EVENT_GID_PREFIX, FAULT_GID, Window, build_figure, render_graph, to_png
from infralab.prometheus import Series, parse_matrix
from infralab.timeline import Event

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(minutes=5))
FAULT = Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
EVENTS = [
    Event("fault injected", FAULT.start, 0.0),
    Event("critical alert in Slack", FAULT.start + timedelta(seconds=40), 40.0, 45),
    Event("recovery started", FAULT.end, 120.0),
]


def _series(service: str, high: float) -> Series:
    points = [(T0 + timedelta(seconds=15 * n), high if 4 <= n < 12 else 0.0) for n in range(21)]
    return Series({"service": service}, points)


PANELS = {
    "service:http_requests_5xx:ratio_rate1m": [_series("core-server", 0.8), _series("worker-server", 0.1)],
    "up": [],
}


def test_fault_window_is_shaded_and_events_are_marked_on_every_panel() -> None:
    figure = build_figure(PANELS, title="nginx-502", window=WINDOW, fault=FAULT, events=EVENTS)
    assert len(figure.axes) == 2
    for ax in figure.axes:
        assert [p.get_gid() for p in ax.patches] == [FAULT_GID]
        marked = [line.get_gid() for line in ax.lines if (line.get_gid() or "").startswith(EVENT_GID_PREFIX)]
        assert marked == [EVENT_GID_PREFIX + e.name for e in EVENTS]
    data = [line for line in figure.axes[0].lines if line.get_gid() is None]
    assert [line.get_label() for line in data] == ["service=core-server", "service=worker-server"]
    assert any(t.get_text() == "no data" for t in figure.axes[1].texts)


def test_png_is_valid_and_of_sane_size() -> None:
    png = to_png(build_figure(PANELS, title="nginx-502", window=WINDOW, fault=FAULT, events=EVENTS))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 10_000 < len(png) < 2_000_000
    height, width, _ = imread(io.BytesIO(png)).shape
    assert (width, height) == (1000, int((2.6 * 2 + 0.6) * 100))


def test_no_fault_no_shading() -> None:
    figure = build_figure(PANELS, title="steady", window=WINDOW)
    assert not [p for ax in figure.axes for p in ax.patches if p.get_gid() == FAULT_GID]


class FakePrometheus:
    def __init__(self) -> None:
        self.asked: list[tuple[str, datetime, datetime]] = []

    def range_query(self, expr: str, start: datetime, end: datetime) -> list[Series]:
        self.asked.append((expr, start, end))
        return PANELS.get(expr, [])


def test_render_graph_queries_each_expression_over_the_window(tmp_path: Path) -> None:
    prometheus = FakePrometheus()
    target = tmp_path / "graphs" / "g.png"
    graph = render_graph(
        prometheus,  # type: ignore[arg-type]
        list(PANELS),
        title="t",
        window=WINDOW,
        fault=FAULT,
        events=EVENTS,
        path=target,
    )
    assert [a[0] for a in prometheus.asked] == list(PANELS)
    assert {(a[1], a[2]) for a in prometheus.asked} == {(WINDOW.start, WINDOW.end)}
    assert target.read_bytes() == graph.png


def test_range_query_matrix_parsing() -> None:
    matrix = [{"metric": {"__name__": "up", "job": "core"}, "values": [[1795680000, "1"], [1795680015.5, "0"]]}]
    [series] = parse_matrix(matrix)
    assert series.label == "job=core"
    assert series.points[1] == (datetime.fromtimestamp(1795680015.5, UTC), 0.0)
