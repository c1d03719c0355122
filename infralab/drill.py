"""The steps every failure drill takes, each one a timeline event checked against its SLO.

A drill: start from a steady lab, inject a fault the way an operator does (admin-server's
API), wait for each signal (metric, log line, Sentry event, Slack alert) within its SLO,
recover, run the post-recovery checklist, then prove that what the Scenario says cannot
happen did not, over the whole drill. SLOs and absences come from the module's Scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from infralab.absence import AbsenceWindow, prove
from infralab.alerts import NEVER_RESOLVED, Alertmanager, SlackMessage, SlackSink
from infralab.checklist import CHECKS, PostRecovery, run_post_recovery_checklist, wait_steady_state
from infralab.lab import Lab
from infralab.logs import LogLine, LogSelector, LogSource
from infralab.prometheus import Prometheus
from infralab.scenario import FAULT, RECOVERY, Scenario
from infralab.sentry import SentryEvent, SentrySink
from infralab.timeline import Timeline
from infralab.waiting import DeadlineExceededError, wait_until

T = TypeVar("T")


@dataclass
class Drill:
    scenario: Scenario
    timeline: Timeline
    post_recovery: PostRecovery
    sentry: SentrySink
    logs: LogSource
    injected: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[SlackMessage] = field(default_factory=list)
    _slack_since: int = 0
    _sentry_since: int = 0
    _begun_at: datetime | None = None
    _fault_at: datetime | None = None
    _absences_proved: bool = False

    @property
    def lab(self) -> Lab:
        return self.post_recovery.lab

    @property
    def prometheus(self) -> Prometheus:
        return self.post_recovery.prometheus

    @property
    def alertmanager(self) -> Alertmanager:
        return self.post_recovery.alertmanager

    @property
    def slack(self) -> SlackSink:
        return self.post_recovery.slack

    def begin(self) -> None:
        """Wait for a steady lab and remember where the Slack and Sentry records stand."""
        wait_steady_state(self.lab, self.alertmanager, self.slack)
        self._begun_at = datetime.now(UTC)  # before the cursors: the absence window covers them
        self._slack_since = self.slack.cursor()
        self._sentry_since = self.sentry.cursor()

    def container(self, service: str) -> str:
        """The container name admin-server's container faults take as target."""
        return self.lab.container(service).name

    def inject(self, fault_type: str, target: str, *, ttl: int, **params: Any) -> dict[str, Any]:
        # Log lines are searched from before the call: a stop fault's own shutdown lines are
        # written while admin-server is still answering.
        calling = datetime.now(UTC)
        fault = self.post_recovery.faults.inject(fault_type, target, ttl=ttl, **params)
        self.injected.append(fault)
        self._started(calling)
        return fault

    def fault_by_hand(self) -> None:
        """For a fault admin-server has no type for: the drill causes it itself right after this."""
        self._started(datetime.now(UTC))

    def _started(self, at: datetime) -> None:
        first = self._fault_at is None
        self._fault_at = at  # the latest: a drill in phases looks for each phase's own log lines
        if first:
            self.timeline.mark(FAULT)

    def revert(self, fault: dict[str, Any]) -> None:
        self.post_recovery.faults.revert(fault["id"])

    def _budget(self, event: str, reference: str) -> float:
        return self.timeline.budget(reference, self.scenario.slo[event])

    def _mark(self, event: str, reference: str) -> None:
        self.timeline.mark(event, slo=self.scenario.slo[event], since=reference)

    def wait_until(self, event: str, probe: Callable[[], T | None], *, reference: str = FAULT) -> T:
        """Any condition of the drill, as a timeline event within its SLO."""
        value = wait_until(probe, timeout=self._budget(event, reference), what=event).value
        self._mark(event, reference)
        return value

    def metric(self, event: str, expr: str, predicate: Callable[[float], bool], *, reference: str = FAULT) -> float:
        timeout = self._budget(event, reference)
        value = self.prometheus.wait_for(expr, predicate, timeout=timeout, what=f"{event}: {expr}").value
        self._mark(event, reference)
        return value

    def log_line(self, event: str, services: str | tuple[str, ...], contains: str, **fields: str) -> LogLine:
        """A line of one of `services`' logs since the latest injection, holding `contains` and the JSON fields."""
        assert self._fault_at is not None, "inject a fault first"
        since = self._fault_at
        selectors = [
            LogSelector(s, contains=contains, fields=fields)
            for s in ((services,) if isinstance(services, str) else services)
        ]

        def probe() -> LogLine | None:
            return next((line for s in selectors for line in self.logs.search(s, since)), None)

        line = self.wait_until(event, probe)
        self.logs.found.append(line)
        return line

    def sentry_event(self, event: str, service: str, *, exception_type: str | None = None, **tags: str) -> SentryEvent:
        """An event of `service` with `exception_type` in its exception chain and the tags (e.g. request_id)."""
        found = self.sentry.wait_for(
            service,
            since=self._sentry_since,
            timeout=self._budget(event, FAULT),
            exception_type=exception_type,
            tags=tags,
        ).value
        self._mark(event, FAULT)
        return found

    def slack_messages(self) -> list[SlackMessage]:
        """What reached Slack since the drill began."""
        return self.slack.messages(self._slack_since)

    def slack_alert(self, event: str, alertname: str, *, channel: str) -> SlackMessage:
        try:
            message = self.slack.wait_for(
                alertname, "firing", since=self._slack_since, timeout=self._budget(event, FAULT), channel=channel
            ).value
        except DeadlineExceededError:
            elsewhere = {m.channel for m in self.slack_messages() if m.alertname == alertname}
            raise AssertionError(f"{alertname} did not reach {channel} (it reached: {sorted(elsewhere)})") from None
        self._mark(event, FAULT)
        self.timeline.alerts[event] = alertname
        if alertname not in NEVER_RESOLVED:  # an event alert (a deploy) has no resolution to wait for
            self.alerts.append(message)
        return message

    def assert_clients_served(self, client: httpx.Client, path: str = "/api/health", calls: int = 10) -> None:
        """Clients still get 200s from the entry point while the fault lasts."""
        statuses = {client.get(path).status_code for _ in range(calls)}
        assert statuses == {200}, f"clients saw {sorted(statuses)} on {path} during {self.scenario.name}"

    def recover(self) -> None:
        """Revert every fault the drill injected (one already expired or reverted is fine)."""
        active = {f["id"] for f in self.post_recovery.faults.active()}
        for fault in self.injected:
            if fault["id"] in active:
                self.revert(fault)
        self.timeline.mark(RECOVERY)

    def recovered(self) -> None:
        """The post-recovery checklist, when Slack got each resolution, then the absences.

        The checklist comes first: each check is measured from the recovery start, and its last
        (every alert resolved, Slack included) is what the resolved notifications wait for anyway.
        Their own time is the one Slack recorded. The absences come last: their window is the
        whole drill, recovery included.
        """
        deadlines = {name: s for name, s in self.scenario.slo.items() if name in CHECKS}
        run_post_recovery_checklist(self.post_recovery, self.timeline, since=RECOVERY, deadlines=deadlines)
        if self.alerts:
            self._resolutions_in_slack()
        self._prove_absences()

    @property
    def absences_proved(self) -> bool:
        return self._absences_proved

    def _prove_absences(self) -> None:
        """Every NotExpected of the Scenario, from begin() to now; a failure names what appeared."""
        assert self._begun_at is not None, "begin() the drill first"
        window = AbsenceWindow(
            start=self._begun_at,
            end=datetime.now(UTC),
            sentry=self.sentry,
            sentry_since=self._sentry_since,
            slack=self.slack,
            slack_since=self._slack_since,
            prometheus=self.prometheus,
            logs=self.logs,
        )
        failures = prove(self.scenario.absence_proofs(), window, self.timeline)
        self._absences_proved = True
        assert not failures, f"not absent over the drill's {window.seconds} s:\n" + "\n".join(
            f"- {f}" for f in failures
        )

    def _resolutions_in_slack(self) -> None:
        event = "resolved notification in Slack"
        resolved = [self._resolution(alert) for alert in self.alerts]
        last = self.timeline.record(event, max(resolved), slo=self.scenario.slo[event], since=RECOVERY)
        took = self.timeline.between(RECOVERY, event)
        assert took <= self.scenario.slo[event], f"{event}: {took:.0f}s after the recovery started, SLO {last.slo:.0f}s"

    def _resolution(self, alert: SlackMessage) -> datetime:
        message = self.slack.wait_for(alert.alertname, "resolved", since=alert.seq, timeout=10).value
        return datetime.fromisoformat(message.received_at.replace("Z", "+00:00"))
