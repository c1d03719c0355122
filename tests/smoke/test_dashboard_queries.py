"""Every PromQL expression of the Grafana dashboards runs on the lab's Prometheus and returns series.

Grafana itself is not needed (nor available offline): infralab.dashboards reads the provisioned
JSON and substitutes Grafana's variables, query variables with the values the live Prometheus
gives them, as Grafana does with "All" selected.

A panel that shows nothing in a healthy, lightly used lab is a broken panel: a renamed metric, a
label that does not exist, a join that matches nothing. Panels are written to show zeros rather
than nothing (counters the services create at 0, recording rules that zero-fill). The few whose
series can only exist after an event are listed in EVENT_ONLY with the reason; they must still
evaluate.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_api_client.exceptions import PrometheusApiClientException

from infralab.dashboards import Query, prometheus_queries
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke

ANY_DASHBOARD = "*"
_FAULT_LABELS = (
    "admin-server creates infralab_fault_active{type,target} (and keeps it at 0 afterwards) only when a fault "
    "of that type is first injected on that target: the label values are not known before"
)
# (dashboard uid or ANY_DASHBOARD, panel title, refId) -> why it may return no series.
EVENT_ONLY: dict[tuple[str, str, str], str] = {
    (ANY_DASHBOARD, "annotation: Faults (admin-server)", "Anno"): "an annotation marks a fault while one is active",
    (ANY_DASHBOARD, "annotation: Chaos (in-service)", "Anno"): "an annotation marks a chaos fault while one is active",
    (ANY_DASHBOARD, "annotation: Deploys", "Anno"): (
        "a deploy marker lasts a minute after a replica's version changed (make deploy, a rollback); "
        "tests/static/test_dashboard_config.py runs it on made-up scrapes"
    ),
    ("experiments", "Faults active by type and target", "A"): _FAULT_LABELS,
    ("experiments", "Fault state by type and target", "A"): _FAULT_LABELS,
    ("worker-ext-api", "toxiproxy bytes/s by proxy", "A"): (
        "toxiproxy counts a connection's bytes when it closes; on a fresh lab the pooled connections "
        "(HikariCP to postgres, the worker's keep-alive to ext-api) may not have closed yet"
    ),
    ("experiments", "Fault ends by type and reason", "A"): (
        "infralab_fault_reverts_total{type,reason} is created at a fault's first end (revert, expiry, reconcile)"
    ),
}


def _allowed_empty(query: Query) -> str | None:
    return EVENT_ONLY.get(query.key) or EVENT_ONLY.get((ANY_DASHBOARD, query.panel, query.ref_id))


@pytest.fixture(scope="module")
def lab_in_use(lab: Lab, lab_http: httpx.Client, prometheus: Prometheus) -> None:
    """The lab as people use it, not only synthetic /api/health: admin API calls and one job through
    core, worker, toxiproxy and ext-api, so every service's request metrics exist (as after any
    drill). Bounded: a few dozen requests to the lab's own entry point."""
    token = {"Authorization": f"Bearer {lab.endpoints.admin_token}"}
    for _ in range(5):
        lab_http.get("/api/health")
        lab_http.get("/admin/api/status", headers=token)
    accepted = lab_http.post(
        "/api/jobs",
        json={"type": "quote", "payload": {"item": "dashboards"}},
        headers={"X-Request-ID": f"smoke-dashboards-{uuid.uuid4().hex}"},
    )
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    wait_until(
        lambda: lab_http.get(location).json()["status"] in ("SUCCEEDED", "FAILED"), timeout=30, what="job finished"
    )

    def services() -> set[str]:
        return {s["metric"].get("service", "") for s in prometheus.api.custom_query("service:http_requests:rate1m")}

    # Scrapes and rule evaluations every 5 s: the recording rules see the new series within seconds.
    wait_until(
        lambda: {"core-server", "worker-server", "admin-server"} <= services(),
        timeout=60,
        what="RED request rate of every service",
    )
    wait_until(lambda: prometheus.values("worker_jobs_finished_total"), timeout=30, what="worker job metrics")


def test_every_dashboard_query_returns_series(prometheus: Prometheus, lab_in_use: None) -> None:
    def resolve(expr: str, label: str) -> list[str]:
        return [s["metric"][label] for s in prometheus.api.custom_query(expr) if label in s["metric"]]

    failures, allowed = [], []
    queries = list(prometheus_queries(resolve=resolve))
    for query in queries:
        try:
            values = prometheus.values(query.expr)
        except PrometheusApiClientException as error:
            failures.append(f"{query}\n    does not evaluate: {error}")
            continue
        if values:
            continue
        reason = _allowed_empty(query)
        if reason:
            allowed.append(f"{query}\n    (allowed: {reason})")
        else:
            failures.append(f"{query}\n    returns no series")
    if allowed:
        print("\nEmpty, as allowed in EVENT_ONLY:\n" + "\n".join(allowed))
    assert not failures, f"{len(failures)} of {len(queries)} dashboard queries fail:\n" + "\n".join(failures)


def test_the_event_only_list_names_existing_queries() -> None:
    keys = {q.key for q in prometheus_queries()} | {(ANY_DASHBOARD, q.panel, q.ref_id) for q in prometheus_queries()}
    assert set(EVENT_ONLY) - keys == set()
