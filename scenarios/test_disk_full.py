"""disk-full: a ballast file fills core-1's data disk (a 64 MiB volume) to the last byte."""

from __future__ import annotations

import httpx
import pytest

from infralab.absence import NoSentryEvents
from infralab.drill import Drill
from infralab.scenario import RECOVERY, Expected, Graph, NotExpected, Scenario, SignalKind

pytestmark = pytest.mark.failure

FREE = 'disk_free_bytes{instance="core-1:8081", path="/data"}'

SCENARIO = Scenario(
    name="disk-full",
    hypothesis=(
        "A ballast file larger than core-1's 64 MiB data volume is written. Writes there fail with 'no space "
        "left on device' and core-1 logs it; Micrometer's disk metrics show no free space; the disk-full alert "
        "reaches #lab-critical; the API keeps answering (nothing in the request path writes there). Removing "
        "the ballast frees the disk and every alert resolves."
    ),
    fault="chaos.disk on core-1 (100 MiB into a 64 MiB volume)",
    slo={
        "no space left in core-1's log": 30,
        "disk full in Prometheus": 30,
        "critical alert in Slack": 90,
        "disk free again": 30,
        "resolved notification in Slack": 90,
    },
    signals={
        SignalKind.METRIC: Expected("disk full in Prometheus"),
        SignalKind.LOG: Expected("no space left in core-1's log"),
        SignalKind.SENTRY: NotExpected(
            "no request fails; the failed write is the chaos tool's own, logged at warn",
            NoSentryEvents(("core-server", "worker-server", "admin-server")),
        ),
        SignalKind.SLACK: Expected("critical alert in Slack"),
    },
    graphs=(Graph("core-1 /data free bytes", (FREE,)),),
    runbook="docs/failure-experiments/disk-full.md#runbook",
)


def test_a_full_data_disk_is_alerted_and_freed(drill: Drill, lab_http: httpx.Client) -> None:
    drill.inject("chaos.disk", "core-1", ttl=240, size_mib=100)
    try:
        drill.log_line("no space left in core-1's log", "core-1", "no space left on device")
        drill.metric("disk full in Prometheus", FREE, lambda free: free < 2**20)
        drill.slack_alert("critical alert in Slack", "DiskFull", channel="#lab-critical")
        drill.assert_clients_served(lab_http)
    finally:
        drill.recover()
    drill.metric("disk free again", FREE, lambda free: free > 32 * 2**20, reference=RECOVERY)
    drill.recovered()
