"""nginx-502: core-server replicas go away.

Hypotheses:
1. One of the two core-server replicas stops: nginx routes around it and clients see no
   5xx; Prometheus notices and a *warning* CoreReplicaDown reaches #lab-warning.
2. Both replicas stop: nginx keeps serving and answers /api/ with a JSON 502 (never a hang
   or an HTML page; at most a connect timeout, 504, while the kernel still believes a
   vanished address is reachable), nginx's own metrics count the 502s, and the *critical*
   CoreServerAllReplicasDown and EntryPoint5xxRatioHigh reach #lab-critical.
In both, once the replicas are back /api/ answers 200, Slack gets the resolved notification
and every alert resolves (the recovery checklist).
"""

from __future__ import annotations

import time

import httpx
import pytest

from infralab.alerts import Alertmanager, SlackSink
from infralab.checklist import wait_recovered, wait_steady_state
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.timeline import Timeline
from infralab.waiting import wait_until

pytestmark = pytest.mark.failure

FAULT = "fault injected"
RECOVERY = "recovery started"

# Seconds from the fault, or from the recovery start for the recovery checklist.
SLO_ONE_REPLICA = {
    "warning in Slack": 45,
    "resolved notification in Slack": 60,
    "every container healthy": 90,
    "every alert resolved": 150,
}
SLO_ALL_REPLICAS = {
    "502 at the entry point": 15,
    "502s in nginx's metrics": 30,
    "critical alert in Slack": 45,
    "entry-point 5xx alert in Slack": 60,
    "/api/health 200 again": 90,
    "resolved notification in Slack": 60,
    "every container healthy": 90,
    "every alert resolved": 150,
}


def _stop_from_steady_state(
    lab: Lab, alertmanager: Alertmanager, slack: SlackSink, timeline: Timeline, *replicas: str
) -> int:
    """The fault: stop the replicas once the lab is steady; returns the Slack cursor from before it."""
    wait_steady_state(lab, alertmanager, slack)
    since = slack.cursor()
    lab.stop(*replicas)
    timeline.mark(FAULT)
    return since


def _status(client: httpx.Client, status: int, seen: list[int] | None = None) -> httpx.Response | None:
    response = client.get("/api/health")
    if seen is not None:
        seen.append(response.status_code)
    return response if response.status_code == status else None


def test_one_replica_down_is_invisible_to_clients_and_a_warning(
    lab: Lab,
    lab_http: httpx.Client,
    slack: SlackSink,
    alertmanager: Alertmanager,
    prometheus: Prometheus,
    timeline: Timeline,
) -> None:
    slo = SLO_ONE_REPLICA
    since = _stop_from_steady_state(lab, alertmanager, slack, timeline, "core-1")
    try:
        # Clients keep calling until the warning arrives: every answer must be a 200.
        statuses: list[int] = []

        def warned() -> bool:
            statuses.append(lab_http.get("/api/health").status_code)
            return any(m.alertname == "CoreReplicaDown" and m.status == "firing" for m in slack.messages(since))

        wait_until(
            warned,
            timeout=timeline.budget(FAULT, slo["warning in Slack"]),
            interval=0.2,
            what="CoreReplicaDown in Slack",
        )
        timeline.mark("warning in Slack", slo=slo["warning in Slack"])
        assert set(statuses) == {200}, f"clients saw {sorted(set(statuses))} over {len(statuses)} calls"
        warning = next(m for m in slack.messages(since) if m.alertname == "CoreReplicaDown")
        assert warning.channel == "#lab-warning"
        assert "core-1:8081" in warning.text
        assert not [m for m in slack.messages(since) if m.channel == "#lab-critical"]
    finally:
        lab.start("core-1")
        timeline.mark(RECOVERY)

    slack.wait_for(
        "CoreReplicaDown",
        "resolved",
        since=warning.seq,
        timeout=timeline.budget(RECOVERY, slo["resolved notification in Slack"]),
    )
    timeline.mark("resolved notification in Slack", slo=slo["resolved notification in Slack"])
    wait_recovered(
        lab,
        prometheus,
        timeline,
        since=RECOVERY,
        healthy_slo=slo["every container healthy"],
        resolved_slo=slo["every alert resolved"],
    )


def test_all_replicas_down_gives_json_502_and_critical_alerts(
    lab: Lab,
    lab_http: httpx.Client,
    slack: SlackSink,
    alertmanager: Alertmanager,
    prometheus: Prometheus,
    timeline: Timeline,
) -> None:
    slo = SLO_ALL_REPLICAS
    since = _stop_from_steady_state(lab, alertmanager, slack, timeline, "core-1", "core-2")
    try:
        seen: list[int] = []
        bad = wait_until(
            lambda: _status(lab_http, 502, seen),
            timeout=timeline.budget(FAULT, slo["502 at the entry point"]),
            what="nginx 502",
        )
        timeline.mark("502 at the entry point", slo=slo["502 at the entry point"])
        assert bad.value.headers["content-type"].startswith("application/json")
        body = bad.value.json()
        assert body["error"] == "bad_gateway"
        assert body["request_id"] == bad.value.headers["x-request-id"]
        # Before the ARP entry of a vanished address fails, a connect may time out: 504, never anything else.
        assert set(seen) <= {200, 502, 504}, seen

        # Clients keep calling while the 502s are counted (a counter's first sample has no increase).
        started = time.monotonic()
        wait_until(
            lambda: (
                lab_http.get("/api/health")
                and (prometheus.value('sum(increase(nginx_http_requests_total{route="api", status="502"}[1m]))') or 0)
                > 0
            ),
            timeout=timeline.budget(FAULT, slo["502s in nginx's metrics"]),
            what="502s counted in nginx_http_requests_total",
        )
        assert time.monotonic() - started < slo["502s in nginx's metrics"]
        timeline.mark("502s in nginx's metrics", slo=slo["502s in nginx's metrics"])

        alert = slack.wait_for(
            "CoreServerAllReplicasDown",
            "firing",
            since=since,
            timeout=timeline.budget(FAULT, slo["critical alert in Slack"]),
        )
        timeline.mark("critical alert in Slack", slo=slo["critical alert in Slack"])
        assert alert.value.channel == "#lab-critical"
        assert "CRITICAL" in alert.value.text
        assert "docs/failure-experiments/nginx-502.md#runbook" in alert.value.text

        # What clients see, from nginx's own counts (admin-server's synthetic traffic keeps /api/ busy).
        entry = slack.wait_for(
            "EntryPoint5xxRatioHigh",
            "firing",
            since=since,
            timeout=timeline.budget(FAULT, slo["entry-point 5xx alert in Slack"]),
        )
        timeline.mark("entry-point 5xx alert in Slack", slo=slo["entry-point 5xx alert in Slack"])
        assert (entry.value.channel, entry.value.service) == ("#lab-critical", "nginx")
    finally:
        lab.start("core-1", "core-2")
        timeline.mark(RECOVERY)

    wait_until(
        lambda: _status(lab_http, 200),
        timeout=timeline.budget(RECOVERY, slo["/api/health 200 again"]),
        what="/api/health 200",
    )
    timeline.mark("/api/health 200 again", slo=slo["/api/health 200 again"])
    slack.wait_for(
        "CoreServerAllReplicasDown",
        "resolved",
        since=alert.value.seq,
        timeout=timeline.budget(RECOVERY, slo["resolved notification in Slack"]),
    )
    timeline.mark("resolved notification in Slack", slo=slo["resolved notification in Slack"])
    wait_recovered(
        lab,
        prometheus,
        timeline,
        since=RECOVERY,
        healthy_slo=slo["every container healthy"],
        resolved_slo=slo["every alert resolved"],
    )
    prometheus.wait_for('count(up{job="core-server"} == 1)', lambda v: v == 2, timeout=15)
