"""Errors reach Sentry (the lab's stand-in): a 5xx in a service's request path becomes an event
tagged with the request id nginx gave the request, and a 4xx does not."""

from __future__ import annotations

import httpx
import pytest

from infralab.faults import Faults
from infralab.lab import Lab
from infralab.sentry import SentrySink
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


@pytest.fixture(scope="module")
def sentry(ops_http: httpx.Client) -> SentrySink:
    return SentrySink(ops_http)


def _release(lab: Lab, component: str) -> str:
    return f"{component}@{lab.plan.by_component()[component].version}"


def test_a_core_server_5xx_becomes_a_sentry_event_with_its_request_id(
    lab: Lab, lab_http: httpx.Client, faults: Faults, sentry: SentrySink
) -> None:
    since = sentry.cursor()
    fault = faults.inject("chaos.errors", "core-1", ttl=60, percent=100, status=500)
    try:
        # nginx round-robins between the replicas, and the synthetic traffic shares that turn:
        # calls at its own pace could land on core-2 every time. Back-to-back calls cannot.
        failed = wait_until(
            lambda: (r := lab_http.get("/api/health")).status_code == 500 and r,
            timeout=10,
            interval=0.05,
            what="a 500 from core-1",
        ).value
    finally:
        faults.revert(fault["id"])
    request_id = failed.headers["x-request-id"]
    event = wait_until(
        lambda: next((e for e in sentry.events(since) if e.tags.get("request_id") == request_id), None),
        timeout=20,
        what="the 500's Sentry event",
    ).value
    assert event.project == "1"
    assert event.tags["service"] == "core-server"
    assert event.release == _release(lab, "core-server")  # which build failed, not only which service
    assert "ChaosInjectedException" in event.exception_types


def test_a_worker_5xx_is_reported_and_its_4xx_is_not(lab: Lab, faults: Faults, sentry: SentrySink) -> None:
    worker = lab.container("worker-server")

    def call(path: str, request_id: str) -> str:
        return str(
            worker.execute(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-H",
                    f"X-Request-ID: {request_id}",
                    f"http://127.0.0.1:8080{path}",
                ]
            )
        )

    since = sentry.cursor()
    assert call("/no-such-path", "smoke-worker-404") == "404"
    fault = faults.inject("chaos.errors", "worker-server", ttl=60, percent=100, status=503)
    try:
        assert call("/health", "smoke-worker-503") == "503"
    finally:
        faults.revert(fault["id"])
    event = wait_until(
        lambda: next((e for e in sentry.events(since) if e.tags.get("request_id") == "smoke-worker-503"), None),
        timeout=20,
        what="the worker's Sentry event",
    ).value
    assert (event.project, event.tags["service"]) == ("2", "worker-server")
    assert event.release == _release(lab, "worker-server")
    # One process, one transport queue: the 404 came first and would have arrived before the 503.
    assert not [e for e in sentry.events(since) if e.tags.get("request_id") == "smoke-worker-404"]
