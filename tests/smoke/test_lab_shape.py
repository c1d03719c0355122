"""The running lab is healthy and shaped as designed: one entry point, nothing else exposed."""

from __future__ import annotations

import re
import socket
import uuid

import httpx
import pytest

from infralab.alerts import SlackSink
from infralab.envfile import read_env
from infralab.lab import Lab
from infralab.paths import REPO_ROOT
from infralab.prometheus import Prometheus
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


def test_every_container_is_healthy(lab: Lab) -> None:
    not_ready = {name: f"{s.state}/{s.health}" for name, s in lab.states().items() if not s.ready}
    assert not not_ready


def test_api_health_through_nginx_carries_the_request_id(lab: Lab, lab_http: httpx.Client) -> None:
    request_id = f"smoke-{uuid.uuid4().hex}"
    response = lab_http.get("/api/health", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    built = lab.plan.by_component()["core-server"]
    assert response.json() == {
        "status": "UP",
        "service": "core-server",
        "version": built.version,
        "commit": built.commit,
    }
    assert response.headers["x-request-id"] == request_id
    # The same id in nginx's JSON access log and in core-server's own log line.
    wait_until(lambda: request_id in lab.logs("nginx"), timeout=10, what="nginx access line")
    wait_until(lambda: request_id in lab.logs("core-1") + lab.logs("core-2"), timeout=10, what="core-server log line")


def test_nginx_mints_a_request_id_when_none_is_sent(lab_http: httpx.Client) -> None:
    first = lab_http.get("/api/health").headers["x-request-id"]
    second = lab_http.get("/api/health").headers["x-request-id"]
    assert len(first) >= 16
    assert first != second


def test_only_nginx_publishes_a_port(lab: Lab) -> None:
    published = {}
    for service in lab.plan.services:
        ports = lab.container(service).network_settings.ports or {}
        bound = [f"{b['HostIp']}:{b['HostPort']}" for bindings in ports.values() if bindings for b in bindings]
        if bound:
            published[service] = bound
    assert list(published) == ["nginx"]
    # On the configured address only (LAB_BIND_ADDR, 127.0.0.1 by default), not on every interface.
    bind = read_env().get("LAB_BIND_ADDR") or "127.0.0.1"
    port = lab.endpoints.base_url.rsplit(":", 1)[1]
    assert published["nginx"] == [f"{bind}:{port}"]


@pytest.mark.parametrize("port", [8081, 9090, 9093, 9100])
def test_internal_ports_are_not_reachable_from_the_host(port: int) -> None:
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


@pytest.mark.parametrize(
    "path",
    [
        "/internal/chaos",
        "/api/internal/chaos",
        "/actuator/health",
        "/api/actuator/env",
        "/admin/internal/state",
        "/internal/jobs/1/result",
    ],
)
def test_internal_paths_are_not_routed(lab_http: httpx.Client, path: str) -> None:
    response = lab_http.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_unknown_route_is_a_json_404(lab_http: httpx.Client) -> None:
    response = lab_http.get("/no-such-route")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("ui", ["grafana", "jenkins", "prometheus", "alertmanager"])
def test_an_ops_ui_typed_without_its_slash_is_redirected_relative(lab_http: httpx.Client, ui: str) -> None:
    # Relative: nginx's own port inside the container is not the published one.
    response = lab_http.get(f"/{ui}", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"/{ui}/"


def test_the_root_lists_every_route_nginx_classifies(lab_http: httpx.Client) -> None:
    routes = lab_http.get("/").json()["routes"]
    assert "/loki/" in routes
    conf = (REPO_ROOT / "nginx" / "nginx.conf").read_text()
    classified = set(re.findall(r"~\^/([a-z-]+)/ \1;", conf))
    assert classified == {r.strip("/") for r in routes}


def test_admin_api_needs_the_token(lab: Lab, lab_http: httpx.Client) -> None:
    assert lab_http.get("/admin/api/status").status_code == 401
    wrong = lab_http.get("/admin/api/status", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    right = lab_http.get("/admin/api/status", headers={"Authorization": f"Bearer {lab.endpoints.admin_token}"})
    assert right.status_code == 200
    assert right.json()["service"] == "admin-server"


@pytest.mark.parametrize(
    "path", ["/prometheus/-/ready", "/alertmanager/-/ready", "/slack-sink/records", "/sentry-sink/records"]
)
def test_ops_routes_need_basic_auth(lab: Lab, lab_http: httpx.Client, path: str) -> None:
    assert lab_http.get(path).status_code == 401
    assert lab_http.get(path, auth=(lab.endpoints.ops_user, "wrong")).status_code == 401
    assert lab_http.get(path, auth=lab.endpoints.ops_auth).status_code == 200


def test_nginx_status_is_served_to_the_monitoring_side_only(lab: Lab, lab_http: httpx.Client) -> None:
    assert lab_http.get("/nginx_status").status_code == 404
    from_monitoring = lab.container("prometheus").execute(["wget", "-qO-", "http://nginx:8081/nginx_status"])
    assert "Active connections" in from_monitoring
    # nginx's address on the application network refuses the same request.
    with pytest.raises(Exception, match="403"):
        lab.container("core-1").execute(["curl", "-fsS", "http://10.77.10.2:8081/nginx_status"])


def test_prometheus_scrapes_every_target(prometheus: Prometheus) -> None:
    wait_until(lambda: not prometheus.targets_down(), timeout=30, what="all scrape targets up")
    jobs = set(prometheus.values("up == 1"))
    for job in (
        "core-server",
        "worker-server",
        "admin-server",
        "prometheus",
        "alertmanager",
        "node",
        "toxiproxy",
        "nginx",
    ):
        assert any(f"job={job}," in series or series.endswith(f"job={job}") for series in jobs), job


def test_watchdog_reaches_slack_through_alertmanager(slack: SlackSink) -> None:
    # Alertmanager's notification log outlives restarts (volume), the stand-in's record does not:
    # the next heartbeat comes at the latest one repeat_interval (1m) plus a group_interval (10s)
    # after the lab starts.
    heartbeat = slack.wait_for("Watchdog", "firing", timeout=90)
    assert heartbeat.value.channel == "#lab-heartbeat"


def test_worker_reaches_ext_api_only_through_toxiproxy(lab: Lab) -> None:
    worker = lab.container("worker-server")
    quote = worker.execute(
        [
            "curl",
            "-fsS",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
            "http://toxiproxy:18080/v1/quote",
        ]
    )
    assert '"currency":"KRW"' in quote
    with pytest.raises(Exception, match="Could not resolve host"):
        worker.execute(["curl", "-fsS", "-m", "3", "http://ext-api:8080/health"])


def test_docker_proxy_lets_admin_server_only_list_inspect_and_act_on_containers(lab: Lab) -> None:
    admin = lab.container("admin-server")

    def status(method: str, path: str) -> str:
        return str(
            admin.execute(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, f"http://docker-proxy:2375{path}"]
            )
        )

    assert status("GET", "/v1.41/containers/json") == "200"
    assert status("GET", "/v1.41/images/json") == "403"
    assert status("POST", "/v1.41/containers/create") == "403"
    assert status("POST", f"/v1.41/containers/{lab.container('core-1').name}/exec") == "403"
    # Nothing but admin-server can reach the proxy at all.
    with pytest.raises(Exception, match="Could not resolve host"):
        lab.container("core-1").execute(["curl", "-fsS", "-m", "3", "http://docker-proxy:2375/_ping"])


def test_red_recording_rules_cover_the_services_that_get_traffic(
    lab: Lab, lab_http: httpx.Client, prometheus: Prometheus
) -> None:
    token = {"Authorization": f"Bearer {lab.endpoints.admin_token}"}
    for _ in range(20):
        lab_http.get("/api/health")
        lab_http.get("/admin/api/status", headers=token)
    # Two scrapes and a rule evaluation, at 5 s each.
    wait_until(
        lambda: {"core-server", "admin-server"} <= _services(prometheus, "service:http_requests:rate1m > 0"),
        timeout=30,
        what="RED rate for core-server and admin-server",
    )
    assert {"core-server", "admin-server"} <= _services(prometheus, "service:http_requests_5xx:ratio_rate1m >= 0")
    assert {"core-server", "admin-server"} <= _services(prometheus, "service:http_request_duration_seconds:p95_1m")


def _services(prometheus: Prometheus, expr: str) -> set[str]:
    return {
        part.removeprefix("service=")
        for series in prometheus.values(expr)
        for part in series.split(",")
        if part.startswith("service=")
    }


def test_a_healthy_lab_fires_nothing_but_the_watchdog(prometheus: Prometheus) -> None:
    # Immediate on a fresh lab; an attached lab may still be resolving an earlier drill (1m rate windows).
    wait_until(
        lambda: prometheus.values('ALERTS{alertstate="firing", alertname!="Watchdog"}') == {},
        timeout=90,
        interval=5,
        what="no alert firing but Watchdog",
    )


def test_a_job_flows_through_core_worker_toxiproxy_and_ext_api(lab_http: httpx.Client) -> None:
    request_id = f"smoke-job-{uuid.uuid4().hex}"
    accepted = lab_http.post(
        "/api/jobs", json={"type": "quote", "payload": {"item": "smoke"}}, headers={"X-Request-ID": request_id}
    )
    assert accepted.status_code == 202
    location = accepted.headers["location"]
    done = wait_until(
        lambda: (job := lab_http.get(location).json())["status"] in ("SUCCEEDED", "FAILED") and job,
        timeout=30,
        what="job finished",
    )
    assert done.value["status"] == "SUCCEEDED", done.value
    assert done.value["result"]["price"]["currency"] == "KRW"  # ext-api's answer, relayed by the worker
