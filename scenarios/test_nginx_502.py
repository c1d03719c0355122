"""nginx-502: the only core-server goes away.

Hypothesis: when core-server stops, nginx keeps serving and answers /api/ with a JSON 502
(never a hang or an HTML page; at most one connect timeout, 504, while the kernel still
believes the vanished address is reachable), Prometheus notices the failed scrapes and a critical
CoreServerDown reaches Slack within its SLO; when core-server returns, /api/ answers 200
again and Slack gets the resolved notification.
"""

from __future__ import annotations

import httpx
import pytest

from infralab.alerts import Alertmanager, SlackSink
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.timeline import Timeline
from infralab.waiting import wait_until

FAULT = "fault: core-server stopped"
RECOVERY = "recovery: core-server started"
# Seconds from the fault (or from the recovery start, for the last three).
SLO = {
    "502 at the entry point": 15,
    "502s in nginx's metrics": 30,
    "critical alert in Slack": 45,
    "entry-point 5xx alert in Slack": 60,
    "/api/health 200 again": 90,
    "resolved notification in Slack": 60,
    "lab healthy again": 90,
    "every alert resolved": 150,
}


def _status(client: httpx.Client, status: int, seen: list[int] | None = None) -> httpx.Response | None:
    response = client.get("/api/health")
    if seen is not None:
        seen.append(response.status_code)
    return response if response.status_code == status else None


@pytest.mark.failure
def test_core_server_down_gives_json_502_and_critical_alert(
    lab: Lab,
    lab_http: httpx.Client,
    slack: SlackSink,
    alertmanager: Alertmanager,
    prometheus: Prometheus,
    timeline: Timeline,
) -> None:
    # Steady state first: a drill that starts inside an earlier incident proves nothing (and
    # Alertmanager would not notify again for an alert that is still active).
    wait_until(
        lambda: all(s.ready for s in lab.states().values()) and alertmanager.active_alertnames() <= {"Watchdog"},
        timeout=150,
        interval=5,
        what="steady state: lab healthy, no alert active but Watchdog",
    )
    since = slack.cursor()
    lab.stop("core-server")
    timeline.mark(FAULT)
    try:
        seen: list[int] = []
        bad = wait_until(
            lambda: _status(lab_http, 502, seen),
            timeout=timeline.budget(FAULT, SLO["502 at the entry point"]),
            what="nginx 502",
        )
        timeline.mark("502 at the entry point", slo=SLO["502 at the entry point"])
        assert bad.value.headers["content-type"].startswith("application/json")
        body = bad.value.json()
        assert body["error"] == "bad_gateway"
        assert body["request_id"] == bad.value.headers["x-request-id"]
        # Before the ARP entry of the vanished address fails, a connect may time out: 504, never anything else.
        assert set(seen) <= {200, 502, 504}, seen

        # Clients keep calling while the 502s are counted (a counter's first sample has no increase).
        wait_until(
            lambda: (
                lab_http.get("/api/health")
                and (prometheus.value('sum(increase(nginx_http_requests_total{route="api", status="502"}[1m]))') or 0)
                > 0
            ),
            timeout=timeline.budget(FAULT, SLO["502s in nginx's metrics"]),
            what="502s counted in nginx_http_requests_total",
        )
        timeline.mark("502s in nginx's metrics", slo=SLO["502s in nginx's metrics"])

        alert = slack.wait_for(
            "CoreServerDown", "firing", since=since, timeout=timeline.budget(FAULT, SLO["critical alert in Slack"])
        )
        timeline.mark("critical alert in Slack", slo=SLO["critical alert in Slack"])
        assert alert.value.channel == "#lab-critical"
        assert "CRITICAL" in alert.value.text
        assert "docs/failure-experiments/nginx-502.md#runbook" in alert.value.text

        # What clients see, from nginx's own counts (admin-server's synthetic traffic keeps /api/ busy).
        entry = slack.wait_for(
            "EntryPoint5xxRatioHigh",
            "firing",
            since=since,
            timeout=timeline.budget(FAULT, SLO["entry-point 5xx alert in Slack"]),
        )
        timeline.mark("entry-point 5xx alert in Slack", slo=SLO["entry-point 5xx alert in Slack"])
        assert (entry.value.channel, entry.value.service) == ("#lab-critical", "nginx")
    finally:
        lab.start("core-server")
        timeline.mark(RECOVERY)

    # Recovery checklist.
    wait_until(
        lambda: _status(lab_http, 200),
        timeout=timeline.budget(RECOVERY, SLO["/api/health 200 again"]),
        what="/api/health 200",
    )
    timeline.mark("/api/health 200 again", slo=SLO["/api/health 200 again"])
    slack.wait_for(
        "CoreServerDown",
        "resolved",
        since=alert.value.seq,
        timeout=timeline.budget(RECOVERY, SLO["resolved notification in Slack"]),
    )
    timeline.mark("resolved notification in Slack", slo=SLO["resolved notification in Slack"])
    wait_until(
        lambda: all(s.ready for s in lab.states().values()),
        timeout=timeline.budget(RECOVERY, SLO["lab healthy again"]),
        what="every container healthy",
    )
    prometheus.wait_for('up{job="core-server"}', lambda v: v == 1, timeout=15)
    # The entry point's 5xx ratio looks back a minute: its alert resolves last.
    wait_until(
        lambda: prometheus.values('ALERTS{alertstate="firing", alertname!="Watchdog"}') == {},
        timeout=timeline.budget(RECOVERY, SLO["every alert resolved"]),
        interval=5,
        what="every alert but Watchdog resolved",
    )
    timeline.mark("every alert resolved", slo=SLO["every alert resolved"])
    timeline.mark("checklist passed")
