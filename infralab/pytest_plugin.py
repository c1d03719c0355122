"""Fixtures of the operational suite: the lab is brought up once per session (or attached to)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import UTC, datetime

import allure
import httpx
import pytest

from infralab import failure_context, stack
from infralab.alerts import Alertmanager, SlackSink
from infralab.checklist import PostRecovery
from infralab.cli import prepare_images
from infralab.endpoints import Endpoints
from infralab.faults import Faults
from infralab.images import ImagePlan
from infralab.jobs import Jobs
from infralab.lab import Lab, NoSuchLabError
from infralab.logs import LogSource, choose_log_source
from infralab.prometheus import Prometheus
from infralab.reports import IncidentRecorder, Verdict
from infralab.scenario import scenario_for
from infralab.sentry import SentrySink
from infralab.timeline import Timeline


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infralab")
    group.addoption(
        "--lab",
        choices=("up", "running"),
        default="up",
        help="up: build and start the lab for this session (default); "
        "running: attach to a running lab (`make up`'s, or see --lab-project) and leave it as it is",
    )
    group.addoption(
        "--lab-keep", action="store_true", help="with --lab=up: leave the lab running after the session (for debugging)"
    )
    group.addoption(
        "--lab-project",
        metavar="NAME",
        help=f"with --lab=running: the compose project to attach to (default {stack.PROJECT}, `make up`'s; "
        f"{stack.TEST_PROJECT}: a test lab left by --lab-keep)",
    )


def lab_project(mode: str, chosen: str | None) -> str:
    """The compose project of the session's lab; --lab=up always starts its own."""
    if mode == "running":
        return chosen or stack.PROJECT
    if chosen is not None:
        raise pytest.UsageError(
            f"--lab-project goes with --lab=running: --lab=up runs its own lab, {stack.TEST_PROJECT}"
        )
    return stack.TEST_PROJECT


def pytest_configure(config: pytest.Config) -> None:
    lab_project(config.getoption("--lab"), config.getoption("--lab-project"))  # a usage error before anything runs


def _log(message: str) -> None:
    print(f"[lab] {message}", flush=True)


def _attached(config: pytest.Config) -> bool:
    mode: str = config.getoption("--lab")
    return mode == "running"


@pytest.fixture(scope="session")
def lab_images(pytestconfig: pytest.Config) -> ImagePlan:
    """Every image the lab needs, built or pulled (what `make up` does first)."""
    if _attached(pytestconfig):
        return ImagePlan.load()
    return prepare_images()


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config, lab_images: ImagePlan) -> Iterator[Lab]:
    attach = _attached(pytestconfig)
    keep = attach or pytestconfig.getoption("--lab-keep")
    project = lab_project(pytestconfig.getoption("--lab"), pytestconfig.getoption("--lab-project"))
    if attach:
        try:
            Lab(lab_images, Endpoints.from_env(), project).require_containers()
        except NoSuchLabError as exc:
            pytest.exit(f"--lab=running: {exc}; name one with --lab-project", returncode=pytest.ExitCode.USAGE_ERROR)
        stack.wait_healthy(stack.compose_client(lab_images, project), lab_images.services, _log, timeout=30)
    else:
        # The people's lab holds the same port and subnets: stop it (its volumes stay), then
        # start the suite's own lab from empty volumes (an earlier one may survive an engine restart).
        _log("stopping the `make up` lab if it runs (its volumes are kept)")
        stack.down(lab_images)
        stack.down(lab_images, project=project, volumes=True)
    plan = lab_images
    try:
        if not attach:
            plan = stack.up(lab_images, _log, project=project)  # a failed start is torn down too
            plan.save()
        yield Lab(plan, Endpoints.from_env(), project)
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
def faults(pytestconfig: pytest.Config, lab: Lab, lab_http: httpx.Client) -> Iterator[Faults]:
    """admin-server's fault API; what the session leaves active is reverted at the end.

    On an attached lab (--lab=running) only the faults this session injected: one a person
    injected by hand stays. The suite's own lab (--lab=up) was started empty by this session, so
    every fault in it is the session's: reverting them all also catches one injected other than
    through this client (the control page's browser test clicks it in).
    """
    client = Faults(lab_http, lab.endpoints.admin_token)
    yield client
    if _attached(pytestconfig):
        if reverted := client.revert_injected():
            _log(f"reverted the faults this session left active: {', '.join(reverted)}")
    else:
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


@pytest.fixture(scope="session")
def sentry(ops_http: httpx.Client) -> SentrySink:
    return SentrySink(ops_http)


@pytest.fixture
def jobs(lab_http: httpx.Client) -> Jobs:
    """core-server's jobs API; per test, so "no job lost" looks at this drill's jobs."""
    return Jobs(lab_http)


@pytest.fixture(scope="session")
def log_source(lab: Lab, ops_http: httpx.Client) -> LogSource:
    """Loki where it runs and receives this lab's logs (via nginx's /loki/), container logs otherwise."""
    return choose_log_source(lab, ops_http)


@pytest.fixture
def post_recovery(
    lab: Lab, prometheus: Prometheus, alertmanager: Alertmanager, slack: SlackSink, faults: Faults, jobs: Jobs
) -> PostRecovery:
    """What run_post_recovery_checklist looks at."""
    return PostRecovery(lab, prometheus, alertmanager, slack, faults, jobs)


_PHASES = pytest.StashKey[dict[str, Verdict | None]]()  # None: the phase was skipped


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's outcome on the item: the incident report's verdict reads it at teardown."""
    report: pytest.TestReport = yield
    # exconly() is the assertion with pytest's explanation, without the traceback.
    failure = (call.excinfo.exconly() if call.excinfo else report.longreprtext) if report.failed else ""
    item.stash.setdefault(_PHASES, {})[report.when] = (
        None if report.skipped else Verdict(report.passed, failure, call.when)
    )
    lab = getattr(item, "funcargs", {}).get("lab")
    if report.failed and report.when == "call" and isinstance(lab, Lab):
        _add_lab_context(report, lab, datetime.fromtimestamp(call.start, UTC))
    return report


def _add_lab_context(report: pytest.TestReport, lab: Lab, since: datetime) -> None:
    try:
        context = failure_context.describe(lab, since)
    except Exception as exc:  # noqa: BLE001 - never hide the test's own failure behind this one
        context = f"(lab state unavailable: {exc})"
    report.sections.append(("lab at failure", context))
    allure.attach(context, name="lab at failure", attachment_type=allure.attachment_type.TEXT)


def _verdict(phases: dict[str, Verdict | None]) -> Verdict | None:
    """The run's verdict; None when it was skipped (no drill ran, no report)."""
    if any(v is None for v in phases.values()):
        return None
    failed = next((v for v in phases.values() if v is not None and not v.passed), None)
    return failed or phases.get("call") or Verdict(False, "the drill did not run", "setup")


@pytest.fixture(autouse=True)
def incident_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """A `failure` test whose module declares SCENARIO gets reports/incidents/<date>-<time>-<name>.md, pass or fail."""
    marked = request.node.get_closest_marker("failure") is not None
    scenario = scenario_for(request.module, request.node.originalname) if marked else None
    if scenario is None:
        yield
        return
    recorder = IncidentRecorder(
        scenario,
        request.getfixturevalue("timeline"),
        test_id=request.node.nodeid,
        prometheus=request.getfixturevalue("prometheus"),
        slack=request.getfixturevalue("slack"),
        sentry=request.getfixturevalue("sentry"),
        logs=request.getfixturevalue("log_source"),
    )
    yield
    verdict = _verdict(request.node.stash.get(_PHASES, {}))
    if verdict is not None:
        _log(f"incident report: {recorder.finish(verdict)}")
