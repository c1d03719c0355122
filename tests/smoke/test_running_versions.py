"""The version each service runs is visible in every signal: its image, build_info, its health
answer, its log lines (Sentry's release: test_error_tracking.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from infralab.components import COMPONENTS, Component
from infralab.images import Resolution
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.versions import VERSION_TAG, running_version
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke

VERSIONED = [c for c in COMPONENTS if c.versioned]


def _built(lab: Lab, component: Component) -> Resolution:
    return lab.plan.by_component()[component.name]


@pytest.mark.parametrize("component", VERSIONED, ids=lambda c: c.name)
def test_each_container_runs_the_image_of_its_version(lab: Lab, component: Component) -> None:
    built = _built(lab, component)
    # A checkout is a git repository: a commit, never the no-git fallback.
    assert VERSION_TAG.match(built.version), built.version
    assert built.commit.startswith(built.version[:12])
    assert built.image == f"infralab/{component.name}:{built.version}"
    for service in component.services:
        assert running_version(lab.container(service)) == built.version


def test_build_info_names_each_services_running_version(lab: Lab, prometheus: Prometheus) -> None:
    instances = {s for c in VERSIONED for s in c.services}

    def scraped() -> list[dict[str, str]] | None:
        series = [s["metric"] for s in prometheus.api.custom_query("build_info")]
        return series if {s["instance"].partition(":")[0] for s in series} >= instances else None

    series = wait_until(scraped, timeout=30, what="build_info from every replica").value
    for component in VERSIONED:
        built = _built(lab, component)
        mine = [s for s in series if s["service"] == component.name]
        assert {s["instance"].partition(":")[0] for s in mine} == set(component.services)
        assert {(s["version"], s["commit"]) for s in mine} == {(built.version, built.commit)}


def test_health_answers_carry_the_version(lab: Lab, lab_http: httpx.Client) -> None:
    by_name = {c.name: _built(lab, c) for c in VERSIONED}
    # Both core replicas answer /api/health in turn (round robin): a few calls see each.
    for _ in range(4):
        core = lab_http.get("/api/health").json()
        assert (core["version"], core["commit"]) == (by_name["core-server"].version, by_name["core-server"].commit)
    admin = lab_http.get("/admin/health").json()
    assert (admin["version"], admin["commit"]) == (by_name["admin-server"].version, by_name["admin-server"].commit)
    worker = json.loads(str(lab.container("worker-server").execute(["curl", "-fsS", "http://127.0.0.1:8081/health"])))
    assert (worker["version"], worker["commit"]) == (
        by_name["worker-server"].version,
        by_name["worker-server"].commit,
    )


@pytest.mark.parametrize("component", VERSIONED, ids=lambda c: c.name)
def test_every_log_line_carries_the_version(lab: Lab, component: Component) -> None:
    built = _built(lab, component)
    for service in component.services:
        text = str(lab.compose.compose.logs([service], tail="100", no_log_prefix=True))
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert records, f"{service} wrote no JSON line"
        assert {r.get("version") for r in records} == {built.version}, service
