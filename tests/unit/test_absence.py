"""Absence proofs: what a drill says cannot happen is checked over its whole window, on fakes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infralab.absence import (
    AbsenceProof,
    AbsenceWindow,
    NoAlertFired,
    NoLogLine,
    NoSentryEvents,
    NoSlack,
    Outcome,
    outcome,
    prove,
)
from infralab.alerts import SlackSink
from infralab.checklist import PostRecovery
from infralab.drill import Drill
from infralab.logs import LogLine, LogSelector, LogSource
from infralab.scenario import Expected, NotExpected, Scenario, SignalKind
from infralab.sentry import SentryEvent, SentrySink
from infralab.timeline import Timeline

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
END = START + timedelta(seconds=299.5)  # the window is 300 s, rounded up


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


# --- fakes -----------------------------------------------------------------------------------


def stand_in(records: list[dict[str, Any]]) -> httpx.Client:
    """A Slack or Sentry stand-in answering /records?since= from a list that tests may grow."""

    def handler(request: httpx.Request) -> httpx.Response:
        since = int(request.url.params.get("since", 0))
        return httpx.Response(200, json=[r for r in records if r["seq"] > since])

    return httpx.Client(base_url="http://lab", transport=httpx.MockTransport(handler))


def sentry_record(seq: int, project: str, exception: str = "", message: str = "") -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": f"e{seq}", "level": "error", "release": "core-server@1.4.0"}
    if exception:
        event["exception"] = {"values": [{"type": exception, "value": message}]}
    else:
        event["message"] = message
    return {"seq": seq, "received_at": START.isoformat(), "project": project, "item_type": "event", "event": event}


def slack_record(seq: int, title: str, channel: str) -> dict[str, Any]:
    return {"seq": seq, "received_at": "2026-11-26T08:01:00.000Z", "payload": {"channel": channel, "text": title}}


@dataclass
class FakePromApi:
    """Prometheus's instant query of a range selector: every raw sample in (time - range, time]."""

    samples: list[tuple[dict[str, str], datetime]] = field(default_factory=list)  # ALERTS, firing
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    errors: int = 0  # answer with an error this many times first

    def custom_query(self, query: str, params: dict[str, str]) -> list[dict[str, Any]]:
        self.queries.append((query, params))
        if self.errors:
            self.errors -= 1
            raise ConnectionError("prometheus restarting")
        match = re.fullmatch(r'ALERTS\{alertname=~"([^"]+)", alertstate="firing"\}\[(\d+)s\]', query)
        assert match, query
        names, seconds, end = set(match[1].split("|")), int(match[2]), float(params["time"])
        series: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
        for labels, when in self.samples:
            if labels["alertname"] in names and end - seconds < when.timestamp() <= end:
                series.setdefault(tuple(sorted(labels.items())), []).append([when.timestamp(), "1"])
        return [{"metric": dict(key), "values": values} for key, values in series.items()]


@dataclass
class FakePrometheus:
    api: FakePromApi = field(default_factory=FakePromApi)

    # what the post-recovery checklist asks: a recovered lab
    def values(self, expr: str) -> dict[str, float]:
        return {}

    def value(self, expr: str) -> float | None:
        return 0.0


class FakeLogs(LogSource):
    name = "loki"

    def __init__(self, lines: list[LogLine]) -> None:
        super().__init__()
        self.lines = lines
        self.searched: list[tuple[LogSelector, datetime]] = []

    def search(self, selector: LogSelector, since: datetime) -> list[LogLine]:
        self.searched.append((selector, since))
        return [line for line in self.lines if line.at >= since and selector.match(line.line) is not None]


@dataclass
class Lab:
    sentry: list[dict[str, Any]] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    prometheus: FakePrometheus = field(default_factory=FakePrometheus)
    logs: FakeLogs = field(default_factory=lambda: FakeLogs([]))

    def window(self, *, sentry_since: int = 0, slack_since: int = 0) -> AbsenceWindow:
        return AbsenceWindow(
            start=START,
            end=END,
            sentry=SentrySink(stand_in(self.sentry), prefix=""),
            sentry_since=sentry_since,
            slack=SlackSink(stand_in(self.slack), prefix=""),
            slack_since=slack_since,
            prometheus=self.prometheus,  # type: ignore[arg-type]
            logs=self.logs,
        )


# --- each proof: passes on absence, names the culprit on presence ----------------------------


def test_no_sentry_events_from_the_named_services_since_the_cursor() -> None:
    lab = Lab(sentry=[sentry_record(1, "1", "PSQLException", "before the drill"), sentry_record(2, "2", "", "ok")])
    proof = NoSentryEvents(("core-server",))
    assert proof.find(lab.window(sentry_since=1)) == []  # core-server's event came before the drill

    lab.sentry.append(sentry_record(3, "1", "DataAccessException", "connection refused"))
    assert proof.find(lab.window(sentry_since=1)) == [
        "core-server error DataAccessException: 'connection refused' (event e3)"
    ]
    assert NoSentryEvents(("worker-server",)).find(lab.window(sentry_since=1)) == [
        "worker-server error message: 'ok' (event e2)"
    ]


def test_sentry_events_carry_their_release() -> None:
    assert SentryEvent.from_record(sentry_record(1, "1", "X")).release == "core-server@1.4.0"
    bare = {"seq": 2, "project": "2", "item_type": "event", "event": {"event_id": "e2"}}
    assert SentryEvent.from_record(bare).release == ""


def test_no_slack_on_a_channel_or_about_an_alert() -> None:
    lab = Lab(
        slack=[
            slack_record(1, "[FIRING:1] CoreServerAllReplicasDown (core-server)", "#lab-critical"),  # before
            slack_record(2, "[FIRING:1] CoreReplicaDown (core-server)", "#lab-warning"),
        ]
    )
    critical, disk = NoSlack(channels=("#lab-critical",)), NoSlack(alerts=("DiskFull", "DiskFillingUp"))
    assert critical.find(lab.window(slack_since=1)) == []
    assert disk.find(lab.window(slack_since=1)) == []

    lab.slack.append(slack_record(3, "[RESOLVED] DiskFull (node)", "#lab-critical"))
    culprit = "'[RESOLVED] DiskFull (node)' on #lab-critical at 2026-11-26T08:01:00.000Z"
    assert critical.find(lab.window(slack_since=1)) == [culprit]
    assert disk.find(lab.window(slack_since=1)) == [culprit]
    assert NoSlack(channels=("#lab-warning",)).find(lab.window(slack_since=1)) != []


def test_an_alert_that_fired_and_resolved_inside_the_window_fails() -> None:
    lab = Lab()
    disk = {"alertname": "DiskFull", "alertstate": "firing", "mountpoint": "/", "severity": "critical"}
    # Firing only before the drill began, and another alert during it: both fine.
    lab.prometheus.api.samples = [(disk, at(-30)), (disk, at(-25)), ({**disk, "alertname": "JvmHeapHigh"}, at(100))]
    proof = NoAlertFired(("DiskFull", "DiskFillingUp"))
    assert proof.find(lab.window()) == []

    # Fired for ten seconds mid-drill and resolved long before the end: the final state is clean.
    lab.prometheus.api.samples += [(disk, at(120)), (disk, at(125)), (disk, at(130))]
    assert proof.find(lab.window()) == [
        "DiskFull{mountpoint=/,severity=critical} firing 08:02:00-08:02:10 UTC",
    ]
    query, params = lab.prometheus.api.queries[-1]
    assert query.endswith("[300s]")  # the whole window, from the drill's start
    assert float(params["time"]) == END.timestamp()


def test_a_log_line_since_the_drill_began() -> None:
    selector = LogSelector("nginx", regex=r'"status":5\d\d', fields={"route": "api"})
    bad = '{"route":"api","status":502,"upstream_status":"502"}'
    retried = '{"route":"api","status":200,"upstream_status":"502, 200"}'
    lab = Lab(logs=FakeLogs([LogLine(at(-5), bad, {}, "loki"), LogLine(at(10), retried, {}, "loki")]))
    proof = NoLogLine(selector)
    assert proof.find(lab.window()) == []
    assert lab.logs.searched == [(selector, START)]

    lab.logs.lines.append(LogLine(at(40), bad, {}, "loki"))
    assert proof.find(lab.window()) == [f"08:00:40 UTC (loki) {bad}"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: NoSentryEvents(("core-1",)), "NoSentryEvents"),  # a replica is not a Sentry project
        (lambda: NoSentryEvents("core-server"), "NoSentryEvents"),  # type: ignore[arg-type]
        (lambda: NoSentryEvents(()), "NoSentryEvents"),
        (lambda: NoSlack(), "name the channels or the alerts"),
        (lambda: NoSlack(channels=("#lab-critcal",)), "NoSlack"),
        (lambda: NoSlack(alerts=("DiskFul",)), "NoSlack"),
        (lambda: NoAlertFired(("DiskFull", "DiskAlmostFull")), "NoAlertFired"),
        (lambda: NoLogLine(LogSelector("core", contains="x")), "NoLogLine"),
        (lambda: NoLogLine(LogSelector("nginx")), "say what the line holds"),
    ],
)
def test_a_misspelt_proof_is_refused_because_it_would_always_pass(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --- running them: timeline events, failures, the report's read-back -------------------------


def test_prove_marks_each_outcome_and_names_what_appeared() -> None:
    lab = Lab(sentry=[sentry_record(1, "2", "", "result rejected")])
    quiet, noisy = NoSlack(channels=("#lab-critical",)), NoSentryEvents(("worker-server",))
    timeline = Timeline("t")

    failures = prove([quiet, noisy], lab.window(), timeline)

    assert failures == [
        "no Sentry event from worker-server, but: worker-server error message: 'result rejected' (event e1)"
    ]
    assert [e.name for e in timeline.events] == [
        "absent: no Slack message on #lab-critical (over 300 s)",
        "present: no Sentry event from worker-server: worker-server error message: 'result rejected' (event e1)",
    ]
    assert outcome(timeline, quiet) == Outcome(absent=True, seconds=300)
    assert outcome(timeline, noisy) == Outcome(
        absent=False, found="worker-server error message: 'result rejected' (event e1)"
    )
    assert outcome(timeline, NoSentryEvents(("core-server",))) is None  # never ran


def test_a_query_that_errors_is_tried_again() -> None:
    lab = Lab()
    lab.prometheus.api.errors = 1
    assert prove([NoAlertFired(("DiskFull",))], lab.window(), Timeline("t"), timeout=5) == []
    assert len(lab.prometheus.api.queries) == 2


# --- the drill proves them at its end, by itself ----------------------------------------------


@dataclass
class Quiet:
    """A steady, recovered lab: what begin() and the post-recovery checklist ask of the rest."""

    def states(self) -> dict[str, Any]:
        return {}

    def active_alertnames(self) -> set[str]:
        return {"Watchdog"}

    def active(self) -> list[dict[str, Any]]:
        return []

    def unfinished(self, *, created_before: datetime | None = None) -> dict[str, str]:
        return {}


def drill_for(proof: AbsenceProof, lab: Lab) -> Drill:
    scenario = Scenario(
        name="d",
        hypothesis="h",
        fault="f",
        slo={"seen": 10},
        signals={
            SignalKind.METRIC: Expected("seen"),
            SignalKind.LOG: Expected("seen"),
            SignalKind.SENTRY: NotExpected("a stopped process sends nothing", proof),
            SignalKind.SLACK: Expected("seen"),
        },
    )
    slack = SlackSink(stand_in(lab.slack), prefix="")
    quiet = Quiet()
    post = PostRecovery(quiet, lab.prometheus, quiet, slack, quiet, quiet)  # type: ignore[arg-type]
    return Drill(scenario, Timeline("d"), post, SentrySink(stand_in(lab.sentry), prefix=""), lab.logs)


def run(drill: Drill) -> None:
    drill.begin()
    drill.fault_by_hand()
    drill.recover()
    drill.recovered()


def test_the_drill_proves_its_absences_after_the_checklist() -> None:
    lab = Lab(sentry=[sentry_record(1, "1", "PSQLException", "from an earlier drill")])
    drill = drill_for(NoSentryEvents(("core-server",)), lab)
    run(drill)
    names = [e.name for e in drill.timeline.events]
    assert names[-2] == "post-recovery checklist passed"
    assert re.fullmatch(r"absent: no Sentry event from core-server \(over \d+ s\)", names[-1])
    assert drill.absences_proved


def test_the_drill_fails_naming_what_appeared() -> None:
    lab = Lab()
    drill = drill_for(NoSentryEvents(("core-server",)), lab)
    drill.begin()
    # Between the start and the fault still counts: the window is the whole drill.
    lab.sentry.append(sentry_record(1, "1", "PSQLException", "connection refused"))
    drill.fault_by_hand()
    drill.recover()
    with pytest.raises(AssertionError, match=r"core-server error PSQLException: 'connection refused'"):
        drill.recovered()
    assert drill.timeline.events[-1].name.startswith("present: no Sentry event from core-server: ")
