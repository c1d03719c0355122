"""Faults enter the lab through admin-server, and leave it: by revert or by their TTL."""

from __future__ import annotations

import time

import httpx
import pytest

from infralab.faults import FaultError, Faults
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


def _latency(client: httpx.Client, path: str) -> float:
    response = client.get(path)
    assert response.status_code == 200
    return response.elapsed.total_seconds()


def test_chaos_latency_on_a_core_replica_slows_the_api_until_reverted(
    faults: Faults, lab_http: httpx.Client, prometheus: Prometheus
) -> None:
    fault = faults.inject("chaos.latency", "core-1", ttl=60, delay_ms=600)
    core_1 = 'chaos_fault_active{instance="core-1:8081", kind="latency"}'
    try:
        # nginx balances over both replicas: the slow one shows within a few calls.
        assert max(_latency(lab_http, "/api/health") for _ in range(4)) >= 0.6
        prometheus.wait_for(core_1, lambda v: v == 1, timeout=15)
        assert [f["id"] for f in faults.active()] == [fault["id"]]
    finally:
        faults.revert(fault["id"])
    assert max(_latency(lab_http, "/api/health") for _ in range(4)) < 0.5
    prometheus.wait_for(core_1, lambda v: v == 0, timeout=15)
    assert faults.active() == []


def test_network_latency_between_worker_and_ext_api(lab: Lab, faults: Faults) -> None:
    worker = lab.container("worker-server")

    def call_ext_api() -> float:
        took = worker.execute(
            [
                "curl",
                "-fsS",
                "-o",
                "/dev/null",
                "-w",
                "%{time_total}",
                "-X",
                "POST",
                "-d",
                "{}",
                "http://toxiproxy:18080/v1/quote",
            ]
        )
        return float(str(took))

    fault = faults.inject("network.latency", "ext-api", ttl=60, latency_ms=400)
    try:
        assert call_ext_api() >= 0.4
    finally:
        faults.revert(fault["id"])
    assert call_ext_api() < 0.3


def test_a_container_fault_reverts_itself_when_its_ttl_ends(lab: Lab, faults: Faults) -> None:
    faults.inject("container.pause", lab.container("ext-api").name, ttl=3)
    injected = time.monotonic()
    assert lab.container("ext-api").state.paused
    wait_until(
        lambda: not lab.container("ext-api").state.paused and not faults.active(),
        timeout=20,
        what="pause reverted at TTL",
    )
    assert time.monotonic() - injected >= 3
    # Recovered, not just unpaused: its healthcheck passes again.
    wait_until(lambda: lab.states()["ext-api"].ready, timeout=30, what="ext-api healthy again")


@pytest.mark.parametrize(
    ("fault_type", "target", "params", "ttl", "why"),
    [
        ("chaos.teleport", "core-1", {}, 10, "unknown"),
        ("chaos.latency", "core-1", {"delay_ms": 10**9}, 10, "delay_ms"),
        ("chaos.latency", "core-1", {}, 10**6, "ttl"),
    ],
)
def test_bad_fault_requests_are_refused_with_a_clear_400(
    faults: Faults, fault_type: str, target: str, params: dict[str, int], ttl: int, why: str
) -> None:
    with pytest.raises(FaultError, match=rf"400 .*{why}"):
        faults.inject(fault_type, target, ttl=ttl, **params)


def test_containers_not_labelled_as_chaos_targets_are_refused(lab: Lab, faults: Faults) -> None:
    admin = lab.container("admin-server").name  # exists, but is no chaos target: it would cut its own revert
    with pytest.raises(FaultError, match=r"400 .*unknown_target"):
        faults.inject("container.stop", admin, ttl=10)
    assert lab.states()["prometheus"].ready
