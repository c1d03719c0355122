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
from infralab.changes import Edit, built, replacing, say
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
    return built(lab, CORE, change, message)


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


def _rolled_back_before_traffic(
    *, name: str, hypothesis: str, fault: str, evidence: str, no_sentry: str, also: Mapping[str, float] | None = None
) -> Scenario:
    """A version that dies at start on the first replica, out of rotation: the healthy gate and its rollback."""
    return Scenario(
        name=name,
        hypothesis=hypothesis,
        fault=fault,
        slo={
            "core-1's target down in Prometheus": 60,
            evidence: 240,
            "DeployRolledBack in #lab-warning": 300,
            **(also or {}),
            "previous version on both replicas in Prometheus": 300,
            "every job finished": 120,
        },
        signals={
            SignalKind.METRIC: Expected("core-1's target down in Prometheus"),
            SignalKind.LOG: Expected(evidence),
            SignalKind.SENTRY: NotExpected(no_sentry, NoSentryEvents(("core-server",))),
            SignalKind.SLACK: Expected("DeployRolledBack in #lab-warning"),
        },
        absences=(NotExpected("the failing replica is out of rotation: clients get no 5xx", API_5XX), NOTHING_CRITICAL),
        graphs=GRAPHS,
        runbook="docs/observability/alerting.md#deploy-rolled-back",
    )


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
    "test_version_that_never_becomes_healthy_is_rolled_back": _rolled_back_before_traffic(
        name="deploy-never-healthy",
        hypothesis=(
            "A core-server version that cannot start (it reads its database URL from DATABASE_URL, which the lab "
            "does not set: Hikari refuses the unresolved `${DATABASE_URL}` as a JDBC URL) fails the healthy "
            "gate on the first replica while that replica is out of nginx's rotation; the "
            "deploy rolls it back by itself, clients see no 5xx, DeployRolledBack reaches #lab-warning and "
            "#lab-deploys, and both replicas run the previous version."
        ),
        fault="make deploy s=core-server ref=<HEAD with spring.datasource.url=${DATABASE_URL}>",
        evidence="the crash in core-1's log (gate evidence)",
        no_sentry="the new version dies while Spring starts, before its Sentry SDK is set up",
        also={"DeployRolledBack in #lab-deploys": 300},
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
        deploy.deploy(lab, lab_http, CORE.name, new.commit, say)
        drill.timeline.mark("deploy finished")
        drill.timeline.figure("deploy duration", f"{drill.timeline.between(FAULT, 'deploy finished'):.0f}s")
        drill.metric("new version on both replicas in Prometheus", _version_on_both(new.version), lambda v: v == 2)
        for replica in ("core-1", "core-2"):
            drill.log_line(
                f"{replica} logs its start on the new version", replica, "service started", version=new.version
            )
        drill.slack_alert("DeployFinished in #lab-deploys", "DeployFinished", channel="#lab-deploys")
        drill.timeline.mark("rollback started")  # make rollback s=core-server
        deploy.rollback(lab, lab_http, CORE.name, say)
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
        shipping = background.submit(deploy.deploy, lab, lab_http, CORE.name, bad.commit, say)
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
        say(f"gate evidence: {evidence[:300]}")
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


SCENARIOS |= {
    "test_version_failing_a_route_is_caught_by_the_slo_gate": Scenario(
        name="deploy-route-500",
        hypothesis=(
            "A core-server version whose job list (GET /api/jobs) throws (it filters by a job status the code "
            "does not have) passes its healthy gate and its warm-up (health and stats only), rejoins the "
            "rotation and answers clients' list requests with 500. Within its observation window the slo gate "
            "sees the 5xx ratio over the SLO and ends the window early; the deploy rolls back. The errors are "
            "counted by Micrometer, logged by core-1 and reported to Sentry with the bad version's release; "
            "DeployRolledBack reaches #lab-warning; it was too short for any 5xx-ratio alert."
        ),
        fault='make deploy s=core-server ref=<HEAD with JobStatus.valueOf("CANCELLED") in the list route>',
        slo={
            "core-1 logs the exception on the bad version": 180,
            "500s on /api/jobs in Micrometer": 180,
            "IllegalArgumentException in Sentry with the bad release": 180,
            "DeployRolledBack in #lab-warning": 300,
            "previous version on both replicas in Prometheus": 300,
            "every job finished": 120,
        },
        signals={
            SignalKind.METRIC: Expected("500s on /api/jobs in Micrometer"),
            SignalKind.LOG: Expected("core-1 logs the exception on the bad version"),
            SignalKind.SENTRY: Expected("IllegalArgumentException in Sentry with the bad release"),
            SignalKind.SLACK: Expected("DeployRolledBack in #lab-warning"),
        },
        absences=(
            NotExpected(
                "the gate ends the window at its first reading over the SLO: too short for the 5xx-ratio alerts",
                NoSlack(channels=("#lab-critical",), alerts=("HighErrorRatio", "EntryPoint5xxRatioHigh")),
            ),
        ),
        graphs=GRAPHS,
        runbook="docs/observability/alerting.md#deploy-rolled-back",
    ),
    "test_failing_migration_stops_the_deploy_before_traffic": _rolled_back_before_traffic(
        name="deploy-failing-migration",
        hypothesis=(
            "A core-server version with a Flyway migration whose second statement is invalid SQL fails its "
            "migration at start on the first replica, out of nginx's rotation: PostgreSQL rolls the migration's "
            "transaction back (the schema and flyway_schema_history are unchanged), the healthy gate fails, the "
            "deploy rolls back and the old version keeps serving without a 5xx."
        ),
        fault="make deploy s=core-server ref=<HEAD with V3__job_notes.sql: CREATE TABLE ...; ALTER TABLE ... DEFAULT;>",
        evidence="the failed migration in core-1's log (gate evidence)",
        no_sentry="the migration fails while Spring starts, before the Sentry SDK is set up",
    ),
}

CONTROLLER = "core-server/src/main/java/lab/infra/core/jobs/JobController.java"
# Not among the warm-up's paths (deploy.WARM_UP_PATHS): its first requests come from clients, through the slo gate.
LIST = ("GET", "/api/jobs?limit=5")
MIGRATION = "core-server/src/main/resources/db/migration/V3__job_notes.sql"
BROKEN_MIGRATION = """-- Notes on jobs. The second statement is invalid SQL (a DEFAULT without a value).
CREATE TABLE job_notes (job_id bigint PRIMARY KEY, note text NOT NULL);
ALTER TABLE jobs ADD COLUMN note_count integer NOT NULL DEFAULT;
"""
SCHEMA = (
    "select (select string_agg(version || ':' || success, ',' order by installed_rank) from flyway_schema_history)"
    " || ' job_notes=' || coalesce(to_regclass('public.job_notes')::text, 'absent')"
)


def _schema(lab: Lab) -> str:
    return str(lab.container("postgres").execute(["psql", "-U", "core", "-d", "core", "-tAc", SCHEMA])).strip()


def test_version_failing_a_route_is_caught_by_the_slo_gate(
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
            CONTROLLER: replacing(
                "JobStatus statusFilter = null;", 'JobStatus statusFilter = JobStatus.valueOf("CANCELLED");'
            )
        },
        "core-server: list cancelled jobs by default (a status the code does not have)",
    )
    with SteadyLoad(lab_http, [*TRAFFIC, LIST], rate=RATE) as load, JobLoad(jobs, label="deploy-route-500"):
        drill.fault_by_hand()
        shipping = background.submit(deploy.deploy, lab, lab_http, CORE.name, bad.commit, say)
        # First what disappears with the bad container: its own log line.
        drill.log_line(
            "core-1 logs the exception on the bad version", "core-1", "unhandled exception", version=bad.version
        )
        rolled_back = _rolled_back(shipping)
        assert rolled_back.failure.gate == "slo", rolled_back
        drill.timeline.figure("deploy + automatic rollback", f"{rolled_back.seconds:.0f}s")
        drill.metric(
            "500s on /api/jobs in Micrometer",
            # The bad container's counter (gone with it): its highest value over the drill. The exception
            # reached an @ExceptionHandler, so Micrometer's `exception` tag is "none"; Sentry names it.
            'max(max_over_time(http_server_requests_seconds_count{job="core-server", instance="core-1:8081",'
            ' uri="/api/jobs", status="500", outcome="SERVER_ERROR"}[5m]))',
            lambda v: v > 0,
        )
        event = drill.sentry_event(
            "IllegalArgumentException in Sentry with the bad release",
            "core-server",
            exception_type="IllegalArgumentException",
        )
        assert event.release == f"core-server@{bad.version}", event.release
        drill.slack_alert("DeployRolledBack in #lab-warning", "DeployRolledBack", channel="#lab-warning")
        drill.metric(
            "previous version on both replicas in Prometheus", _version_on_both(running.version), lambda v: v == 2
        )
        drill.recover()  # the deploy rolled back by itself
    # What clients saw of the bad version: 500s on its broken route only, while it was in the rotation.
    drill.timeline.figure("failed requests", load.summary())
    assert load.failed, "no client saw the bad version's 500: the drill did not test the slo gate"
    assert {(path, status) for _, path, status in load.failed} <= {(LIST[1], 500)}, load.failed[:10]
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    drill.recovered()


def test_failing_migration_stops_the_deploy_before_traffic(
    drill: Drill,
    lab: Lab,
    lab_http: httpx.Client,
    jobs: Jobs,
    running: deploy.Release,
    background: ThreadPoolExecutor,
) -> None:
    bad = build(lab, {MIGRATION: BROKEN_MIGRATION}, "core-server: notes on jobs (V3 migration)")
    schema_before = _schema(lab)
    assert "job_notes=absent" in schema_before, schema_before
    with SteadyLoad(lab_http, TRAFFIC, rate=RATE) as load, JobLoad(jobs, label="deploy-migration"):
        drill.fault_by_hand()
        shipping = background.submit(deploy.deploy, lab, lab_http, CORE.name, bad.commit, say)
        drill.metric(
            "core-1's target down in Prometheus", 'up{job="core-server", instance="core-1:8081"}', lambda v: v == 0
        )
        rolled_back = _rolled_back(shipping)
        assert rolled_back.failure.gate == "healthy", rolled_back
        drill.timeline.figure("deploy + automatic rollback", f"{rolled_back.seconds:.0f}s")
        drill.wait_until(
            "the failed migration in core-1's log (gate evidence)",
            lambda: "Script V3__job_notes.sql failed" in _gate_failure(drill, "healthy"),
        )
        drill.slack_alert("DeployRolledBack in #lab-warning", "DeployRolledBack", channel="#lab-warning")
        drill.metric(
            "previous version on both replicas in Prometheus", _version_on_both(running.version), lambda v: v == 2
        )
        drill.recover()  # the deploy rolled back by itself
    assert _schema(lab) == schema_before, "the failed migration changed the schema"
    drill.timeline.figure("failed requests", load.summary())
    assert not load.failed, f"requests failed during the deploy: {load.failed[:10]}"
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    drill.recovered()
