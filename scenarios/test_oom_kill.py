"""oom-kill: worker-server leaks past its 128 MiB container limit."""

from __future__ import annotations

import pytest

from infralab.absence import NoSentryEvents
from infralab.drill import Drill
from infralab.jobs import Jobs
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

WORKER = 'container_label_com_docker_compose_service="worker-server"'
OOMS = f"sum(increase(container_oom_events_total{{{WORKER}}}[2m]))"
STARTED = 'process_start_time_seconds{job="worker-server"}'

SCENARIO = Scenario(
    name="oom-kill",
    hypothesis=(
        "worker-server retains 32 MiB/s past its 128 MiB limit. The kernel OOM-kills its process, Docker "
        "restarts the container (restart policy), cAdvisor counts the OOM event, the OOM-kill alert reaches "
        "#lab-critical, and the worker is healthy again within seconds - its leak gone with the old process. "
        "Jobs the killed process held are dispatched again by core-server: none is lost."
    ),
    fault="chaos.memory on worker-server (32 MiB/s, max 512 MiB; limit 128 MiB)",
    slo={
        "the worker's restart in its log": 60,
        "OOM kill in cAdvisor": 60,
        "worker restarted": 60,
        "critical alert in Slack": 90,
        "every job finished": 120,
        "resolved notification in Slack": 120,
    },
    signals={
        SignalKind.METRIC: Expected("OOM kill in cAdvisor"),
        SignalKind.LOG: Expected("the worker's restart in its log"),
        SignalKind.SENTRY: NotExpected(
            "a SIGKILLed process cannot report; the kernel's OOM record and the restart are the evidence. "
            "core-server retries its dispatches to the restarting worker instead of reporting them",
            NoSentryEvents(("worker-server", "core-server", "admin-server")),
        ),
        SignalKind.SLACK: Expected("critical alert in Slack"),
    },
    graphs=(
        Graph(
            "worker working set vs limit (bytes)",
            (
                f"sum(container_memory_working_set_bytes{{{WORKER}}})",
                f"max(container_spec_memory_limit_bytes{{{WORKER}}})",
            ),
        ),
    ),
    runbook="docs/failure-experiments/oom-kill.md#runbook",
)


def test_a_worker_past_its_memory_limit_is_killed_and_restarted(drill: Drill, jobs: Jobs) -> None:
    started = drill.prometheus.value(STARTED)
    for n in range(10):
        jobs.submit({"item": f"oom-{n}"})
    drill.inject("chaos.memory", "worker-server", ttl=120, rate_mib_per_second=32, max_mib=512)
    try:
        drill.metric("OOM kill in cAdvisor", OOMS, lambda kills: kills > 0)
        # What `make logs s=worker-server` shows an operator: the same container starting over, unasked.
        drill.log_line("the worker's restart in its log", "worker-server", "worker-server started")
        drill.metric("worker restarted", STARTED, lambda now: started is not None and now > started)
        drill.slack_alert("critical alert in Slack", "ContainerOomKilled", channel="#lab-critical")
    finally:
        drill.recover()
    drill.wait_until("every job finished", lambda: not jobs.unfinished(), reference=RECOVERY)
    drill.recovered()
