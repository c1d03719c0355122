"""A drill's timeline: when the fault went in, when each signal appeared, when it recovered."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Event:
    name: str
    at: datetime  # wall clock, UTC
    offset: float  # seconds since the timeline started
    slo: float | None = None  # seconds allowed from the reference event, when it has an SLO
    since: str | None = None  # the reference event of the SLO, when the drill named it


@dataclass
class Timeline:
    scenario: str
    events: list[Event] = field(default_factory=list)
    # Measured numbers a drill reports beside its events ("failed requests": "0 of 9120 (52/s)").
    figures: dict[str, str] = field(default_factory=dict)
    # The alert each Slack event saw (event -> alertname): the report bounds the page by its rule.
    alerts: dict[str, str] = field(default_factory=dict)
    _start: float = field(default_factory=time.monotonic)

    def figure(self, name: str, value: str) -> None:
        self.figures[name] = value

    def mark(self, name: str, *, slo: float | None = None, since: str | None = None) -> Event:
        if not self.events:  # offsets count from the first event (the fault), not from setup
            self._start = time.monotonic()
        event = Event(name, datetime.now(UTC), time.monotonic() - self._start, slo, since)
        self.events.append(event)
        return event

    def record(self, name: str, at: datetime, *, slo: float | None = None, since: str | None = None) -> Event:
        """An event seen after the fact, at the wall-clock time a record says it happened
        (a Slack message's arrival): placed among the others by its time."""
        if not self.events:
            raise ValueError(f"{name!r}: record events only after the first mark (the fault)")
        event = Event(name, at, (at - self.events[0].at).total_seconds(), slo, since)
        position = next((i for i, e in enumerate(self.events) if e.offset > event.offset), len(self.events))
        self.events.insert(position, event)
        return event

    def budget(self, reference: str, slo: float) -> float:
        """Seconds left of an SLO counted from an earlier event (never negative)."""
        return max(0.0, slo - (time.monotonic() - self._start - self._get(reference).offset))

    def between(self, first: str, then: str) -> float:
        return self._get(then).offset - self._get(first).offset

    def get(self, name: str) -> Event:
        return self._get(name)

    def find(self, name: str) -> Event | None:
        """The first event of that name, or None (a drill that failed early never marked it)."""
        return next((e for e in self.events if e.name == name), None)

    def _get(self, name: str) -> Event:
        found = self.find(name)
        if found is None:
            raise KeyError(f"no event {name!r} in the timeline of {self.scenario}")
        return found

    def reference_of(self, event: Event, anchors: Sequence[str]) -> Event | None:
        """The event an SLO counts from: the one the drill named, else the latest anchor before it.

        Drills count signal SLOs from the fault and recovery SLOs from the recovery start without
        always saying so; "the latest anchor so far" reproduces that convention.
        """
        if event.since is not None:
            return self.find(event.since)
        index = self.events.index(event)
        earlier = [e for e in self.events[:index] if e.name in anchors]
        return earlier[-1] if earlier else None

    def slo_met(self, event: Event, anchors: Sequence[str]) -> bool | None:
        """Whether an event came within its SLO; None when it has no SLO or no reference."""
        reference = self.reference_of(event, anchors)
        if event.slo is None or reference is None:
            return None
        return event.offset - reference.offset <= event.slo

    def first_of(self, names: Iterable[str], *, after: str) -> Event | None:
        """The earliest of the named events at or after `after` (e.g. the first signal of a fault)."""
        start = self.find(after)
        if start is None:
            return None
        wanted = set(names)
        return min(
            (e for e in self.events if e.name in wanted and e.offset >= start.offset),
            key=lambda e: e.offset,
            default=None,
        )

    def mttd(self, fault: str, signals: Iterable[str]) -> float | None:
        """Time to detect: from the fault to the first expected signal; None if none appeared."""
        first = self.first_of(signals, after=fault)
        return None if first is None else first.offset - self._get(fault).offset

    def duration(self, start: str, end: str) -> float | None:
        """Seconds between two events (MTTR and friends); None when either is missing."""
        first, then = self.find(start), self.find(end)
        return None if first is None or then is None else then.offset - first.offset

    def to_markdown(self) -> str:
        rows = [
            f"| {e.at:%H:%M:%S.%f}"[:-3]
            + f" | +{e.offset:6.1f}s | {e.name} | {'' if e.slo is None else f'≤ {e.slo:.0f}s'} |"
            for e in self.events
        ]
        return "\n".join([f"### {self.scenario}", "", "| UTC | offset | event | SLO |", "|---|---|---|---|", *rows])

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["utc", "offset_s", "event", "slo_s", "since"])
        for e in self.events:
            writer.writerow(
                [e.at.isoformat(), f"{e.offset:.3f}", e.name, "" if e.slo is None else e.slo, e.since or ""]
            )
        return out.getvalue()
