"""Graphs of a drill's key metrics: PromQL over the drill, fault window shaded, events marked.

Figures are built on matplotlib's object API with the Agg canvas, never pyplot: no global
state, no display, safe in a pytest process that renders several graphs.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from infralab.prometheus import Prometheus, Series
from infralab.timeline import Event

FAULT_GID = "fault-window"  # artists are tagged so tests can find them without pixels
EVENT_GID_PREFIX = "event:"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class RenderedGraph:
    title: str
    png: bytes
    path: Path | None


def build_figure(
    panels: Mapping[str, Sequence[Series]],
    *,
    title: str,
    window: Window,
    fault: Window | None = None,
    events: Sequence[Event] = (),
) -> Figure:
    """One panel per expression (they rarely share a unit), sharing the time axis."""
    items = list(panels.items()) or [("(no expression)", [])]
    figure = Figure(figsize=(10, 2.6 * len(items) + 0.6), layout="constrained")
    axes = figure.subplots(len(items), 1, sharex=True, squeeze=False)[:, 0]
    figure.suptitle(title)
    for ax, (expr, series) in zip(axes, items, strict=True):
        for one in series:
            ax.plot([t for t, _ in one.points], [v for _, v in one.points], label=one.label, linewidth=1.2)
        if not series:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="grey")
        ax.set_title(expr, fontsize=9, loc="left", family="monospace")
        if fault is not None:
            ax.axvspan(fault.start, fault.end, color="tab:red", alpha=0.12, gid=FAULT_GID, label="fault")
        for event in events:
            ax.axvline(event.at, color="grey", linestyle=":", linewidth=1, gid=EVENT_GID_PREFIX + event.name)
        ax.set_xlim(window.start, window.end)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7, loc="upper left")
    top = axes[0]
    for event in events:  # names once, on the top panel, so lower panels stay readable
        top.text(
            event.at,  # matplotlib converts datetimes (units) in data coordinates
            0.98,
            event.name,
            transform=top.get_xaxis_transform(),
            rotation=90,
            fontsize=6,
            va="top",
            ha="right",
            color="dimgrey",
        )
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    axes[-1].set_xlabel("UTC")
    return figure


def to_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches itself: rendering never depends on the default backend
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def render_graph(
    prometheus: Prometheus,
    exprs: Sequence[str],
    *,
    title: str,
    window: Window,
    fault: Window | None = None,
    events: Sequence[Event] = (),
    path: Path | None = None,
) -> RenderedGraph:
    """Query each expression over the window and render it; written to `path` when given."""
    panels = {expr: prometheus.range_query(expr, window.start, window.end) for expr in exprs}
    png = to_png(build_figure(panels, title=title, window=window, fault=fault, events=events))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    return RenderedGraph(title, png, path)
