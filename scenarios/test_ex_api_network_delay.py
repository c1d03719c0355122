"""ex-api-network-delay: the path to the external API degrades - latency, then hangs, then a cut."""

from __future__ import annotations

import pytest

from infralab.absence import NoSentryEvents
from infralab.drill import Drill
from infralab.jobs import Jobs
from infralab.load import JobLoad
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

P95 = (
    "histogram_quantile(0.95, sum by (le)"
    ' (rate(ext_api_request_duration_seconds_bucket{job="worker-server", outcome="success"}[30s])))'
)
CIRCUIT_OPEN = 'ext_api_circuit_state{job="worker-server", state="open"}'


def _outcome_rate(outcome: str) -> str:
    return f'sum(rate(ext_api_requests_total{{job="worker-server", outcome="{outcome}"}}[30s]))'


SCENARIO = Scenario(
    name="ex-api-network-delay",
    hypothesis=(
        "1) 600 ms of latency per chunk (an answer is one or two chunks: under the worker's 2 s attempt "
        "timeout): jobs still succeed, slower; the external p95 rises and the latency warning reaches "
        "#lab-warning. 2) Hanging connections: attempts time out, the error-ratio alert fires, the circuit "
        "opens within seconds (#lab-critical) and jobs end FAILED with a reason (timeout or circuit_open), "
        "never stuck. 3) A cut: the open circuit fails jobs fast and its half-open probes meet refused "
        "connections. Throughout, no job hangs or disappears; after the cut is lifted the circuit closes "
        "and new jobs succeed."
    ),
    fault="network.latency 600 ms, then network.timeout, then network.down on the ext-api proxy",
    slo={
        "p95 over 0.5 s in Prometheus": 60,
        "latency warning in Slack": 120,
        "timeouts in the worker's log": 150,
        "timeouts in Prometheus": 150,
        "error ratio alert in Slack": 210,
        "circuit open in Prometheus": 210,
        "circuit open alert in Slack": 240,
        "refused probes in Prometheus": 300,
        "circuit closed": 60,
        "new job succeeds": 60,
        "every job finished": 90,
        "resolved notification in Slack": 120,
    },
    signals={
        SignalKind.METRIC: Expected("p95 over 0.5 s in Prometheus"),
        SignalKind.LOG: Expected("timeouts in the worker's log"),
        SignalKind.SENTRY: NotExpected(
            "failures caused by a dependency are expected outcomes the worker reports in metrics and logs "
            "(worker-server/src/telemetry/error_tracking.rs); core-server records the FAILED jobs, admin-server "
            "only applies and reverts the fault",
            NoSentryEvents(("worker-server", "core-server", "admin-server")),
        ),
        SignalKind.SLACK: Expected("latency warning in Slack"),
    },
    graphs=(
        Graph("ext-api p95 (s)", (P95,)),
        Graph(
            "ext-api attempts per second by outcome",
            ('sum by (outcome) (rate(ext_api_requests_total{job="worker-server"}[30s]))',),
        ),
        Graph("circuit open", (CIRCUIT_OPEN,)),
    ),
    runbook="docs/failure-experiments/ex-api-network-delay.md#runbook",
)


def test_jobs_end_cleanly_as_the_external_api_degrades(drill: Drill, jobs: Jobs) -> None:
    with JobLoad(jobs, label="ex-api", interval=0.5, limit=500):
        latency = drill.inject("network.latency", "ext-api", ttl=300, latency_ms=600)
        try:
            drill.metric("p95 over 0.5 s in Prometheus", P95, lambda seconds: seconds > 0.5)
            drill.slack_alert("latency warning in Slack", "ExternalApiLatencyHigh", channel="#lab-warning")
            drill.revert(latency)

            drill.inject("network.timeout", "ext-api", ttl=300, timeout_ms=0)
            drill.log_line(
                "timeouts in the worker's log", "worker-server", "ext-api attempt failed", error_kind="timeout"
            )
            drill.metric("timeouts in Prometheus", _outcome_rate("timeout"), lambda rate: rate > 0)
            drill.slack_alert("error ratio alert in Slack", "ExternalApiErrorRatioHigh", channel="#lab-warning")
            drill.metric("circuit open in Prometheus", CIRCUIT_OPEN, lambda state: state == 1)
            drill.slack_alert("circuit open alert in Slack", "ExternalApiCircuitOpen", channel="#lab-critical")

            drill.inject("network.down", "ext-api", ttl=300)
            # The open circuit fails jobs fast; its half-open probes now meet a refused connection.
            drill.metric("refused probes in Prometheus", _outcome_rate("reset"), lambda rate: rate > 0)
        finally:
            drill.recover()
        drill.metric("circuit closed", CIRCUIT_OPEN, lambda state: state == 0, reference=RECOVERY)
    probe = jobs.submit({"item": "ex-api-after"})
    drill.wait_until("new job succeeds", lambda: jobs.get(probe)["status"] == "SUCCEEDED", reference=RECOVERY)
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    failed = [job for j in jobs.submitted if (job := jobs.get(j))["status"] == "FAILED"]
    assert failed, "the hangs and the cut failed no job: were they applied?"
    assert all(job.get("error") for job in failed), "a FAILED job without a reason"
    drill.recovered()
