"""database-slow: every round trip to PostgreSQL takes 800 ms more; the pool runs dry."""

from __future__ import annotations

import httpx
import pytest

from infralab.drill import Drill
from infralab.load import ConcurrentGets
from infralab.scenario import RECOVERY, Expected, Graph, Scenario, SignalKind

pytestmark = pytest.mark.failure

PENDING = 'max(hikaricp_connections_pending{job="core-server"})'
TIMEOUTS = 'sum(increase(hikaricp_connections_timeout_total{job="core-server"}[1m]))'

SCENARIO = Scenario(
    name="database-slow",
    hypothesis=(
        "toxiproxy adds 800 ms to every answer from PostgreSQL. With 5 connections per replica and a 2 s "
        "connection timeout, a dozen concurrent readers exhaust the pool: requests wait for a connection, some "
        "time out and get a 503 problem+json (never a hang past nginx's timeout), each 503 reaches Sentry, and "
        "the pool-exhaustion alert reaches #lab-warning. Without the latency the pool drains and the API is fast."
    ),
    fault="network.latency 800 ms on the postgres proxy, 12 concurrent readers of /api/jobs/stats",
    slo={
        "connections pending in Prometheus": 30,
        "pool timeouts in Prometheus": 45,
        "error in core-server's log": 45,
        "Sentry event": 60,
        "alert in Slack": 90,
        "pool drained": 30,
        "resolved notification in Slack": 90,
        # The availability slow-burn alert looks back 2m30s (its short window): it resolves last.
        "alerts-resolved": 240,
    },
    signals={
        SignalKind.METRIC: Expected("pool timeouts in Prometheus"),
        SignalKind.LOG: Expected("error in core-server's log"),
        SignalKind.SENTRY: Expected("Sentry event"),
        SignalKind.SLACK: Expected("alert in Slack"),
    },
    graphs=(Graph("HikariCP pending connections and timeouts", (PENDING, TIMEOUTS)),),
    runbook="docs/failure-experiments/database-slow.md#runbook",
)


def test_a_slow_database_exhausts_the_pool_and_is_alerted(drill: Drill, lab_http: httpx.Client) -> None:
    drill.inject("network.latency", "postgres", ttl=240, latency_ms=800)
    try:
        with ConcurrentGets(lab_http, "/api/jobs/stats", workers=12) as load:
            drill.metric("connections pending in Prometheus", PENDING, lambda pending: pending > 0)
            drill.metric("pool timeouts in Prometheus", TIMEOUTS, lambda timeouts: timeouts > 0)
            drill.log_line("error in core-server's log", ("core-1", "core-2"), "database unavailable")
            drill.sentry_event("Sentry event", "core-server")
            drill.slack_alert("alert in Slack", "DatabasePoolExhausted", channel="#lab-warning")
        assert set(load.statuses) <= {200, 503}, f"clients saw {sorted(set(load.statuses))}"
        assert 503 in load.statuses
    finally:
        drill.recover()
    drill.metric("pool drained", PENDING, lambda pending: pending == 0, reference=RECOVERY)
    drill.recovered()
