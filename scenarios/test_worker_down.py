"""worker-down: worker-server dies (SIGKILL) with jobs in flight; no job may be lost."""

from __future__ import annotations

import pytest

from infralab.absence import NoSentryEvents
from infralab.drill import Drill
from infralab.jobs import Jobs
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

SCENARIO = Scenario(
    name="worker-down",
    hypothesis=(
        "worker-server is SIGKILLed while it holds jobs (ext-api slowed to 1 s so they are in flight). "
        "core-server keeps accepting jobs and retries dispatch with backoff; Prometheus loses the worker's "
        "target and the critical ServiceScrapeDown reaches #lab-critical. Once the worker is back, every job "
        "submitted before and during the outage ends SUCCEEDED: the outbox re-dispatches what the dead worker held."
    ),
    fault="container.kill SIGKILL on worker-server (+ network.latency 1000 ms on ext-api)",
    slo={
        "target down in Prometheus": 30,
        "dispatch retries in core-server's log": 30,
        "critical alert in Slack": 60,
        "every job finished": 120,
        "resolved notification in Slack": 60,
    },
    signals={
        SignalKind.METRIC: Expected("target down in Prometheus"),
        SignalKind.LOG: Expected("dispatch retries in core-server's log"),
        SignalKind.SENTRY: NotExpected(
            "a SIGKILLed process reports nothing, and core-server treats a refused dispatch as the "
            "transient condition it retries, not as an error",
            NoSentryEvents(("worker-server", "core-server", "admin-server")),
        ),
        SignalKind.SLACK: Expected("critical alert in Slack"),
    },
    graphs=(
        Graph("worker target up", ('up{job="worker-server"}',)),
        Graph("jobs by status (core-server)", ('max by (status) (core_jobs{job="core-server"})',)),
    ),
    runbook="docs/failure-experiments/worker-down.md#runbook",
)


def test_jobs_survive_a_killed_worker(drill: Drill, jobs: Jobs) -> None:
    drill.inject("network.latency", "ext-api", ttl=120, latency_ms=1000)
    before = [jobs.submit({"item": f"worker-down-before-{n}"}) for n in range(16)]
    drill.inject("container.kill", drill.container("worker-server"), ttl=120, signal="SIGKILL")
    during = [jobs.submit({"item": f"worker-down-during-{n}"}) for n in range(8)]
    try:
        drill.metric("target down in Prometheus", 'up{job="worker-server"}', lambda v: v == 0)
        drill.log_line("dispatch retries in core-server's log", ("core-1", "core-2"), "job dispatch failed; will retry")
        alert = drill.slack_alert("critical alert in Slack", "ServiceScrapeDown", channel="#lab-critical")
        assert alert.service == "worker-server"
    finally:
        drill.recover()
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    assert {jobs.get(j)["status"] for j in before + during} == {"SUCCEEDED"}
    drill.recovered()
