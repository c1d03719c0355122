"""nginx-502: core-server replicas go away - one (nobody should notice) or both (clean 502s)."""

from __future__ import annotations

import httpx
import pytest

from infralab.absence import NoLogLine, NoSentryEvents, NoSlack
from infralab.drill import Drill
from infralab.logs import LogSelector
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind
from infralab.waiting import wait_until

pytestmark = pytest.mark.failure

NGINX_502 = 'sum(increase(nginx_http_requests_total{route="api", status="502"}[1m]))'
RUNBOOK = "docs/failure-experiments/nginx-502.md"
GRAPHS = (
    Graph("core-server targets up", ('sum(up{job="core-server"})',)),
    Graph("nginx /api 5xx ratio", ('route:nginx_http_requests_5xx:ratio_rate1m{route="api"}',)),
)
NO_SENTRY = NotExpected(
    "a stopped replica sends nothing, and nginx answers the 502 itself (nginx has no Sentry SDK)",
    NoSentryEvents(("core-server",)),
)
# A 5xx answered to a client on /api/: the access log's `status`, not `upstream_status` (a retried replica's 502).
API_5XX = r'"status":5\d\d'

SCENARIOS = {
    "test_one_replica_down_is_invisible_to_clients_and_a_warning": Scenario(
        name="nginx-502-one-replica",
        hypothesis=(
            "One of the two core-server replicas stops: nginx routes around it and clients see no 5xx; "
            "Prometheus notices and a *warning* CoreReplicaDown reaches #lab-warning, nothing critical."
        ),
        fault="container.stop on core-1",
        slo={"target down in Prometheus": 30, "warning in Slack": 45, "resolved notification in Slack": 60},
        signals={
            SignalKind.METRIC: Expected("target down in Prometheus"),
            SignalKind.LOG: NotExpected(
                "nginx retries the other replica silently: no client-facing error is logged",
                NoLogLine(LogSelector("nginx", regex=API_5XX, fields={"route": "api"})),
            ),
            SignalKind.SENTRY: NO_SENTRY,
            SignalKind.SLACK: Expected("warning in Slack"),
        },
        absences=(
            NotExpected(
                "one replica down is a warning: nothing reaches #lab-critical", NoSlack(channels=("#lab-critical",))
            ),
        ),
        graphs=GRAPHS,
        runbook=f"{RUNBOOK}#runbook-replica",
    ),
    "test_all_replicas_down_gives_json_502_and_critical_alerts": Scenario(
        name="nginx-502-all-replicas",
        hypothesis=(
            "Both replicas stop: nginx keeps serving and answers /api/ with a JSON 502 (never a hang or an HTML "
            "page; at most a 504 while the kernel still believes a vanished address is reachable), nginx's own "
            "metrics count the 502s, and the *critical* CoreServerAllReplicasDown and EntryPoint5xxRatioHigh "
            "reach #lab-critical. Once the replicas are back /api/ answers 200 and every alert resolves."
        ),
        fault="container.stop on core-1 and core-2",
        slo={
            "502 at the entry point": 15,
            "502 in nginx's access log": 20,
            "502s in nginx's metrics": 30,
            "critical alert in Slack": 45,
            "entry-point 5xx alert in Slack": 60,
            "/api/health 200 again": 90,
            # The entry-point ratio looks back a minute: it resolves a minute after the 502s end.
            "resolved notification in Slack": 120,
        },
        signals={
            SignalKind.METRIC: Expected("502s in nginx's metrics"),
            SignalKind.LOG: Expected("502 in nginx's access log"),
            SignalKind.SENTRY: NO_SENTRY,
            SignalKind.SLACK: Expected("critical alert in Slack"),
        },
        graphs=(*GRAPHS, Graph("nginx /api 502 in the last minute", (NGINX_502,))),
        runbook=f"{RUNBOOK}#runbook",
    ),
}


def test_one_replica_down_is_invisible_to_clients_and_a_warning(drill: Drill, lab_http: httpx.Client) -> None:
    drill.inject("container.stop", drill.container("core-1"), ttl=180)
    try:
        drill.metric("target down in Prometheus", 'up{instance="core-1:8081"}', lambda up: up == 0)
        # Clients keep calling until the warning arrives: every answer must be a 200.
        statuses: list[int] = []

        def warned() -> bool:
            statuses.append(lab_http.get("/api/health").status_code)
            return any(m.alertname == "CoreReplicaDown" and m.status == "firing" for m in drill.slack_messages())

        wait_until(warned, timeout=45, interval=0.2, what="clients served until the warning")
        warning = drill.slack_alert("warning in Slack", "CoreReplicaDown", channel="#lab-warning")
        assert set(statuses) == {200}, f"clients saw {sorted(set(statuses))} over {len(statuses)} calls"
        assert "core-1:8081" in warning.text
        assert not [m for m in drill.slack_messages() if m.channel == "#lab-critical"]
    finally:
        drill.recover()
    drill.recovered()


def _status(client: httpx.Client, status: int, seen: list[int] | None = None) -> httpx.Response | None:
    response = client.get("/api/health")
    if seen is not None:
        seen.append(response.status_code)
    return response if response.status_code == status else None


def test_all_replicas_down_gives_json_502_and_critical_alerts(drill: Drill, lab_http: httpx.Client) -> None:
    drill.inject("container.stop", drill.container("core-1"), ttl=180)
    drill.inject("container.stop", drill.container("core-2"), ttl=180)
    try:
        seen: list[int] = []
        bad = drill.wait_until("502 at the entry point", lambda: _status(lab_http, 502, seen))
        assert bad.headers["content-type"].startswith("application/json")
        body = bad.json()
        assert body["error"] == "bad_gateway"
        assert body["request_id"] == bad.headers["x-request-id"]
        # Before the ARP entry of a vanished address fails, a connect may time out: 504, never anything else.
        assert set(seen) <= {200, 502, 504}, seen
        drill.log_line("502 in nginx's access log", "nginx", body["request_id"], status="502")

        # Clients keep calling while the 502s are counted (a counter's first sample has no increase).
        drill.wait_until(
            "502s in nginx's metrics",
            lambda: lab_http.get("/api/health") and (drill.prometheus.value(NGINX_502) or 0) > 0,
        )
        alert = drill.slack_alert("critical alert in Slack", "CoreServerAllReplicasDown", channel="#lab-critical")
        assert "CRITICAL" in alert.text
        assert f"{RUNBOOK}#runbook" in alert.text
        # What clients see, from nginx's own counts (admin-server's synthetic traffic keeps /api/ busy).
        entry = drill.slack_alert("entry-point 5xx alert in Slack", "EntryPoint5xxRatioHigh", channel="#lab-critical")
        assert entry.service == "nginx"
    finally:
        drill.recover()
    drill.wait_until("/api/health 200 again", lambda: _status(lab_http, 200), reference=RECOVERY)
    drill.recovered()
