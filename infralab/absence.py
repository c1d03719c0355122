"""What a drill proves did not happen: the absence behind each of its NotExpected signals.

A drill declares it as data, `NotExpected(reason, proof)` with one of the proofs below, and
`Drill.recovered()` runs every proof once, after the post-recovery checklist, over the whole
drill: from `Drill.begin()` (where the Slack and Sentry cursors were taken) to that moment.
Each proof becomes a timeline event, which is how the incident report reads the outcome back.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

import yaml

from infralab.alerts import SlackMessage, SlackSink
from infralab.logs import LogLine, LogSelector, LogSource
from infralab.paths import COMPOSE_FILE, REPO_ROOT
from infralab.prometheus import Prometheus, Series, parse_matrix
from infralab.sentry import PROJECTS, SentryEvent, SentrySink
from infralab.timeline import Timeline
from infralab.waiting import wait_until

ALERTMANAGER_CONFIG = REPO_ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
RULES_DIR = REPO_ROOT / "monitoring" / "prometheus" / "rules"
_SERVICES_BY_PROJECT = {v: k for k, v in PROJECTS.items()}


@cache
def slack_channels() -> frozenset[str]:
    """The channels Alertmanager's receivers post to (#lab-critical, #lab-warning, ...)."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    return frozenset(c["channel"] for r in config["receivers"] for c in r.get("slack_configs", []))


@cache
def alert_names() -> frozenset[str]:
    """Every alerting rule the lab's Prometheus loads."""
    names = set()
    for path in RULES_DIR.glob("*.yml"):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names |= {rule["alert"] for rule in group.get("rules", []) if "alert" in rule}
    return frozenset(names)


@cache
def lab_services() -> frozenset[str]:
    return frozenset(yaml.safe_load(COMPOSE_FILE.read_text())["services"])


def _known(what: str, given: tuple[str, ...], known: frozenset[str]) -> None:
    # A misspelt name would make the proof pass whatever happens: refuse it at import.
    if isinstance(given, str) or not given or any(g not in known for g in given):
        raise ValueError(f"{what}: name one or more of {sorted(known)}, not {given!r}")


@dataclass(frozen=True)
class AbsenceWindow:
    """Where absences are looked for, from the drill's start to its end (after recovery)."""

    start: datetime  # Drill.begin(), once the lab was steady
    end: datetime
    sentry: SentrySink
    sentry_since: int  # the stand-ins' cursors taken at the start
    slack: SlackSink
    slack_since: int
    prometheus: Prometheus
    logs: LogSource

    @property
    def seconds(self) -> int:
        return math.ceil((self.end - self.start).total_seconds())


class AbsenceProof(ABC):
    """Something that must not appear during a drill."""

    @abstractmethod
    def describe(self) -> str:
        """What must be absent, for the timeline and the report: "no Sentry event from core-server"."""

    @abstractmethod
    def find(self, window: AbsenceWindow) -> list[str]:
        """What did appear in the window, one description each; empty when absent."""


@dataclass(frozen=True)
class NoSentryEvents(AbsenceProof):
    services: tuple[str, ...]  # services with a Sentry project (sentry.PROJECTS)

    def __post_init__(self) -> None:
        _known("NoSentryEvents(services)", self.services, frozenset(PROJECTS))

    def describe(self) -> str:
        return f"no Sentry event from {', '.join(self.services)}"

    def find(self, window: AbsenceWindow) -> list[str]:
        projects = {PROJECTS[s] for s in self.services}
        return [_sentry_event(e) for e in window.sentry.events(window.sentry_since) if e.project in projects]


def _sentry_event(event: SentryEvent) -> str:
    exception = event.raw.get("exception") or {}
    values = exception.get("values") or [] if isinstance(exception, dict) else exception
    value = next((str(v["value"]) for v in values if isinstance(v, dict) and v.get("value")), "")
    service = _SERVICES_BY_PROJECT.get(event.project, f"project {event.project}")
    what = ", ".join(event.exception_types) or "message"
    return f"{service} {event.level} {what}: {(event.message or value)[:160]!r} (event {event.event_id})"


@dataclass(frozen=True)
class NoSlack(AbsenceProof):
    """No message on any of `channels`, and none about any of `alerts` (firing or resolved)."""

    channels: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.channels or self.alerts):
            raise ValueError("NoSlack: name the channels or the alerts that must stay quiet")
        if self.channels:
            _known("NoSlack(channels)", self.channels, slack_channels())
        if self.alerts:
            _known("NoSlack(alerts)", self.alerts, alert_names())

    def describe(self) -> str:
        parts = [f"on {', '.join(self.channels)}"] if self.channels else []
        parts += [f"about {', '.join(self.alerts)}"] if self.alerts else []
        return f"no Slack message {' or '.join(parts)}"

    def find(self, window: AbsenceWindow) -> list[str]:
        return [
            _slack_message(m)
            for m in window.slack.messages(window.slack_since)
            if m.channel in self.channels or m.alertname in self.alerts
        ]


def _slack_message(message: SlackMessage) -> str:
    return f"{message.title[:160]!r} on {message.channel or '(no channel)'} at {message.received_at}"


@dataclass(frozen=True)
class NoAlertFired(AbsenceProof):
    """None of `alerts` firing in Prometheus at any time in the window, not only at its end."""

    alerts: tuple[str, ...]

    def __post_init__(self) -> None:
        _known("NoAlertFired(alerts)", self.alerts, alert_names())

    def describe(self) -> str:
        return f"{' or '.join(self.alerts)} never firing"

    def find(self, window: AbsenceWindow) -> list[str]:
        return [_fired(s) for s in firing_history(window.prometheus, self.alerts, window.end, window.seconds)]


def firing_history(prometheus: Prometheus, alerts: tuple[str, ...], end: datetime, seconds: int) -> list[Series]:
    """The raw ALERTS samples of `alerts` while firing, in (end - seconds, end].

    A range selector in an instant query returns every sample Prometheus wrote in the range,
    so an alert that fired and resolved in between is there, with when.
    """
    query = f'ALERTS{{alertname=~"{"|".join(alerts)}", alertstate="firing"}}[{seconds}s]'
    result: list[dict[str, Any]] = prometheus.api.custom_query(query, params={"time": f"{end.timestamp():.3f}"})
    return parse_matrix(result)


def _fired(series: Series) -> str:
    labels = {k: v for k, v in series.labels.items() if k not in {"__name__", "alertname", "alertstate"}}
    where = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    first, last = series.points[0][0], series.points[-1][0]
    return f"{series.labels.get('alertname', '?')}{{{where}}} firing {_hms(first)}-{_hms(last)} UTC"


@dataclass(frozen=True)
class NoLogLine(AbsenceProof):
    """No line matching the selector in the drill's log source (Loki or the containers' logs)."""

    selector: LogSelector

    def __post_init__(self) -> None:
        _known("NoLogLine(selector.service)", (self.selector.service,), lab_services())
        s = self.selector
        if s.contains is None and s.regex is None and not s.fields:
            raise ValueError("NoLogLine: say what the line holds (contains, regex or fields)")

    def describe(self) -> str:
        return f"no log line {self.selector.describe()}"

    def find(self, window: AbsenceWindow) -> list[str]:
        return [_log_line(line) for line in window.logs.search(self.selector, window.start)]


def _log_line(line: LogLine) -> str:
    return f"{_hms(line.at)} UTC ({line.backend}) {line.line[:200]}"


def _hms(at: datetime) -> str:
    return f"{at.astimezone(UTC):%H:%M:%S}"


# --- running the proofs, and their timeline events -------------------------------------------


def absent_event(proof: AbsenceProof, seconds: int) -> str:
    return f"absent: {proof.describe()} (over {seconds} s)"


def present_event(proof: AbsenceProof, found: Sequence[str]) -> str:
    more = f" (+{len(found) - 2} more)" if len(found) > 2 else ""
    return f"present: {proof.describe()}: {'; '.join(found[:2])}{more}"


def _found(proof: AbsenceProof, window: AbsenceWindow) -> tuple[list[str]]:
    return (proof.find(window),)  # a tuple: "nothing found" is the answer, not "not yet"


def prove(
    proofs: Sequence[AbsenceProof], window: AbsenceWindow, timeline: Timeline, *, timeout: float = 30
) -> list[str]:
    """Run each proof once over the window and mark its outcome; one line per failed proof."""
    failures = []
    for proof in proofs:
        # Only a query that errors (a stand-in restarting) is tried again; an answer is final.
        found = wait_until(
            partial(_found, proof, window), timeout=timeout, interval=2, what=f"absence check: {proof.describe()}"
        ).value[0]
        if found:
            timeline.mark(present_event(proof, found))
            failures.append(f"{proof.describe()}, but: " + "; ".join(found))
        else:
            timeline.mark(absent_event(proof, window.seconds))
    return failures


@dataclass(frozen=True)
class Outcome:
    absent: bool
    seconds: int | None = None  # the window, when absent
    found: str = ""  # what appeared, when not


def outcome(timeline: Timeline, proof: AbsenceProof) -> Outcome | None:
    """A proof's outcome as its timeline event says; None when it never ran (the drill ended early)."""
    described = re.escape(proof.describe())
    for event in timeline.events:
        if absent := re.fullmatch(rf"absent: {described} \(over (\d+) s\)", event.name):
            return Outcome(True, seconds=int(absent[1]))
        if present := re.fullmatch(rf"present: {described}: (.*)", event.name, re.DOTALL):
            return Outcome(False, found=present[1])
    return None
