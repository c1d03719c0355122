"""memory-leak: core-1 retains memory it never frees, until the fault is reverted."""

from __future__ import annotations

import httpx
import pytest

from infralab.absence import NoSentryEvents
from infralab.drill import Drill
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

HEAP = (
    'sum(jvm_memory_used_bytes{instance="core-1:8081", area="heap"})'
    ' / sum(jvm_memory_max_bytes{instance="core-1:8081", area="heap"} > 0)'
)
WORKING_SET = 'sum(container_memory_working_set_bytes{container_label_com_docker_compose_service="core-1"})'

SCENARIO = Scenario(
    name="memory-leak",
    hypothesis=(
        "core-1 retains 8 MiB/s up to 180 MiB of its 256 MiB heap. The heap share passes 80 %, GC takes a "
        "growing share of time, the container's working set grows; the JVM heap warning reaches #lab-warning "
        "before the heap is exhausted, and clients keep getting 200s. Reverting frees the heap without a restart."
    ),
    fault="chaos.memory on core-1 (8 MiB/s, max 180 MiB)",
    slo={
        "GC pressure in core-1's log": 90,
        "heap over 80% in Prometheus": 60,
        "working set grew in cAdvisor": 60,
        "warning in Slack": 120,
        "heap released": 60,
        "resolved notification in Slack": 90,
    },
    signals={
        SignalKind.METRIC: Expected("heap over 80% in Prometheus"),
        SignalKind.LOG: Expected("GC pressure in core-1's log"),
        SignalKind.SENTRY: NotExpected(
            "a leak fails nothing while the heap has room; running out is the oom-kill drill's subject",
            NoSentryEvents(("core-server", "worker-server", "admin-server")),
        ),
        SignalKind.SLACK: Expected("warning in Slack"),
    },
    graphs=(Graph("core-1 heap share and working set (bytes)", (HEAP, WORKING_SET)),),
    runbook="docs/failure-experiments/memory-leak.md#runbook",
)


def test_a_leaking_replica_warns_before_its_heap_is_gone(drill: Drill, lab_http: httpx.Client) -> None:
    baseline = drill.prometheus.value(WORKING_SET) or 0
    drill.inject("chaos.memory", "core-1", ttl=240, rate_mib_per_second=8, max_mib=180)
    try:
        drill.metric("heap over 80% in Prometheus", HEAP, lambda share: share > 0.8)
        # The symptom in the log: collecting no longer frees the heap (lab.infra.core.jvm.GcPressureLog).
        drill.log_line("GC pressure in core-1's log", "core-1", "heap still full after GC")
        drill.metric("working set grew in cAdvisor", WORKING_SET, lambda now: now > baseline + 100 * 2**20)
        alert = drill.slack_alert("warning in Slack", "JvmHeapHigh", channel="#lab-warning")
        assert "core-1" in alert.title + alert.text
        drill.assert_clients_served(lab_http)
    finally:
        drill.recover()
    drill.metric("heap released", HEAP, lambda share: share < 0.6, reference=RECOVERY)
    drill.recovered()
