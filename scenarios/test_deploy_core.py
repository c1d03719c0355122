"""Deploys of core-server: a good version rolled out and back under load, and bad versions the gates stop.

Every version here is a real commit on top of the one under test (infralab/changes.py), built and
shipped by the code behind `make deploy` and `make rollback`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from infralab import deploy
from infralab.absence import NoLogLine, NoSentryEvents, NoSlack
from infralab.changes import Edit, commit_change, replacing
from infralab.deploy_events import read_deploy_log
from infralab.drill import Drill
from infralab.jobs import Jobs
from infralab.lab import Lab
from infralab.load import JobLoad, SteadyLoad
from infralab.logs import LogSelector
from infralab.scenario import FAULT, RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = [pytest.mark.failure, pytest.mark.deploy]

CORE = deploy.deployable("core-server")
RUNBOOK = "docs/infra-components/ci-cd.md"
PROPERTIES = "core-server/src/main/resources/application.properties"
# What clients send during every deploy drill: over 50 requests/s through nginx, plus a job every 0.5 s.
TRAFFIC = [("GET", "/api/health"), ("GET", "/api/jobs/stats")]
RATE = 60
# A 5xx answered to a client on /api/ (the access log's status; a retried replica's 502 is upstream_status).
API_5XX = NoLogLine(LogSelector("nginx", regex=r'"status":5\d\d', fields={"route": "api"}))
GRAPHS = (
    Graph("core-server versions (build_info)", ('count by (version) (build_info{job="core-server"})',)),
    Graph("nginx /api requests by status", ('sum by (status) (rate(nginx_http_requests_total{route="api"}[30s]))',)),
)
NOTHING_CRITICAL = NotExpected(
    "a deploy replaces one replica at a time; the other serves: nothing reaches #lab-critical",
    NoSlack(channels=("#lab-critical",)),
)


def _log(message: str) -> None:
    print(f"[deploy] {message}", flush=True)


def _version_on_both(version: str) -> str:
    return f'count(build_info{{job="core-server", version="{version}"}})'


@pytest.fixture
def running(lab: Lab) -> deploy.Release:
    return deploy.current(lab.plan, CORE)


@pytest.fixture
def background() -> Iterator[ThreadPoolExecutor]:
    """A deploy that runs while the drill watches its signals, as a person does."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploy") as pool:
        yield pool


def build(lab: Lab, change: Mapping[str, Edit | str], message: str) -> deploy.Release:
    """The image of a change, built before the drill starts (the deploy then finds it kept)."""
    sha = commit_change(change, message)
    return deploy.build(CORE, sha, lab.plan.by_component()[CORE.name].source, _log)


def _rolled_back(future: Future[deploy.Release]) -> deploy.RolledBackError:
    with pytest.raises(deploy.RolledBackError) as raised:
        future.result(timeout=600)
    return raised.value


def _gate_failure(drill: Drill, gate: str) -> str:
    """The evidence of the failed gate, from the deploy's JSON log lines since the drill began."""
    started = drill.timeline.get(drill.scenario.fault_event).at.isoformat()
    failed = [
        r for r in read_deploy_log() if r["event"] == "gate_failed" and r["ts"] >= started[:23] and r["gate"] == gate
    ]
    return str(failed[-1]["evidence"]) if failed else ""


SCENARIOS = {
    "test_rolling_deploy_and_rollback_fail_no_request": Scenario(
        name="deploy-rolling-core",
        hypothesis=(
            f"A new core-server version rolls out one replica at a time under {RATE} requests/s and a job every "
            "0.5 s: each replica leaves nginx's rotation before it stops and rejoins only after its gates "
            "(healthy, routed, 5xx ratio and p99 over 10 s). No request fails, no job is lost, build_info shows "
            "the new version on both replicas and #lab-deploys gets DeployFinished. `make rollback` then returns "
            "to the previous version the same way, again without a failed request."
        ),
        fault="make deploy s=core-server ref=<a harmless commit on HEAD>, then make rollback s=core-server",
        slo={
            "new version on both replicas in Prometheus": 300,
            "core-1 logs its start on the new version": 300,
            "core-2 logs its start on the new version": 300,
            "DeployFinished in #lab-deploys": 330,
            "previous version on both replicas in Prometheus": 300,
            "every job finished": 120,
        },
        signals={
            SignalKind.METRIC: Expected("new version on both replicas in Prometheus"),
            SignalKind.LOG: Expected("core-1 logs its start on the new version"),
            SignalKind.SENTRY: NotExpected(
                "graceful stops of drained replicas: no request fails, nothing is reported",
                NoSentryEvents(("core-server",)),
            ),
            SignalKind.SLACK: Expected("DeployFinished in #lab-deploys"),
        },
        absences=(
            NotExpected("clients get no 5xx at any point of either rollout", API_5XX),
            NotExpected(
                "a replaced replica's target-down alert is the deploy's own: silenced, no warning either",
                NoSlack(channels=("#lab-critical", "#lab-warning")),
            ),
        ),
        graphs=GRAPHS,
        runbook=f"{RUNBOOK}#배포",
    ),
    "test_version_that_never_becomes_healthy_is_rolled_back": Scenario(
        name="deploy-never-healthy",
        hypothesis=(
            "A core-server version that cannot start (it reads its database URL from DATABASE_URL, which the lab "
            "does not set: Hikari refuses the unresolved `${DATABASE_URL}` as a JDBC URL) fails the healthy "
            "gate on the first replica while that replica is out of nginx's rotation; the "
            "deploy rolls it back by itself, clients see no 5xx, DeployRolledBack reaches #lab-warning and "
            "#lab-deploys, and both replicas run the previous version."
        ),
        fault="make deploy s=core-server ref=<HEAD with spring.datasource.url=${DATABASE_URL}>",
        slo={
            "core-1's target down in Prometheus": 60,
            "the crash in core-1's log (gate evidence)": 240,
            "DeployRolledBack in #lab-warning": 300,
            "DeployRolledBack in #lab-deploys": 300,
            "previous version on both replicas in Prometheus": 300,
            "every job finished": 120,
        },
        signals={
            SignalKind.METRIC: Expected("core-1's target down in Prometheus"),
            SignalKind.LOG: Expected("the crash in core-1's log (gate evidence)"),
            SignalKind.SENTRY: NotExpected(
                "the new version dies while Spring starts, before its Sentry SDK is set up",
                NoSentryEvents(("core-server",)),
            ),
            SignalKind.SLACK: Expected("DeployRolledBack in #lab-warning"),
        },
        absences=(NotExpected("the failing replica is out of rotation: clients get no 5xx", API_5XX), NOTHING_CRITICAL),
        graphs=GRAPHS,
        runbook="docs/observability/alerting.md#deploy-rolled-back",
    ),
}


def test_rolling_deploy_and_rollback_fail_no_request(
    drill: Drill, lab: Lab, lab_http: httpx.Client, jobs: Jobs, running: deploy.Release
) -> None:
    new = build(
        lab,
        {PROPERTIES: replacing("server.shutdown=graceful", "server.shutdown=graceful\n# shipped by a deploy drill")},
        "core-server: a harmless change shipped by the rolling-deploy drill",
    )
    with SteadyLoad(lab_http, TRAFFIC, rate=RATE) as load, JobLoad(jobs, label="deploy-rolling") as job_load:
        drill.fault_by_hand()
        deploy.deploy(lab, lab_http, CORE.name, new.commit, _log)
        drill.timeline.mark("deploy finished")
        drill.timeline.figure("deploy duration", f"{drill.timeline.between(FAULT, 'deploy finished'):.0f}s")
        drill.metric("new version on both replicas in Prometheus", _version_on_both(new.version), lambda v: v == 2)
        for replica in ("core-1", "core-2"):
            drill.log_line(
                f"{replica} logs its start on the new version", replica, "service started", version=new.version
            )
        drill.slack_alert("DeployFinished in #lab-deploys", "DeployFinished", channel="#lab-deploys")
        drill.timeline.mark("rollback started")  # make rollback s=core-server
        deploy.rollback(lab, lab_http, CORE.name, _log)
        drill.timeline.mark("rollback finished")
        drill.timeline.figure(
            "rollback duration", f"{drill.timeline.between('rollback started', 'rollback finished'):.0f}s"
        )
        drill.metric(
            "previous version on both replicas in Prometheus",
            _version_on_both(running.version),
            lambda v: v == 2,
            reference="rollback started",
        )
        drill.recover()  # the rollback was the recovery: what follows is the checklist
    drill.timeline.figure("failed requests", load.summary())
    assert load.achieved_rate >= 50, f"the load fell short of 50 requests/s: {load.summary()}"
    assert not load.failed, f"requests failed during the deploys: {load.failed[:10]}"
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    assert not job_load.refused, f"refused jobs: {job_load.refused[:5]}"
    assert {jobs.get(j)["status"] for j in job_load.accepted} == {"SUCCEEDED"}
    drill.recovered()


def test_version_that_never_becomes_healthy_is_rolled_back(
    drill: Drill,
    lab: Lab,
    lab_http: httpx.Client,
    jobs: Jobs,
    running: deploy.Release,
    background: ThreadPoolExecutor,
) -> None:
    bad = build(
        lab,
        {
            PROPERTIES: replacing(
                "spring.datasource.url=${DB_URL:jdbc:postgresql://postgres:5432/core}",
                "spring.datasource.url=${DATABASE_URL}",
            )
        },
        "core-server: read the database URL from DATABASE_URL (the lab still sets DB_URL)",
    )
    with SteadyLoad(lab_http, TRAFFIC, rate=RATE) as load, JobLoad(jobs, label="deploy-unhealthy"):
        drill.fault_by_hand()
        shipping = background.submit(deploy.deploy, lab, lab_http, CORE.name, bad.commit, _log)
        drill.metric(
            "core-1's target down in Prometheus", 'up{job="core-server", instance="core-1:8081"}', lambda v: v == 0
        )
        rolled_back = _rolled_back(shipping)
        assert rolled_back.failure.gate == "healthy", rolled_back
        drill.timeline.figure("deploy + automatic rollback", f"{rolled_back.seconds:.0f}s")
        evidence = drill.wait_until(
            "the crash in core-1's log (gate evidence)",
            lambda: "'url' must start with" in (e := _gate_failure(drill, "healthy")) and e,
        )
        _log(f"gate evidence: {evidence[:300]}")
        drill.slack_alert("DeployRolledBack in #lab-warning", "DeployRolledBack", channel="#lab-warning")
        drill.slack_alert("DeployRolledBack in #lab-deploys", "DeployRolledBack", channel="#lab-deploys")
        drill.metric(
            "previous version on both replicas in Prometheus", _version_on_both(running.version), lambda v: v == 2
        )
        drill.recover()  # the deploy rolled back by itself: nothing left to revert
    drill.timeline.figure("failed requests", load.summary())
    assert not load.failed, f"requests failed during the deploy: {load.failed[:10]}"
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    drill.recovered()
