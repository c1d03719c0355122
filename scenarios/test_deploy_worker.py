"""A worker-server deploy while it holds jobs: every job ends, none is lost.

The new version is a real commit on top of the one under test (infralab/changes.py), built and
shipped by the code behind `make deploy`.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from infralab import deploy
from infralab.absence import NoLogLine, NoSentryEvents, NoSlack
from infralab.changes import built, replacing, say
from infralab.drill import Drill
from infralab.jobs import Jobs
from infralab.lab import Lab
from infralab.load import JobLoad
from infralab.logs import LogSelector
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind
from infralab.waiting import wait_until

pytestmark = [pytest.mark.failure, pytest.mark.deploy]

WORKER = deploy.deployable("worker-server")
# Slow enough that jobs queue up on the worker, under ExternalApiLatencyHigh's 500 ms p95.
EXT_API_LATENCY_MS = 300
# Jobs submitted at once just before the deploy: at 8 jobs in parallel and 300 ms each, the worker needs
# about 8 s for them; it queues 100 and throttles the rest (429, retried by core-server), so its SIGTERM
# finds jobs running and queued, and dispatches keep coming while it drains and while it is replaced.
BURST = 200
HELD_BEFORE_DEPLOY = 50  # dispatched and not finished, per core-server's stats
REFUSED_DISPATCHES = (
    'sum(increase(core_dispatch_attempts_total{job="core-server", outcome=~"unavailable|connection_error"}[2m]))'
)

SCENARIO = Scenario(
    name="deploy-worker-in-flight",
    hypothesis=(
        f"A new worker-server version replaces the running one while it holds jobs (ext-api slowed to "
        f"{EXT_API_LATENCY_MS} ms, a burst of {BURST} jobs, then one every 0.5 s). The old worker stops its "
        "intake (core-server's dispatches get 503, then no connection while the new one starts, and are "
        "retried), finishes the jobs it holds within its grace or hands them back, and the new version takes "
        "the rest. Every job ends SUCCEEDED, none is lost; build_info names the new version; DeployFinished "
        "reaches #lab-deploys; the worker's target-down alert is the deploy's own and stays silenced."
    ),
    fault=(
        f"make deploy s=worker-server ref=<a harmless commit on HEAD> "
        f"(+ network.latency {EXT_API_LATENCY_MS} ms on ext-api, {BURST} jobs at once)"
    ),
    slo={
        "dispatches refused by the replaced worker in Micrometer": 120,
        "core-server retries a dispatch no worker answered": 120,
        "new version in build_info": 120,
        "DeployFinished in #lab-deploys": 180,
        "every job finished": 120,
    },
    signals={
        SignalKind.METRIC: Expected("dispatches refused by the replaced worker in Micrometer"),
        SignalKind.LOG: Expected("core-server retries a dispatch no worker answered"),
        SignalKind.SENTRY: NotExpected(
            "a graceful stop fails no job, and core-server retries a refused dispatch instead of reporting it",
            NoSentryEvents(("worker-server", "core-server", "admin-server")),
        ),
        SignalKind.SLACK: Expected("DeployFinished in #lab-deploys"),
    },
    absences=(
        NotExpected(
            "the replaced worker's target-down alert is the deploy's own: silenced, nothing critical or warning",
            NoSlack(channels=("#lab-critical", "#lab-warning")),
        ),
        *(
            NotExpected(
                f"no job fails ({replica} records every result): the stopping worker finishes or hands back its jobs",
                NoLogLine(LogSelector(replica, contains="job finished", fields={"status": "FAILED"})),
            )
            for replica in ("core-1", "core-2")
        ),
    ),
    graphs=(
        Graph("worker-server versions (build_info)", ('count by (version) (build_info{job="worker-server"})',)),
        Graph("jobs by status (core-server)", ('max by (status) (core_jobs{job="core-server"})',)),
        Graph(
            "dispatch attempts by outcome",
            ('sum by (outcome) (rate(core_dispatch_attempts_total{job="core-server"}[30s]))',),
        ),
    ),
    runbook="docs/infra-components/ci-cd.md#배포",
)


def _held_by_worker(client: httpx.Client) -> int:
    return int(client.get("/api/jobs/stats").json()["counts"]["DISPATCHED"])


def test_worker_deploy_with_jobs_in_flight_loses_none(
    drill: Drill, lab: Lab, lab_http: httpx.Client, jobs: Jobs
) -> None:
    new = built(
        lab,
        WORKER,
        {"worker-server/src/main.rs": replacing("fn main()", "// Shipped by the worker deploy drill.\nfn main()")},
        "worker-server: a harmless change shipped by the in-flight deploy drill",
    )
    drill.inject("network.latency", "ext-api", ttl=240, latency_ms=EXT_API_LATENCY_MS)
    run = uuid.uuid4().hex[:8]
    with JobLoad(jobs, label="deploy-worker") as job_load:
        burst = [jobs.submit({"item": f"deploy-worker-burst-{n}-{run}"}) for n in range(BURST)]
        held = wait_until(
            lambda: (n := _held_by_worker(lab_http)) >= HELD_BEFORE_DEPLOY and n,
            timeout=30,
            what=f"at least {HELD_BEFORE_DEPLOY} jobs dispatched to the worker",
        ).value
        drill.timeline.figure("jobs held by the worker when the deploy began", str(held))
        drill.timeline.mark("deploy started")  # make deploy s=worker-server
        deploy.deploy(lab, lab_http, WORKER.name, new.commit, say)
        drill.timeline.mark("deploy finished")
        drill.timeline.figure("deploy duration", f"{drill.timeline.between('deploy started', 'deploy finished'):.0f}s")
        drill.metric("dispatches refused by the replaced worker in Micrometer", REFUSED_DISPATCHES, lambda v: v > 0)
        # Between the old worker's exit and the new one listening (throttled dispatches say "will retry" too).
        drill.log_line(
            "core-server retries a dispatch no worker answered",
            ("core-1", "core-2"),
            "job dispatch failed; will retry",
            outcome="connection_error",
        )
        drill.metric(
            "new version in build_info",
            f'count(build_info{{job="worker-server", version="{new.version}"}})',
            lambda v: v == 1,
        )
        drill.slack_alert("DeployFinished in #lab-deploys", "DeployFinished", channel="#lab-deploys")
        drill.recover()  # ext-api's latency reverted; the deploy itself is done
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    assert not job_load.refused, f"refused jobs: {job_load.refused[:5]}"
    statuses = {jobs.get(j)["status"] for j in [*burst, *job_load.accepted]}
    assert statuses == {"SUCCEEDED"}, statuses
    drill.timeline.figure("jobs submitted / succeeded", f"{len(burst) + len(job_load.accepted)} / all")
    drill.recovered()
