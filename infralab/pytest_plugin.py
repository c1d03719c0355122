"""Fixtures of the operational suite: the lab is brought up once per session (or attached to)."""

from __future__ import annotations

from collections.abc import Iterator

import allure
import httpx
import pytest

from infralab import stack
from infralab.alerts import Alertmanager, SlackSink
from infralab.cli import prepare_images
from infralab.endpoints import Endpoints
from infralab.faults import Faults
from infralab.images import ImagePlan
from infralab.lab import Lab
from infralab.prometheus import Prometheus
from infralab.timeline import Timeline


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infralab")
    group.addoption(
        "--lab",
        choices=("up", "running"),
        default="up",
        help="up: build and start the lab for this session (default); "
        "running: attach to a lab started with `make up` and leave it as it is",
    )
    group.addoption(
        "--lab-keep", action="store_true", help="with --lab=up: leave the lab running after the session (for debugging)"
    )


def _log(message: str) -> None:
    print(f"[lab] {message}", flush=True)


@pytest.fixture(scope="session")
def lab_images(pytestconfig: pytest.Config) -> ImagePlan:
    """Every image the lab needs, built or pulled (what `make up` does first)."""
    if pytestconfig.getoption("--lab") == "running":
        return ImagePlan.load()
    return prepare_images()


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config, lab_images: ImagePlan) -> Iterator[Lab]:
    attach = pytestconfig.getoption("--lab") == "running"
    keep = attach or pytestconfig.getoption("--lab-keep")
    project = stack.PROJECT if attach else stack.TEST_PROJECT
    if attach:
        stack.wait_healthy(stack.compose_client(lab_images, project), lab_images.services, _log, timeout=30)
    else:
        # The people's lab holds the same port and subnets: stop it (its volumes stay), then
        # start the suite's own lab from empty volumes (an earlier one may survive an engine restart).
        _log("stopping the `make up` lab if it runs (its volumes are kept)")
        stack.down(lab_images)
        stack.down(lab_images, project=project, volumes=True)
        stack.up(lab_images, _log, project=project)
    try:
        yield Lab(lab_images, Endpoints.from_env(), project)
    finally:
        if not keep:
            _log("tearing the test lab down, volumes included")
            stack.down(lab_images, project=project, volumes=True)


@pytest.fixture(scope="session")
def lab_http(lab: Lab) -> Iterator[httpx.Client]:
    with lab.endpoints.client() as client:
        yield client


@pytest.fixture(scope="session")
def ops_http(lab: Lab) -> Iterator[httpx.Client]:
    with lab.endpoints.ops_client() as client:
        yield client


@pytest.fixture(scope="session")
def prometheus(lab: Lab) -> Prometheus:
    return Prometheus(lab.endpoints)


@pytest.fixture(scope="session")
def slack(ops_http: httpx.Client) -> SlackSink:
    return SlackSink(ops_http)


@pytest.fixture(scope="session")
def faults(lab: Lab, lab_http: httpx.Client) -> Iterator[Faults]:
    """admin-server's fault API; whatever a test leaves active is reverted at the end."""
    client = Faults(lab_http, lab.endpoints.admin_token)
    yield client
    client.revert_all()


@pytest.fixture(scope="session")
def alertmanager(ops_http: httpx.Client) -> Alertmanager:
    return Alertmanager(ops_http)


@pytest.fixture
def timeline(request: pytest.FixtureRequest) -> Iterator[Timeline]:
    """The scenario's timeline, attached to the Allure report and printed, pass or fail."""
    recorded = Timeline(request.node.name)
    yield recorded
    markdown = recorded.to_markdown()
    allure.attach(markdown, name="timeline", attachment_type=allure.attachment_type.TEXT)
    print("\n" + markdown)
