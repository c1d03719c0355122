"""database-down: PostgreSQL stops; the API must fail cleanly and recover by itself."""

from __future__ import annotations

import httpx
import pytest

from infralab.drill import Drill
from infralab.jobs import Jobs
from infralab.scenario import RECOVERY, Expected, Graph, Scenario, SignalKind

pytestmark = pytest.mark.failure

FIVE_XX = 'sum(rate(http_server_requests_seconds_count{job="core-server", status=~"5.."}[1m]))'
ACTIVE = 'sum(hikaricp_connections_active{job="core-server"})'
PENDING = 'sum(hikaricp_connections_pending{job="core-server"})'

SCENARIO = Scenario(
    name="database-down",
    hypothesis=(
        "PostgreSQL stops. core-server answers the database-backed endpoints with a 503 problem+json (not a "
        "hang, not a stack trace), each failure reaches Sentry with its request id, the 5xx-ratio alert reaches "
        "#lab-warning; jobs accepted before the outage are not lost, and once PostgreSQL is back everything "
        "recovers without restarting core-server."
    ),
    fault="container.stop on postgres",
    slo={
        "503 from the API": 20,
        "5xx in core-server's metrics": 30,
        "the failed request in nginx's access log": 30,
        "the failed request in core-server's log": 30,
        "the failed request in Sentry": 45,
        "alert in Slack": 90,
        "API answers again": 60,
        "every job finished": 120,
        "resolved notification in Slack": 90,
        # The availability slow-burn alert looks back 2m30s (its short window): it resolves last.
        "alerts-resolved": 240,
    },
    signals={
        SignalKind.METRIC: Expected("5xx in core-server's metrics"),
        SignalKind.LOG: Expected("the failed request in core-server's log"),
        SignalKind.SENTRY: Expected("the failed request in Sentry"),
        SignalKind.SLACK: Expected("alert in Slack"),
    },
    graphs=(
        Graph("core-server 5xx per second", (FIVE_XX,)),
        Graph("HikariCP active and pending connections", (ACTIVE, PENDING)),
    ),
    runbook="docs/failure-experiments/database-down.md#runbook",
)


def test_database_outage_is_a_clean_503_and_recovers(drill: Drill, lab_http: httpx.Client, jobs: Jobs) -> None:
    for n in range(5):
        jobs.submit({"item": f"db-down-{n}"})
    drill.inject("container.stop", drill.container("postgres"), ttl=180)
    try:
        failed = drill.wait_until(
            "503 from the API", lambda: (r := lab_http.get("/api/jobs/stats")).status_code == 503 and r
        )
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert "Exception" not in failed.text, "a stack trace reached the client"
        # One failed request followed through every signal by the id nginx gave it.
        request_id = failed.headers["X-Request-ID"]
        drill.timeline.figure("request followed", request_id)
        drill.metric(
            "5xx in core-server's metrics",
            'sum(increase(http_server_requests_seconds_count{job="core-server", status="503"}[1m]))',
            lambda v: v > 0,
        )
        drill.log_line(
            "the failed request in nginx's access log", "nginx", "/api/jobs/stats", request_id=request_id, status="503"
        )
        drill.log_line(
            "the failed request in core-server's log",
            ("core-1", "core-2"),
            "database unavailable",
            request_id=request_id,
        )
        drill.sentry_event(
            "the failed request in Sentry",
            "core-server",
            exception_type="CannotCreateTransactionException",
            request_id=request_id,
        )
        drill.slack_alert("alert in Slack", "HighErrorRatio", channel="#lab-warning")
    finally:
        drill.recover()
    drill.wait_until(
        "API answers again", lambda: lab_http.get("/api/jobs/stats").status_code == 200, reference=RECOVERY
    )
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    drill.recovered()
