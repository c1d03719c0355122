"""A drill's timeline: when the fault went in, when each signal appeared, when it recovered."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Event:
    name: str
    at: datetime  # wall clock, UTC
    offset: float  # seconds since the timeline started
    slo: float | None = None  # seconds allowed from the reference event, when it has an SLO


@dataclass
class Timeline:
    scenario: str
    events: list[Event] = field(default_factory=list)
    _start: float = field(default_factory=time.monotonic)

    def mark(self, name: str, *, slo: float | None = None) -> Event:
        if not self.events:  # offsets count from the first event (the fault), not from setup
            self._start = time.monotonic()
        event = Event(name, datetime.now(UTC), time.monotonic() - self._start, slo)
        self.events.append(event)
        return event

    def budget(self, reference: str, slo: float) -> float:
        """Seconds left of an SLO counted from an earlier event (never negative)."""
        return max(0.0, slo - (time.monotonic() - self._start - self._get(reference).offset))

    def between(self, first: str, then: str) -> float:
        return self._get(then).offset - self._get(first).offset

    def _get(self, name: str) -> Event:
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(f"no event {name!r} in the timeline of {self.scenario}")

    def to_markdown(self) -> str:
        rows = [
            f"| {e.at:%H:%M:%S.%f}"[:-3]
            + f" | +{e.offset:6.1f}s | {e.name} | {'' if e.slo is None else f'≤ {e.slo:.0f}s'} |"
            for e in self.events
        ]
        return "\n".join([f"### {self.scenario}", "", "| UTC | offset | event | SLO |", "|---|---|---|---|", *rows])
