"""Prometheus assertions: evaluate PromQL through nginx and wait for conditions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_api_client import PrometheusConnect

from infralab.endpoints import Endpoints
from infralab.waiting import Waited, wait_until


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and (UTC time, value) points."""

    labels: dict[str, str]
    points: list[tuple[datetime, float]]

    @property
    def label(self) -> str:
        # __name__ adds nothing to a legend whose panel is titled with the expression.
        return ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k != "__name__") or "value"


def parse_matrix(result: list[dict[str, Any]]) -> list[Series]:
    """A range query's matrix as Series (Prometheus sends values as strings, times as epoch floats)."""
    return [
        Series(
            {str(k): str(v) for k, v in item["metric"].items()},
            [(datetime.fromtimestamp(float(t), UTC), float(v)) for t, v in item["values"]],
        )
        for item in result
    ]


class Prometheus:
    def __init__(self, endpoints: Endpoints) -> None:
        self.api = PrometheusConnect(
            url=f"{endpoints.base_url}/prometheus", auth=endpoints.ops_auth, disable_ssl=True, timeout=10
        )

    def values(self, expr: str) -> dict[str, float]:
        """Instant vector as {label string: value}; scalars come back under ''."""
        result = self.api.custom_query(expr)
        if isinstance(result, list):
            return {",".join(f"{k}={v}" for k, v in sorted(s["metric"].items())): float(s["value"][1]) for s in result}
        return {"": float(result[1])}

    def range_query(self, expr: str, start: datetime, end: datetime, *, step: float | None = None) -> list[Series]:
        """The expression over a window; by default ~300 points, at most one per second."""
        seconds = max(1.0, step if step is not None else (end - start).total_seconds() / 300)
        # Prometheus takes the step as float seconds or a duration; "1.500s" is neither.
        result = self.api.custom_query_range(expr, start_time=start, end_time=end, step=f"{seconds:.3f}")
        return parse_matrix(result)

    def value(self, expr: str) -> float | None:
        """The single value of an expression; None when it returns no series."""
        values = self.values(expr)
        if len(values) > 1:
            raise AssertionError(f"{expr} returned {len(values)} series, expected one: {values}")
        return next(iter(values.values()), None)

    def wait_for(
        self, expr: str, predicate: Callable[[float], bool], *, timeout: float, what: str | None = None
    ) -> Waited[float]:
        def probe() -> float | None:
            value = self.value(expr)
            return value if value is not None and predicate(value) else None

        # A value of 0.0 is falsy: wrap it so wait_until sees "condition held".
        waited = wait_until(
            lambda: (v,) if (v := probe()) is not None else None, timeout=timeout, what=what or f"PromQL {expr}"
        )
        return Waited(waited.value[0], waited.elapsed)

    def targets_down(self) -> list[str]:
        """Jobs with a target whose last scrape failed."""
        active = self.api.get_targets(state="active")["activeTargets"]
        return sorted(t["labels"].get("job", "?") for t in active if t["health"] != "up")
